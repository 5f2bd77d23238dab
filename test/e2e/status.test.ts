/**
 * `kubeha status` on real machines (the lab, 3 masters carrying control plane + external etcd +
 * HAProxy/keepalived; Kubernetes binaries are the stand-ins): healthy after apply with JSON that
 * validates against status.schema.json; non-zero while a fault is injected (a second VIP holder;
 * a control plane with its plug pulled), zero again once the fault is gone. The kubeconfigs kubeha
 * placed before `kubeadm init`/join are the ones on the masters (kubeha's certificates, checked by
 * fingerprint against the state directory), and status reports each host's certificates from the host.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { parseCluster } from "../../src/spec/read.ts";
import { Ajv } from "ajv";
import { labExec, labStart, labStop, type LabInfo } from "../../src/lab/index.ts";
import { useSharedLab } from "../helpers/e2e-lab.ts";
import { kubeha, REPO, untilOk } from "../helpers/cli.ts";

let lab: LabInfo;
let cwd: string;

const validate = new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(join(REPO, "status.schema.json"), "utf8")));

interface Report {
  healthy: boolean;
  problems: string[];
  /** Hosts (or "certificates") status could not check: exit 4, "could not check". */
  unchecked: string[];
  vip: { holders: string[] };
  certificates: Array<{ host: string; id: string; path: string; status: string; notAfter?: string; daysLeft?: number; sha256?: string; issuedByKubeha?: boolean }>;
}

const sha256 = (pem: string) => new X509Certificate(pem).fingerprint256.replace(/:/g, "").toLowerCase();

function statusJson(): { code: number; report: Report } {
  const r = kubeha(["status", lab.clusterFile, "--output", "json"], { cwd, timeoutMs: 90_000 });
  assert.ok(r.code === 0 || r.code === 1 || r.code === 4, `exit ${r.code}\n${r.stderr}`);
  const report = JSON.parse(r.stdout) as Report;
  assert.ok(validate(report), JSON.stringify(validate.errors, null, 1));
  assert.equal(report.healthy, r.code === 0, "exit code follows the verdict");
  // 4 exactly when something could not be checked (README's exit codes), else 1 when degraded.
  if (r.code !== 0) assert.equal(r.code, report.unchecked.length ? 4 : 1, `exit ${r.code}, unchecked: ${report.unchecked.join(", ")}`);
  return { code: r.code, report };
}

/** Polls (bounded) until status exits 0; returns the last result. */
const untilHealthy = (seconds: number) => untilOk(statusJson, seconds);

// The lab several e2e files share within one test run (test/helpers/e2e-lab.ts).
const NAME = useSharedLab((shared) => {
  ({ lab, cwd } = shared);
});

test("after apply: status exits 0, the table names the VIP holder, the JSON validates", async () => {
  const s = await untilHealthy(30);
  assert.equal(s.code, 0, s.report.problems.join("\n"));
  assert.equal(s.report.vip.holders.length, 1);
  const t = kubeha(["status", lab.clusterFile], { cwd });
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, new RegExp(`cluster ${NAME}: healthy`));
  assert.match(t.stdout, new RegExp(`VIP held by ${s.report.vip.holders[0]}`));
  assert.match(t.stdout, /ETCD MEMBER[\s\S]*leader/);
  assert.match(t.stdout, /Kubernetes 1\.\d+\.\d+ from bundle: .*stand-in/i, "the bundle's description says these are stand-ins");
});

test("the masters run with kubeha's kubeconfigs, and status reports each host's certificates read from the host", async () => {
  const parsed = parseCluster(readFileSync(lab.clusterFile, "utf8"), { sourcePath: lab.clusterFile });
  assert.ok(parsed.cluster, JSON.stringify(parsed.problems));
  const stateDir = parsed.cluster.pki.stateDir;
  const stateCert = (base: string) => sha256(readFileSync(join(stateDir, "pki", `${base}.crt`), "utf8"));
  const want: Record<string, string> = { "admin.conf": "admin", "super-admin.conf": "super-admin", "controller-manager.conf": "controller-manager", "scheduler.conf": "scheduler" };
  const report = statusJson().report;
  // kubeadm writes super-admin.conf only where init ran: master1, unless an earlier file of the
  // shared lab (replace.test.ts) recreated master1, which then joined like the others.
  const superAdmin: string[] = [];
  for (const m of ["master1", "master2", "master3"]) {
    for (const [file, base] of Object.entries(want)) {
      const r = await labExec(NAME, m, ["cat", `/etc/kubernetes/${file}`]);
      if (file === "super-admin.conf") {
        if (r.code !== 0) continue;
        superAdmin.push(m);
      }
      assert.equal(r.code, 0, `${m}:${file}: ${r.stderr}`);
      const kc = parse(r.stdout) as { users: Array<{ user: Record<string, string> }> };
      const pem = Buffer.from(kc.users[0]!.user["client-certificate-data"]!, "base64").toString();
      assert.equal(sha256(pem), stateCert(base), `${m}:${file} carries the state directory's ${base} certificate`);
      const row = report.certificates.find((c) => c.host === m && c.id === file);
      assert.ok(row, `status reports ${m}:${file}`);
      assert.equal(row.sha256, stateCert(base));
      assert.equal(row.issuedByKubeha, true);
      assert.equal(row.notAfter, new Date(new X509Certificate(pem).validTo).toISOString());
    }
    const mode = await labExec(NAME, m, ["stat", "-c", "%a", "/etc/kubernetes/admin.conf"]);
    assert.equal(mode.stdout.trim(), "600");
    // The serving certificate and the external etcd member's, as read on that host.
    const api = report.certificates.find((c) => c.host === m && c.id === "apiserver");
    assert.equal(api?.sha256, stateCert(`hosts/${m}/apiserver`));
    const etcd = report.certificates.find((c) => c.host === m && c.id === "etcd-server");
    assert.equal(etcd?.sha256, stateCert(`hosts/${m}/etcd-server`));
    assert.ok(report.certificates.filter((c) => c.host === m && c.status === "ok").every((c) => (c.daysLeft ?? 0) > 300));
  }
  assert.ok(superAdmin.length <= 1, `super-admin.conf on ${superAdmin.join(", ")}: at most the control plane where init ran`);
  // The table shows the same rows.
  const table = kubeha(["status", lab.clusterFile], { cwd });
  assert.match(table.stdout, /HOST +CERTIFICATE +EXPIRES +DAYS LEFT +STATUS +ISSUED BY/);
  assert.match(table.stdout, /master2 +admin\.conf +\d{4}-\d\d-\d\d +\d+ +ok +kubeha/);
});

test("--watch --count 2 prints two reports, one JSON line each", () => {
  const r = kubeha(["status", lab.clusterFile, "--output", "json", "--watch", "--interval", "1", "--count", "2"], { cwd, timeoutMs: 90_000 });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 2);
  for (const l of lines) assert.ok(validate(JSON.parse(l)), JSON.stringify(validate.errors));
});

test("a second VIP holder: split brain while it lasts, healthy after", async () => {
  const holder = statusJson().report.vip.holders[0]!;
  const other = ["master1", "master2", "master3"].find((m) => m !== holder)!;
  const add = await labExec(NAME, other, ["ip", "addr", "add", `${lab.vip}/32`, "dev", "host0"]);
  assert.equal(add.code, 0, add.stderr);
  try {
    const s = statusJson();
    assert.equal(s.code, 1);
    assert.ok(s.report.problems.some((p) => p.startsWith("split brain") && p.includes(holder) && p.includes(other)), s.report.problems.join("\n"));
  } finally {
    await labExec(NAME, other, ["ip", "addr", "del", `${lab.vip}/32`, "dev", "host0"]);
  }
  const s = await untilHealthy(30);
  assert.equal(s.code, 0, s.report.problems.join("\n"));
});

test("master3 powered off: exit 4 (could not check master3), naming master3; back on: zero again", async () => {
  await labStop(NAME, "master3", { hard: true });
  const down = statusJson();
  assert.equal(down.code, 4);
  assert.deepEqual(down.report.unchecked, ["master3"]);
  assert.ok(down.report.problems.some((p) => p.startsWith("master3: unreachable")), down.report.problems.join("\n"));
  assert.ok(down.report.problems.some((p) => p.startsWith("etcd member master3 ")), down.report.problems.join("\n"));
  const t = kubeha(["status", lab.clusterFile], { cwd, timeoutMs: 90_000 });
  assert.equal(t.code, 4);
  assert.match(t.stdout, /DEGRADED/);
  assert.match(t.stdout, /problem: master3: unreachable/);
  await labStart(NAME, "master3");
  const up = await untilHealthy(90);
  assert.equal(up.code, 0, up.report.problems.join("\n"));
});
