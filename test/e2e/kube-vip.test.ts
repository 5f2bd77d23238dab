/**
 * kube-vip mode end to end on real machines: a lab of 3 masters ([control-plane, etcd], external
 * etcd, no lb role) + 1 worker with `endpoint: {mode: kube-vip, vip: .100}`. Kubernetes binaries
 * and kube-vip are the stand-ins from test/standins (kube-vip's stand-in holds the Lease
 * kube-system/plndr-cp-lock through the local apiserver stand-in and puts the VIP on host0);
 * ssh, systemd, etcd, iproute2 and the ARP traffic are real.
 * Asserted: apply converges (it places kube-vip's static pod on every control plane; the joins go
 * through the VIP the first one's kube-vip holds) and leaves the steady manifest, plan then has no changes, `kubeha status` is healthy with exactly one
 * VIP holder among the control planes (the one whose kube-vip logged the Lease), and `kubeha drill`
 * with power-off of the holder and SIGKILL of its kube-vip moves the VIP to another control plane
 * and meets the targets, and the report says stand-in.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { labExec, type LabInfo } from "../../src/lab/index.ts";
import { dropLab, freshLab } from "../helpers/e2e-lab.ts";
import { kubeha, REPO } from "../helpers/cli.ts";
import { loadCluster } from "../../src/spec/read.ts";
import { renderKubeVip } from "../../src/render/kubevip.ts";
import { PATHS } from "../../src/render/paths.ts";
import type { StatusReport } from "../../src/probe/status.ts";
import type { DrillReport, ScenarioResult } from "../../src/drill/types.ts";

const NAME = "khv";
const SUBNET = "198.18.66.0/24";
const MASTERS = ["master1", "master2", "master3"];
let lab: LabInfo;
let cwd: string;

const sh = async (m: string, cmd: string) => labExec(NAME, m, ["bash", "-c", cmd], { timeoutMs: 30_000 });

before(async () => {
  ({ lab, cwd } = await freshLab({ name: NAME, subnet: SUBNET, masters: 3, workers: 1, endpoint: "kube-vip" }));
});

after(() => dropLab(NAME, cwd));

async function holders(): Promise<string[]> {
  const out: string[] = [];
  for (const m of [...MASTERS, "worker1"]) if ((await sh(m, `ip -o -4 addr show to ${lab.vip}/32`)).stdout.trim()) out.push(m);
  return out;
}

test("apply converges with kube-vip holding the VIP; plan has no changes; status is healthy with one holder", async () => {
  const a = kubeha(["apply", lab.clusterFile, "--output", "plain"], { cwd, timeoutMs: 10 * 60_000 });
  assert.equal(a.code, 0, `${a.stdout}\n${a.stderr}`);
  // The joins discover the cluster through the VIP (discovery.bootstrapToken.apiServerEndpoint): only
  // master1's kube-vip can hold it then.
  assert.match(a.stdout, /\[control-plane\/join\] kubeadm join --control-plane/);
  assert.match(a.stdout + a.stderr, /\[master3\] \/readyz 200 directly and through 198\.18\.66\.100:6443/);
  const { cluster } = await loadCluster(lab.clusterFile);
  for (const m of MASTERS) {
    const want = renderKubeVip(cluster, cluster.hosts.find((h) => h.name === m)!).find((f) => f.path === PATHS.kubeVipManifest)!.content;
    assert.equal((await sh(m, `cat ${PATHS.kubeVipManifest}`)).stdout, want, `${m}: apply placed the steady kube-vip manifest (admin.conf)`);
    let state = "";
    for (let i = 0; i < 50 && state !== "active"; i++) {
      state = (await sh(m, "systemctl is-active kube-vip-standin.service")).stdout.trim();
      if (state !== "active") await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(state, "active", `${m}: the kubelet stand-in runs the kube-vip stand-in`);
  }
  const p = kubeha(["plan", lab.clusterFile, "--output", "plain"], { cwd });
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, /no changes: the cluster is converged/);

  const s = kubeha(["status", lab.clusterFile, "--output", "json"], { cwd, timeoutMs: 60_000 });
  const report = JSON.parse(s.stdout) as StatusReport;
  assert.deepEqual(report.problems, [], s.stdout);
  assert.equal(s.code, 0);
  assert.equal(report.vip.mode, "kube-vip");
  assert.equal(report.vip.holders.length, 1);
  const [holder] = report.vip.holders;
  assert.ok(MASTERS.includes(holder!), `a control plane holds the VIP: ${holder}`);
  assert.deepEqual(await holders(), [holder], "the machines agree with status");
  assert.match(report.kubernetes.description ?? "", /stand-in/i);
  const log = (await sh(holder!, "journalctl -u kube-vip-standin.service --no-pager -o cat")).stdout;
  assert.match(log, /\[stand-in kube-vip\] successfully acquired lease kube-system\/plndr-cp-lock/);
  assert.match(log, /via https:\/\/kubernetes:6443 \(127\.0\.0\.1\)/, "kube-vip talks to its local apiserver");
  // Through the VIP, the API answers with a certificate valid for it.
  const r = await sh("worker1", `curl -s --cacert /etc/kubernetes/pki/ca.crt https://${lab.vip}:6443/readyz`);
  assert.match(r.stdout, /^ok/, r.stderr);
});

test("drill: the VIP holder powered off and its kube-vip SIGKILLed: the VIP moves to another control plane, targets met", () => {
  const html = join(cwd, "out", "drill.html");
  const r = kubeha(
    ["drill", lab.clusterFile, "--lab", NAME, "--scenario", "lb-machine-down,kube-vip-crash", "--rate", "20", "--max-hold", "30", "--report", html],
    { cwd, timeoutMs: 10 * 60_000 },
  );
  mkdirSync(join(REPO, "test-output"), { recursive: true });
  writeFileSync(join(REPO, "test-output", "kube-vip-drill-e2e.txt"), r.stdout + "\n" + r.stderr);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /STAND-INS/, "the drill says the control plane is stand-ins");
  const report = JSON.parse(readFileSync(join(cwd, "out", "drill.json"), "utf8")) as DrillReport;
  assert.match(report.standIn ?? "", /stand-in/i);
  assert.deepEqual(report.scenarios.map((s) => s.scenario), ["lb-machine-down", "kube-vip-crash"]);
  for (const s of report.scenarios as ScenarioResult[]) {
    assert.deepEqual(s.problems, [], `${s.scenario}: drill problems`);
    for (const c of s.checks) assert.ok(c.ok, `${s.scenario}: ${c.name}: ${c.detail}`);
    const [target] = s.targets;
    assert.ok(MASTERS.includes(target!), `${s.scenario} hit a control plane`);
    assert.notEqual(s.figures.vipMovedMs, null, `${s.scenario}: the VIP moved`);
    assert.ok(s.vip.some((e) => e.holders.length === 1 && e.holders[0] !== target && MASTERS.includes(e.holders[0]!)), `${s.scenario}: another control plane took the VIP`);
    assert.equal(s.vip[s.vip.length - 1]!.holders.length, 1, `${s.scenario}: one holder at the end`);
    assert.equal(s.figures.etcdLost, 0);
  }
  const crash = report.scenarios.find((s) => s.scenario === "kube-vip-crash")!;
  assert.ok(crash.figures.splitBrainMs > 0, "the killed kube-vip's address stayed until the kubelet restarted it");
  assert.equal(kubeha(["status", lab.clusterFile], { cwd, timeoutMs: 60_000 }).code, 0, "healthy after the drill");
});
