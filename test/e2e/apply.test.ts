/**
 * End to end on real machines (the lab): plan -> apply -> the cluster is healthy -> plan shows no
 * changes -> a second apply changes nothing; then a worker powered off mid-apply makes apply fail
 * with a clear per-host error, and a re-run after it is back converges with etcd still 3 members.
 * Kubernetes binaries are the stand-ins from test/standins (an offline bundle); everything else is
 * real: ssh, systemd, apt through the lab's proxy, haproxy, keepalived, etcd with mutual TLS.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { labDown, labExec, labStart, labStop, labUp, type LabInfo } from "../../src/lab/index.ts";
import { kubeha, REPO } from "../helpers/cli.ts";
import { parseServersState } from "../../src/probe/status.ts";

const NAME = "kt-e2e";
const SUBNET = "198.19.249.0/24";
let lab: LabInfo;
let cwd: string;

const sh = async (m: string, cmd: string) => labExec(NAME, m, ["bash", "-c", cmd], { timeoutMs: 30_000 });

before(async () => {
  await labDown(NAME); // a lab left by a killed run
  cwd = mkdtempSync(join(tmpdir(), "kubeha-e2e-"));
  lab = await labUp({ name: NAME, subnet: SUBNET, masters: 3, workers: 2, cwd, bundle: join(REPO, "test/standins/bundle") });
});

after(async () => {
  const left = await labDown(NAME);
  assert.deepEqual(left, [], "lab down left something behind");
  rmSync(cwd, { recursive: true, force: true });
});

async function vipHolders(): Promise<string[]> {
  const out: string[] = [];
  for (const m of ["master1", "master2", "master3"]) if ((await sh(m, `ip -o -4 addr show to ${lab.vip}/32`)).stdout.trim()) out.push(m);
  return out;
}

async function assertHealthy(): Promise<void> {
  assert.equal((await vipHolders()).length, 1, "exactly one machine holds the VIP");
  for (const m of ["master1", "master2", "master3"]) {
    // HAProxy's runtime API: every apiserver backend UP (srv_op_state 2) on every LB host.
    const stat = await sh(m, "echo 'show servers state' | socat stdio UNIX-CONNECT:/run/haproxy/admin.sock");
    const up = parseServersState(stat.stdout.split("\n")).filter((b) => b.state === "UP").map((b) => b.address);
    assert.deepEqual(up.sort(), lab.machines.filter((x) => x.name.startsWith("master")).map((x) => x.address).sort(), `${m}: haproxy backends up\n${stat.stdout}`);
    const r = await sh(m, `curl -s --cacert /etc/kubernetes/pki/ca.crt -o /dev/null -w '%{http_code}' https://${lab.vip}:8443/readyz`);
    assert.equal(r.stdout, "200", `${m}: /readyz through the VIP with certificate verification`);
  }
  const health = await sh(
    "master1",
    `ETCDCTL_API=3 etcdctl --endpoints=https://${lab.machines[0]!.address}:2379 --cacert=/etc/etcd/pki/ca.crt --cert=/etc/etcd/pki/healthcheck-client.crt --key=/etc/etcd/pki/healthcheck-client.key member list`,
  );
  assert.equal(health.code, 0, health.stderr);
  assert.equal(health.stdout.trim().split("\n").filter((l) => l.includes("started")).length, 3, "3 etcd members started");
}

test("plan lists changes on fresh machines and touches nothing", () => {
  const r = kubeha(["plan", lab.clusterFile, "--output", "plain"], { cwd, timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /dry run: \d+ changes would be made/);
  assert.match(r.stdout, /master1:\n[\s\S]*kubeadm init/);
  assert.match(r.stdout, /worker2:\n[\s\S]*kubeadm join/);
});

test("apply builds the cluster", async () => {
  const r = kubeha(["apply", lab.clusterFile, "--output", "plain"], { cwd, timeoutMs: 15 * 60_000 });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /stand-in/i, "the bundle's description says these are stand-ins");
  await assertHealthy();
});

test("plan after apply reports no changes, and a second apply is a no-op", () => {
  const p = kubeha(["plan", lab.clusterFile, "--output", "plain"], { cwd });
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, /no changes: the cluster is converged/);
  const a = kubeha(["apply", lab.clusterFile, "--output", "plain"], { cwd });
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /no changes: the cluster was already converged/);
});

test("a worker powered off during apply: clear per-host error, then a re-run converges", async () => {
  await sh("worker2", "kubeadm reset -f >/dev/null 2>&1; rm -f /etc/kubernetes/kubelet.conf");
  await labStop(NAME, "worker2", { hard: true });
  const r = kubeha(["apply", lab.clusterFile, "--output", "plain"], { cwd, timeoutMs: 5 * 60_000 });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /worker2/);
  assert.match(r.stderr, /hint: /);
  await labStart(NAME, "worker2");
  const again = kubeha(["apply", lab.clusterFile, "--output", "plain"], { cwd, timeoutMs: 10 * 60_000 });
  assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
  assert.match(again.stdout, /worker2:[\s\S]*kubeadm join/);
  assert.doesNotMatch(again.stdout, /kubeadm init/, "never re-inits an initialized control plane");
  await assertHealthy();
});
