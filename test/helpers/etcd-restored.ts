/**
 * What a restore from a snapshot must leave, checked the same way on external etcd
 * (test/e2e/etcd-restore.test.ts) and stacked etcd (test/e2e/stacked-etcd.test.ts).
 */
import assert from "node:assert/strict";
import type { ProbeTargets } from "../../src/drill/load.ts";
import { readBack } from "../../src/drill/probes.ts";

export interface RestoredCheck {
  targets: NonNullable<ProbeTargets["etcd"]>;
  /** Prefix of the keys 1..`keys` written before the snapshot: each must read back, with its own number as value. */
  first: string;
  keys: number;
  /** Prefix of the keys written after the snapshot: none may be left. */
  after: string;
  /** Each member's own cluster ID (`endpoint status` against that member), in decimal as etcdctl prints it. */
  clusterIds: () => Promise<string[]>;
  /** The cluster IDs before the restore. */
  idsBefore: readonly string[];
  /** The cluster ID `kubeha etcd restore` reported (hex). */
  reportedClusterId: string;
}

/** Exactly the snapshot's keys, nothing written after it, and one new cluster ID: the one the command reports. */
export async function assertRestoredToSnapshot(o: RestoredCheck): Promise<void> {
  const first = await readBack({ ...o.targets, prefix: o.first, timeoutMs: 5000 });
  assert.deepEqual([...first.keys()].sort((a, b) => a - b), Array.from({ length: o.keys }, (_, i) => i + 1));
  for (const [seq, v] of first) assert.equal(v, String(seq));
  assert.equal((await readBack({ ...o.targets, prefix: o.after, timeoutMs: 5000 })).size, 0, "nothing written after the snapshot");
  const ids = await o.clusterIds();
  assert.equal(new Set(ids).size, 1, `one cluster ID: ${ids.join(", ")}`);
  assert.notEqual(ids[0], o.idsBefore[0], "a new cluster token gives a new cluster ID");
  assert.equal(BigInt(ids[0]!).toString(16), o.reportedClusterId);
}
