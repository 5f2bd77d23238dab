/**
 * apply and plan ask the control planes which version they run (bounded; hosts that do not answer
 * are left to apply's own phases): a cluster file whose version differs is `kubeha upgrade`'s job.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseCluster } from "../../src/spec/read.ts";
import type { Host } from "../../src/spec/model.ts";
import { ConnectionPool } from "../../src/exec/pool.ts";
import type { RunResult, Transport } from "../../src/exec/transport.ts";
import { versionDrift } from "../../src/ops/upgrade.ts";

const yaml = (version: string) =>
  [
    "apiVersion: kubeha.dev/v1alpha1",
    "kind: Cluster",
    "metadata: { name: drift }",
    "spec:",
    "  hosts:",
    "    - { name: m1, address: 198.18.77.11, roles: [control-plane, etcd, lb] }",
    "    - { name: m2, address: 198.18.77.12, roles: [control-plane, etcd, lb] }",
    "    - { name: m3, address: 198.18.77.13, roles: [control-plane, etcd, lb] }",
    "    - { name: w1, address: 198.18.77.21, roles: [worker] }",
    "  controlPlaneEndpoint: { mode: haproxy-keepalived, vip: 198.18.77.100 }",
    "  etcd: { mode: external }",
    `  kubernetes: { version: ${version} }`,
  ].join("\n");

function cluster(version: string) {
  const r = parseCluster(yaml(version), { home: "/h", sourcePath: "/tmp/drift/cluster.yaml" });
  assert.ok(r.cluster, JSON.stringify(r.problems));
  return r.cluster;
}

/** A pool whose hosts answer `/version` with `answers[host]` (a gitVersion), fail to connect, or hang. */
function pool(answers: Record<string, string | "unreachable" | "hang">, asked: string[]): ConnectionPool {
  return new ConnectionPool({
    connect: async (h: Host): Promise<Transport> => {
      const a = answers[h.name];
      if (a === "unreachable" || a === undefined) throw new Error(`${h.name}: connect ECONNREFUSED`);
      const run = async (cmd: string): Promise<RunResult> => {
        asked.push(`${h.name}: ${cmd}`);
        if (a === "hang") await new Promise(() => {});
        return { code: 0, stdout: JSON.stringify({ gitVersion: a }), stderr: "" };
      };
      return { host: h.name, roundTrips: 0, run, mustRun: run, put: async () => {}, putMany: async () => {}, hashes: async () => new Map(), close: async () => {} } as Transport;
    },
  });
}

test("every control plane at the file's version: no drift (workers are not asked)", async () => {
  const asked: string[] = [];
  const d = await versionDrift(cluster("1.34.2"), pool({ m1: "v1.34.2", m2: "v1.34.2-standin", m3: "v1.34.2" }, asked));
  assert.equal(d, undefined);
  assert.deepEqual(asked.map((a) => a.split(":")[0]).sort(), ["m1", "m2", "m3"]);
  assert.match(asked[0]!, /curl -ks --max-time 3 '?https:\/\/198\.18\.77\.1\d:6443\/version'?$/);
});

test("the file asks for a newer version than the control planes run: drift names what runs where", async () => {
  const d = await versionDrift(cluster("1.35.0"), pool({ m1: "v1.35.0", m2: "v1.34.2-standin", m3: "unreachable" }, []));
  assert.deepEqual([...(d?.running ?? [])].sort(), [["m1", "1.35.0"], ["m2", "1.34.2"]]);
});

test("a new cluster (nothing answers) and a hanging host: no drift, within the bound", async () => {
  assert.equal(await versionDrift(cluster("1.35.0"), pool({ m1: "unreachable", m2: "unreachable", m3: "unreachable" }, [])), undefined);
  const t0 = Date.now();
  const d = await versionDrift(cluster("1.35.0"), pool({ m1: "hang", m2: "v1.35.0", m3: "v1.35.0" }, []), { timeoutMs: 300 });
  const took = Date.now() - t0;
  assert.equal(d, undefined);
  // The hanging host never answers: returning at all means the 300 ms bound ended the wait, and
  // not before it.
  assert.ok(took >= 295, `took ${took} ms`);
});
