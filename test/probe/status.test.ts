/**
 * The status parser and evaluator on outputs captured from a lab (3 masters carrying
 * control plane + external etcd + HAProxy/keepalived): healthy, a second VIP holder, an apiserver
 * backend down, an etcd member down, a host unreachable, and certificates expiring/expired.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv } from "ajv";
import { parseCluster } from "../../src/spec/read.ts";
import { evaluate, parseServersState, parseStatus, renderStatus, statusScript, type Observations } from "../../src/probe/status.ts";
import type { CertStatus } from "../../src/pki/index.ts";
import { issueCA } from "../../src/pki/x509.ts";

const DIR = fileURLToPath(new URL("./fixtures/", import.meta.url));
const REPO = fileURLToPath(new URL("../..", import.meta.url));
const parsed = parseCluster(readFileSync(join(DIR, "cluster.yaml"), "utf8"), { sourcePath: join(DIR, "cluster.yaml") });
assert.ok(parsed.cluster, JSON.stringify(parsed.problems));
const cluster = parsed.cluster;
const MASTERS = ["master1", "master2", "master3"];

const certs: CertStatus[] = [
  { id: "ca", name: "ca", kind: "ca", purpose: "cluster CA", status: "ok", daysLeft: 3650 },
  { id: "apiserver/master1", name: "apiserver", host: "master1", kind: "leaf", purpose: "serving", status: "ok", daysLeft: 364, sha256: "ab".repeat(32) },
  { id: "sa", name: "sa", kind: "key-pair", purpose: "service accounts", status: "ok" },
];

const NOW = Date.parse("2026-06-01T00:00:00Z");

function observe(tag: string, override: Observations["hosts"] = {}, certificates: Observations["certificates"] = certs, now = NOW): Observations {
  const hosts: Observations["hosts"] = {};
  for (const m of MASTERS) hosts[m] = { output: readFileSync(join(DIR, `${tag}-${m}.txt`), "utf8") };
  return { hosts: { ...hosts, ...override }, certificates, now };
}

/** A certificate valid until 2027-01-01; its fingerprint is taken with openssl, not the library status uses. */
const work = mkdtempSync(join(tmpdir(), "kubeha-status-certs-"));
after(() => rmSync(work, { recursive: true, force: true }));
const PEM = (await issueCA({ cn: "kube-apiserver", o: [], isCA: true, extUsages: [], dns: [], ips: [] }, "ecdsa-p256", new Date("2026-01-01T00:00:00Z"), 365)).cert!;
writeFileSync(join(work, "c.pem"), PEM);
const SHA = execFileSync("openssl", ["x509", "-noout", "-fingerprint", "-sha256", "-in", join(work, "c.pem")], { encoding: "utf8" }).trim().replace(/^.*=/, "").replace(/:/g, "").toLowerCase();

/** master1's healthy output with a `@@certs` section: its apiserver certificate and a missing admin.conf. */
function withCerts(): Observations["hosts"] {
  const base = readFileSync(join(DIR, "healthy-master1.txt"), "utf8");
  const certsSection = `@@certs\n=apiserver /etc/kubernetes/pki/apiserver.crt\n${PEM}=admin.conf /etc/kubernetes/admin.conf\n!missing\n`;
  return { master1: { output: base.replace("@@end", certsSection + "@@end") } };
}

const validate = new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(join(REPO, "status.schema.json"), "utf8")));
function assertValid(report: unknown): void {
  assert.ok(validate(JSON.parse(JSON.stringify(report))), JSON.stringify(validate.errors, null, 1));
}

test("the script asks only what each host runs, and is read-only", () => {
  const s = statusScript(cluster, cluster.hosts[0]!);
  for (const want of ["@@units", "@@vip", "@@haproxy", "show servers state", "endpoint status -w json --cluster", "@@readyz", "@@readyzendpoint", "@@end"]) assert.ok(s.includes(want), want);
  assert.doesNotMatch(s, /systemctl (start|stop|restart)|rm -rf|> ?\/etc/);
});

test("healthy: exactly one VIP holder, every backend UP, etcd with a leader, readyz 200", () => {
  const r = evaluate(cluster, observe("healthy"));
  assert.deepEqual(r.problems, []);
  assert.equal(r.healthy, true);
  assert.deepEqual(r.vip.holders, ["master1"]);
  assert.equal(r.haproxy.length, 3);
  for (const h of r.haproxy) assert.deepEqual(h.backends.map((b) => `${b.server}=${b.state}`), ["master1=UP", "master2=UP", "master3=UP"]);
  assert.equal(r.etcd.leader, "master1");
  assert.deepEqual(r.etcd.members.map((m) => [m.name, m.healthy, m.leader]), [["master1", true, true], ["master2", true, false], ["master3", true, false]]);
  assert.equal(r.etcd.members[0]!.dbSizeBytes, 86016);
  assert.ok(r.etcd.members.every((m) => (m.raftIndex ?? 0) >= 498), "raft index from etcdctl endpoint status");
  assert.equal(r.apiserver.filter((a) => a.via === "direct").length, 3);
  assert.equal(r.apiserver.filter((a) => a.via === "endpoint").length, 3);
  assert.ok(r.apiserver.every((a) => a.code === 200));
  assert.deepEqual(r.certificates, [], "outputs without a @@certs section report no host certificates");
  assert.deepEqual(r.hosts.map((h) => h.services.map((s) => s.name).join(",")), Array(3).fill("haproxy,keepalived,etcd,containerd,kubelet"));
  assertValid(r);
  const text = renderStatus(r);
  assert.match(text, /cluster kt-status: healthy/);
  assert.match(text, /VIP held by master1/);
  assert.match(text, /Kubernetes 1\.34\.2 from bundle/);
  const withBundle = evaluate(cluster, { ...observe("healthy"), bundleDescription: "STAND-INS for testing" });
  assert.match(renderStatus(withBundle), /from bundle: STAND-INS for testing/);
  assertValid(withBundle);
  assert.equal(text, renderStatus(evaluate(cluster, observe("healthy"))), "deterministic");
});

test("two VIP holders is a split-brain problem naming both", () => {
  const r = evaluate(cluster, observe("two-vips"));
  assert.equal(r.healthy, false);
  assert.deepEqual(r.vip.holders, ["master1", "master2"]);
  assert.ok(r.problems.some((p) => /split brain/.test(p) && /master1, master2/.test(p)), r.problems.join("\n"));
  assertValid(r);
});

test("an apiserver down: its backend DOWN on every LB, its /readyz fails", () => {
  const r = evaluate(cluster, observe("backend-down"));
  assert.equal(r.healthy, false);
  for (const h of MASTERS) assert.ok(r.problems.includes(`${h}: HAProxy backend kube-apiserver/master2 (198.19.246.12) is DOWN`), r.problems.join("\n"));
  assert.ok(r.problems.includes("master2: apiserver /readyz did not answer"), r.problems.join("\n"));
  assert.ok(r.problems.every((p) => p.includes("master2")), r.problems.join("\n"));
  assert.match(renderStatus(r), /DEGRADED/);
  assertValid(r);
});

test("an etcd member down: named unhealthy, the others keep the leader", () => {
  const r = evaluate(cluster, observe("etcd-down"));
  assert.equal(r.healthy, false);
  assert.ok(r.problems.includes("master3: etcd is inactive"), r.problems.join("\n"));
  assert.ok(r.problems.some((p) => /^etcd member master3 .* unhealthy: context deadline exceeded$/.test(p)), r.problems.join("\n"));
  assert.deepEqual(r.etcd.members.map((m) => m.healthy), [true, true, false]);
  assert.equal(r.etcd.leader, "master1");
  assertValid(r);
});

test("an unreachable host is a problem, not a crash", () => {
  const r = evaluate(cluster, observe("healthy", { master3: { error: "connect EHOSTUNREACH 198.19.246.13:22" } }));
  assert.equal(r.healthy, false);
  assert.deepEqual(r.problems, ["master3: unreachable (connect EHOSTUNREACH 198.19.246.13:22)"]);
  assert.equal(r.hosts[2]!.reachable, false);
  assert.match(renderStatus(r), /master3 .* NO /);
  assertValid(r);
  const truncated = evaluate(cluster, observe("healthy", { master2: { output: "@@units\nhaproxy active\n" } }));
  assert.ok(truncated.problems.some((p) => /^master2: status output is incomplete/.test(p)));
});

test("host certificates: expiry counted from the hosts' files; expiring and missing warn, expired and a missing state directory are problems", () => {
  const day = 86_400_000;
  const r = evaluate(cluster, observe("healthy", withCerts()));
  assert.equal(r.healthy, true, r.problems.join("\n"));
  assert.deepEqual(r.certificates.map((c) => [c.host, c.id, c.path, c.status]), [
    ["master1", "apiserver", "/etc/kubernetes/pki/apiserver.crt", "ok"],
    ["master1", "admin.conf", "/etc/kubernetes/admin.conf", "missing"],
  ]);
  const api = r.certificates[0]!;
  assert.equal(api.notAfter, "2027-01-01T00:00:00.000Z");
  assert.equal(api.daysLeft, 214);
  assert.equal(api.subject, "CN=kube-apiserver");
  assert.equal(api.sha256, SHA);
  assert.equal(api.issuedByKubeha, false, "the state directory's apiserver/master1 is another certificate");
  assert.deepEqual(r.warnings, [
    "master1: /etc/kubernetes/pki/apiserver.crt is not the certificate kubeha issued (kubeha apply places its own)",
    "master1: /etc/kubernetes/admin.conf does not exist",
  ]);
  assertValid(r);
  const table = renderStatus(r);
  assert.match(table, /master1 +apiserver +2027-01-01 +214 +ok +OTHER/);
  assert.match(table, /master1 +admin\.conf +- +- +missing +-/);

  const ours = certs.map((x) => (x.id === "apiserver/master1" ? { ...x, sha256: SHA } : x));
  const soon = evaluate(cluster, observe("healthy", withCerts(), ours, Date.parse("2027-01-01T00:00:00Z") - 9.5 * day));
  assert.equal(soon.healthy, true);
  assert.equal(soon.certificates[0]!.issuedByKubeha, true);
  assert.deepEqual(soon.warnings.filter((w) => /expires/.test(w)), ["master1: certificate apiserver (/etc/kubernetes/pki/apiserver.crt) expires in 9 days"]);
  const gone = evaluate(cluster, observe("healthy", withCerts(), ours, Date.parse("2027-01-03T12:00:00Z")));
  assert.deepEqual(gone.problems, ["master1: certificate apiserver (/etc/kubernetes/pki/apiserver.crt) expired 3 days ago"]);
  assert.equal(gone.certificates[0]!.status, "expired");
  assertValid(gone);
  const none = evaluate(cluster, observe("healthy", {}, { error: "no state directory" }));
  assert.deepEqual(none.problems, ["certificates: no state directory"]);
});

test("servers state: maintenance and unknown op states", () => {
  const b = parseServersState([
    "1",
    "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state",
    "3 kube-apiserver 2 m2 198.18.0.12 2 1 1 1 4 8 2 0 6 0 0 0 - 6443 - 0 0 - - 0",
    "3 kube-apiserver 1 m1 198.18.0.11 1 0 1 1 4 8 2 0 6 0 0 0 - 6443 - 0 0 - - 0",
  ]);
  assert.deepEqual(b.map((x) => `${x.server}=${x.state}`), ["m1=STARTING", "m2=MAINT"]);
  const noSocat = parseStatus("@@units\nhaproxy active\n@@haproxy\n!socat is not installed\n@@end\n");
  assert.equal(noSocat.haproxy?.error, "socat is not installed");
});

// The same machines in kube-vip mode: the control planes are the VIP candidates, no HAProxy/keepalived.
const kubeVip = parseCluster(
  readFileSync(join(DIR, "cluster.yaml"), "utf8")
    .replace("    mode: haproxy-keepalived\n    vip: 198.19.246.100\n    vipPrefix: 24\n", "    mode: kube-vip\n    vip: 198.19.246.100\n")
    .replaceAll("        - etcd\n        - lb\n", "        - etcd\n"),
  { sourcePath: join(DIR, "cluster.yaml") },
).cluster!;
const withoutVip = (text: string) => text.replace(/@@vip\n[^@]*/, "@@vip\n");

test("kube-vip mode: the control planes are asked for the VIP; healthy with exactly one holder, degraded with none or two", () => {
  assert.equal(kubeVip.endpoint.mode, "kube-vip");
  const s = statusScript(kubeVip, kubeVip.hosts[1]!);
  assert.match(s, /@@vip"; ip -o -4 addr show to 198\.19\.246\.100\/32/);
  assert.doesNotMatch(s, /@@haproxy|keepalived/);

  const one = evaluate(kubeVip, observe("healthy"));
  assert.deepEqual(one.problems, []);
  assert.equal(one.healthy, true);
  assert.deepEqual(one.vip, { mode: "kube-vip", address: "198.19.246.100", port: 6443, holders: ["master1"] });
  assert.deepEqual(one.haproxy, []);
  assert.deepEqual(one.hosts.map((h) => h.services.map((x) => x.name).join(",")), Array(3).fill("etcd,containerd,kubelet"));
  assert.match(renderStatus(one), /endpoint 198\.19\.246\.100:6443 \(kube-vip\): VIP held by master1/);
  assertValid(one);

  const none = evaluate(kubeVip, observe("healthy", { master1: { output: withoutVip(readFileSync(join(DIR, "healthy-master1.txt"), "utf8")) } }));
  assert.equal(none.healthy, false);
  assert.deepEqual(none.vip.holders, []);
  assert.deepEqual(none.problems, ["no host holds the VIP 198.19.246.100"]);

  const two = evaluate(kubeVip, observe("two-vips"));
  assert.equal(two.healthy, false);
  assert.deepEqual(two.vip.holders, ["master1", "master2"]);
  assert.ok(two.problems.some((p) => /^split brain: the VIP 198\.19\.246\.100 is on 2 hosts: master1, master2$/.test(p)), two.problems.join("\n"));
  assertValid(two);
});

test("a host from an Ignition config: a failed install unit is a problem naming the host; installed (marker) or absent is not", () => {
  const base = readFileSync(join(DIR, "healthy-master1.txt"), "utf8");
  const withInstall = (lines: string) => ({ master1: { output: base.replace("@@end", `@@install\n${lines}@@end`) } });
  assert.equal(evaluate(cluster, observe("healthy")).healthy, true, "no @@install section: not an Ignition host");
  const failed = evaluate(cluster, observe("healthy", withInstall("ActiveState=activating\nResult=exit-code\n")));
  assert.equal(failed.healthy, false);
  assert.ok(failed.problems.some((p) => /^master1: kubeha-install\.service failed \(exit-code, activating\): .*journalctl -u kubeha-install/.test(p)), failed.problems.join("; "));
  const running = evaluate(cluster, observe("healthy", withInstall("ActiveState=activating\nResult=success\n")));
  assert.ok(running.problems.some((p) => /^master1: kubeha-install\.service is activating \(the host is still installing/.test(p)), running.problems.join("; "));
  // A later boot skips the unit by its marker: inactive, yet installed.
  assert.equal(evaluate(cluster, observe("healthy", withInstall("ActiveState=inactive\nResult=success\nInstalled=yes\n"))).healthy, true);
  assert.equal(evaluate(cluster, observe("healthy", withInstall("ActiveState=active\nResult=success\nInstalled=yes\n"))).healthy, true);
  assert.match(statusScript(cluster, cluster.hosts[0]!), /echo "@@install"; \[ -e \/etc\/systemd\/system\/kubeha-install\.service \]/);
});
