/**
 * Bench variant of test/e2e/stacked-etcd.test.ts (kept out of CI's run for time: the same
 * replacement with external etcd is test/e2e/replace.test.ts): on a lab of 3 masters with STACKED
 * etcd (kubeadm's etcd static pods running the real etcd, the Kubernetes binaries stand-ins), a
 * destroyed master replaced by `apply` under load: its dead member removed first, the fresh machine
 * joins as a new member, the others keep their ids, no acknowledged etcd write lost.
 *   sudo bash bench/e2e-variants.sh
 * Lab name and subnet: KUBEHA_E2E_STACKED_REPLACE_LAB / _SUBNET (default kt-stkr, 198.19.231.0/24).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { loadCluster } from "../../src/spec/read.ts";
import type { Cluster } from "../../src/spec/model.ts";
import { labRecreate, type LabInfo } from "../../src/lab/index.ts";
import { startLoad, loadSummary } from "../../src/drill/load.ts";
import type { RunEvent } from "../../src/report/events.ts";
import { dropLab, freshLab, type E2eLab } from "../../test/helpers/e2e-lab.ts";
import { kubehaLive } from "../../test/helpers/cli.ts";
import { failureKinds, stackedLab } from "../../test/helpers/stacked.ts";

const NAME = process.env.KUBEHA_E2E_STACKED_REPLACE_LAB ?? "kt-stkr";
const SUBNET = process.env.KUBEHA_E2E_STACKED_REPLACE_SUBNET ?? "198.19.231.0/24";
/** Per-probe limit: the API server stand-in is Python on a shared 2-core machine (see certs-renew.test.ts). */
const PROBE_TIMEOUT_MS = Number(process.env.KUBEHA_E2E_RENEW_PROBE_TIMEOUT_MS ?? 3000);

let e2e: E2eLab | undefined;
let lab: LabInfo;
let cwd: string;
let cluster: Cluster;
let L: ReturnType<typeof stackedLab>;

before(async () => {
  e2e = await freshLab({ name: NAME, subnet: SUBNET, masters: 3, workers: 0, etcd: "stacked", apply: true });
  ({ lab, cwd } = e2e);
  cluster = (await loadCluster(lab.clusterFile)).cluster;
  assert.equal(cluster.etcd.mode, "stacked");
  L = stackedLab(NAME, lab, cluster, cwd);
});

after(() => dropLab(NAME, e2e?.cwd));

test("a destroyed master replaced by apply: its dead member removed, the fresh machine joins as a new member", async () => {
  const old = await L.members("master1");
  L.assertThreeStarted(old);
  await labRecreate(NAME, "master3");
  const load = await startLoad(cluster, { timeoutMs: PROBE_TIMEOUT_MS });
  const t0 = Date.now();
  let changes: string[] = [];
  try {
    const a = await kubehaLive(["apply", lab.clusterFile, "--output", "json"], { cwd, timeoutMs: 10 * 60_000, lines: "stdout" }, () => undefined);
    assert.equal(a.code, 0, `${a.stderr}\n${a.stdout.slice(-3000)}`);
    const events = a.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as RunEvent);
    changes = events.flatMap((e) => (e.type === "change" ? [`${e.host}: ${e.message}`] : []));
  } finally {
    const f = await load.stop();
    console.log(`# stacked: replace master3 took ${((Date.now() - t0) / 1000).toFixed(1)} s, ${loadSummary(f)}; failures: ${failureKinds(f.failures)}`);
    assert.ok(f.etcd && f.etcd.acked > 0, loadSummary(f));
    assert.deepEqual(f.etcd.lost, [], "no acknowledged etcd write lost during the replacement");
  }
  const dead = old.find((m) => m.name === "master3")!;
  assert.ok(changes.some((c) => c.startsWith(`master3: etcdctl member remove ${BigInt(dead.id).toString(16)} `)), changes.join("\n"));
  assert.ok(changes.some((c) => c === "master3: kubeadm join --control-plane"), changes.join("\n"));
  assert.ok(!changes.some((c) => /: kubeadm init/.test(c)), changes.join("\n"));
  const now = await L.members("master1");
  L.assertThreeStarted(now);
  assert.notEqual(now.find((m) => m.name === "master3")!.id, dead.id, "a new member for the fresh machine");
  for (const m of old.filter((x) => x.name !== "master3")) assert.ok(now.some((x) => x.id === m.id), `${m.name} kept its member id`);
  const s = await L.untilHealthy(90);
  assert.equal(s.code, 0, s.report.problems.join("\n"));
});
