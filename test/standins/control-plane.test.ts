/**
 * The kube-controller-manager and kube-scheduler stand-ins. Asserted: their flag data file is the one
 * generated from kubeha's flag tables; they refuse unknown flags (and flags the bundle's minor does
 * not have yet) with pflag's text, missing and unreadable files, a kubeconfig whose CA does not verify
 * the server; every line they print says stand-in. Against the kube-apiserver stand-in on 127.0.0.1:
 * the scheduler's user may not read the controller-manager's Lease (bootstrap RBAC); one
 * controller-manager holds the Lease as `<hostname>_<uuid>`, a second waits; the leader's SIGTERM does
 * not release it, the follower takes over once it expired; the scheduler from a
 * KubeSchedulerConfiguration holds its own Lease.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:tls";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { BIN, LIB, apiserverPki, freePort, runPy } from "./helpers.ts";
import { generateStandinFlags } from "../../scripts/gen-standin-flags.ts";

let work: string;
const openssl = (args: string[]) => execFileSync("openssl", args, { stdio: "ignore", cwd: work });

function clientCert(name: string, cn: string): void {
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`]);
  writeFileSync(join(work, `${name}.ext`), "extendedKeyUsage=clientAuth\n");
  openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.crt`, "-days", "1", "-extfile", `${name}.ext`]);
}

function kubeconfig(file: string, server: string, caFile: string, cert: string): void {
  const b64 = (f: string) => readFileSync(join(work, f)).toString("base64");
  writeFileSync(
    join(work, file),
    stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "kubernetes", cluster: { server, "certificate-authority-data": b64(caFile) } }],
      contexts: [{ name: "c", context: { cluster: "kubernetes", user: "u" } }],
      "current-context": "c",
      users: [{ name: "u", user: { "client-certificate-data": b64(`${cert}.crt`), "client-key-data": b64(`${cert}.key`) } }],
    }),
    { mode: 0o600 },
  );
}

let apiPort: number;

before(async () => {
  work = mkdtempSync(join(tmpdir(), "kubeha-cp-standins-"));
  apiserverPki(work);
  clientCert("cm", "system:kube-controller-manager");
  clientCert("sched", "system:kube-scheduler");
  apiPort = await freePort();
  kubeconfig("cm.conf", `https://127.0.0.1:${apiPort}`, "ca.crt", "cm");
  kubeconfig("sched.conf", `https://127.0.0.1:${apiPort}`, "ca.crt", "sched");
  writeFileSync(
    join(work, "sched.yaml"),
    stringify({
      apiVersion: "kubescheduler.config.k8s.io/v1",
      kind: "KubeSchedulerConfiguration",
      clientConnection: { kubeconfig: join(work, "sched.conf") },
      leaderElection: { leaderElect: true, leaseDuration: "3s", renewDeadline: "2s", retryPeriod: "500ms" },
    }),
  );
  writeFileSync(join(work, "not-pem.crt"), "hello\n");
  mkdirSync(join(work, "a-dir"));
});

after(() => rmSync(work, { recursive: true, force: true }));

test("the stand-ins' flag data is generated from kubeha's flag tables (scripts/gen-standin-flags.ts)", () => {
  assert.equal(readFileSync(join(LIB, "standin_flags.json"), "utf8"), generateStandinFlags(), "stale: run `node --import tsx scripts/gen-standin-flags.ts`");
  // Binary mode's bin/kube-apiserver takes its flag names from the same file.
  const doc = JSON.parse(readFileSync(join(LIB, "standin_flags.json"), "utf8")) as { components: Record<string, { minors: Record<string, string[]> }> };
  assert.deepEqual(Object.keys(doc.components).sort(), ["kube-apiserver", "kube-controller-manager", "kube-scheduler"]);
  assert.ok(doc.components["kube-apiserver"]!.minors["29"]!.includes("enable-bootstrap-token-auth"));
});

const run = (bin: string, args: string[], timeout = 20_000) => {
  const r = spawnSync(join(BIN, bin), args, { encoding: "utf8", timeout, env: { PATH: process.env.PATH!, PYTHONDONTWRITEBYTECODE: "1" } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

test("kube-controller-manager and kube-scheduler stand-ins refuse what the real ones refuse, and say they are stand-ins", () => {
  const cm = (extra: string[]) => run("kube-controller-manager", [`--kubeconfig=${join(work, "cm.conf")}`, "--secure-port=0", ...extra]);
  const cases: Array<[string, ReturnType<typeof run>, RegExp]> = [
    ["unknown flag", cm(["--no-such-flag=1"]), /Error: unknown flag: --no-such-flag$/m],
    ["removed flag (--address, v1.24)", cm(["--address=127.0.0.1"]), /Error: unknown flag: --address$/m],
    ["scheduler: removed --policy-config-file", run("kube-scheduler", ["--policy-config-file=/x"]), /Error: unknown flag: --policy-config-file$/m],
    // On the v1.36 page only and in no ADDED entry: the tables accept it from 1.36, the 1.34 bundle refuses it.
    ["scheduler: a flag newer than the bundle's minor", run("kube-scheduler", ["--tls-curve-preferences=X25519"]), /Error: unknown flag: --tls-curve-preferences$/m],
    ["bad boolean", cm(["--leader-elect=maybe"]), /invalid argument "maybe" for "--leader-elect" flag: strconv.ParseBool/],
    ["missing value", cm(["--cluster-name"]), /Error: flag needs an argument: --cluster-name$/m],
    ["missing kubeconfig", run("kube-controller-manager", ["--kubeconfig=/nonexistent/cm.conf"]), /open \/nonexistent\/cm\.conf: no such file or directory/],
    ["missing signing key", cm([`--cluster-signing-cert-file=${join(work, "ca.crt")}`, "--cluster-signing-key-file=/nonexistent/ca.key"]), /open \/nonexistent\/ca\.key: no such file or directory/],
    ["CA file that is no certificate", cm([`--client-ca-file=${join(work, "not-pem.crt")}`]), /unable to load client CA provider: .*not-pem\.crt: data does not contain any valid RSA or ECDSA certificates/],
    ["service-account key that is a directory", cm([`--service-account-private-key-file=${join(work, "a-dir")}`]), /read .*a-dir: is a directory/],
    ["serving pair that does not match", cm([`--tls-cert-file=${join(work, "apiserver.crt")}`, `--tls-private-key-file=${join(work, "cm.key")}`]), /private key does not match public key/],
    ["bad leader-election timing", cm(["--leader-elect-lease-duration=5s", "--leader-elect-renew-deadline=10s"]), /leaseDuration must be greater than renewDeadline/],
    ["scheduler: old config API", (writeFileSync(join(work, "old.yaml"), "apiVersion: kubescheduler.config.k8s.io/v1beta2\nkind: KubeSchedulerConfiguration\n"), run("kube-scheduler", [`--config=${join(work, "old.yaml")}`])),
      /no kind "KubeSchedulerConfiguration" is registered for version "kubescheduler.config.k8s.io\/v1beta2"/],
    ["scheduler: unknown config field", (writeFileSync(join(work, "typo.yaml"), "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nclientConection: {}\n"), run("kube-scheduler", [`--config=${join(work, "typo.yaml")}`])),
      /strict decoding error: unknown field "clientConection"/],
  ];
  for (const [name, r, want] of cases) {
    assert.equal(r.status, 1, `${name}: exit status (${r.stderr})`);
    assert.match(r.stderr, want, name);
    for (const line of r.stderr.trim().split("\n")) assert.match(line, /^\[stand-in kube-(controller-manager|scheduler)\] /, `${name}: ${line}`);
  }
  assert.match(run("kube-scheduler", ["--version"]).stdout, /^Kubernetes v1\.\d+\.\d+-standin \(kube-scheduler stand-in from kubeha's test tree, not Kubernetes\)/);
  // kubeadm's own scheduler flags (deprecated --kubeconfig included) parse; the file check comes next.
  const kubeadmFlags = ["--authentication-kubeconfig=/nonexistent/s.conf", "--authorization-kubeconfig=/nonexistent/s.conf", "--bind-address=127.0.0.1", "--kubeconfig=/nonexistent/s.conf", "--leader-elect=true"];
  assert.match(run("kube-scheduler", kubeadmFlags).stderr, /^\[stand-in kube-scheduler\] open \/nonexistent\/s\.conf: no such file or directory$/m);
});

test("a kubeconfig whose CA does not verify the API server is refused at start", async () => {
  const key = readFileSync(join(work, "apiserver.key"));
  const cert = readFileSync(join(work, "apiserver.crt"));
  const server = createServer({ key, cert }, (s) => s.end());
  const port = await new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
  try {
    kubeconfig("foreign.conf", `https://127.0.0.1:${port}`, "other-ca.crt", "cm");
    const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      // Asynchronous: the TLS server above must keep answering while the stand-in runs.
      const p = spawn(join(BIN, "kube-controller-manager"), [`--kubeconfig=${join(work, "foreign.conf")}`, "--secure-port=0"], { env: { PATH: process.env.PATH!, PYTHONDONTWRITEBYTECODE: "1" } });
      let stderr = "";
      p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => p.kill("SIGKILL"), 20_000);
      p.on("close", (status) => {
        clearTimeout(timer);
        resolve({ status, stderr });
      });
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /tls: failed to verify certificate: x509: .*the kubeconfig's CA does not verify the API server/);
  } finally {
    server.close();
  }
});

type Step = Record<string, unknown> & { step: string };

test("leader election through the kube-apiserver stand-in: one holder, no release on SIGTERM, take-over after expiry", async () => {
  const ports = [await freePort(), await freePort(), await freePort()];
  const r = spawnSync("python3", [join(import.meta.dirname, "fixtures", "control-plane-leaders.py"), work, String(apiPort), ports.join(",")], {
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
  });
  assert.equal(r.status, 0, r.stderr);
  const steps = new Map(r.stdout.trim().split("\n").map((l) => JSON.parse(l) as Step).map((s) => [s.step, s]));
  assert.deepEqual(steps.get("forbidden"), {
    step: "forbidden",
    status: 403,
    message: 'leases.coordination.k8s.io "kube-controller-manager" is forbidden: User "system:kube-scheduler" cannot get resource "leases" in API group "coordination.k8s.io" in the namespace "kube-system"',
  });
  const first = steps.get("first leader")!;
  assert.ok(typeof first.after === "number", `a first leader (${JSON.stringify(first)})`);
  const id = new RegExp(`^${hostname()}_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`);
  assert.match(first.holder as string, id, "holderIdentity is <hostname>_<uuid>");
  const waits = steps.get("follower waits")!;
  assert.equal(waits.holder, first.holder, "the second controller-manager does not take a live Lease");
  assert.equal((waits.spec as { leaseDurationSeconds: number }).leaseDurationSeconds, 3);
  assert.deepEqual(waits.listed, ["kube-controller-manager"]);
  assert.equal(waits.kind, "LeaseList");
  const term = steps.get("leader SIGTERM")!;
  assert.equal(term.rc, 0);
  assert.equal(term.holder_right_after, first.holder, "SIGTERM does not release the Lease (ReleaseOnCancel is off)");
  assert.match(term.holder as string, id);
  assert.notEqual(term.holder, first.holder);
  // Expired 3 s after the last renewal (at most 0.5 s before the SIGTERM), seen by the follower up to
  // one jittered retry (0.5-1.1 s) late, taken at the next retry: between 2.5 s and ~6 s.
  assert.ok(typeof term.after === "number" && term.after >= 2.4 && term.after < 8, `taken over ${term.after} s after the SIGTERM`);
  assert.equal(term.transitions, 1);
  assert.deepEqual(steps.get("healthz"), { step: "healthz", status: 200, body: "ok" });
  const s = steps.get("scheduler leader")!;
  assert.match(s.holder as string, id);
  assert.equal(s.duration, 3, "leaderElection.leaseDuration from the KubeSchedulerConfiguration");
});

test("kubeadm's static pod command lines (kubeadm stand-in) pass the stand-ins' own flag check, extraArgs included", () => {
  const r = runPy(
    "import json, standin_control as c, standin_control_pods as p, standin_common as common\n" +
      "doc = {'clusterName': 'k', 'networking': {'podSubnet': '10.244.0.0/16', 'serviceSubnet': '10.96.0.0/12'},\n" +
      "       'scheduler': {'extraArgs': [{'name': 'v', 'value': '2'}]}}\n" +
      "minor = int(common.KUBERNETES_VERSION.split('.')[1])\n" +
      "out = {}\n" +
      "for comp in p.COMPONENTS:\n" +
      "    cmd = p.command(comp, doc, '/etc/kubernetes/pki')\n" +
      "    accepted, booleans = c.flag_table(comp, minor)\n" +
      "    out[comp] = {'cmd': cmd, 'opts': c.parse_flags(cmd[1:], accepted, booleans),\n" +
      "                 'found': p.pod_command(p.manifest_text(comp, doc, '/etc/kubernetes/pki', '1.34.2'), comp, 'x') == cmd}\n" +
      "print(json.dumps(out))\n",
  );
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, { cmd: string[]; opts: Record<string, unknown>; found: boolean }>;
  const cm = out["kube-controller-manager"]!;
  assert.equal(cm.opts["leader-elect"], true);
  assert.equal(cm.opts["cluster-cidr"], "10.244.0.0/16");
  assert.equal(cm.opts["controllers"], "*,bootstrapsigner,tokencleaner");
  assert.ok(cm.found, "the kubelet stand-in finds the command in the manifest the kubeadm stand-in writes");
  const s = out["kube-scheduler"]!;
  assert.deepEqual(s.cmd, ["kube-scheduler", "--authentication-kubeconfig=/etc/kubernetes/scheduler.conf", "--authorization-kubeconfig=/etc/kubernetes/scheduler.conf",
    "--bind-address=127.0.0.1", "--kubeconfig=/etc/kubernetes/scheduler.conf", "--leader-elect=true", "--v=2"]);
  assert.ok(s.found);
});
