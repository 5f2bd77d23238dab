/**
 * spec.kubernetes.extraArgs reach kubeadm's ClusterConfiguration in the list form of v1beta4 and
 * the map form of v1beta3, and a file without them renders exactly as before (no empty keys).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parse } from "yaml";
import { parseCluster } from "../../src/spec/read.ts";
import { renderKubeadm } from "../../src/render/kubeadm.ts";
import { FIXTURE_SECRETS } from "./helpers.ts";

const FILE = (version: string, extra: string) => `apiVersion: kubeha.dev/v1alpha1
kind: Cluster
metadata: { name: x }
spec:
  hosts:
    - { name: m1, address: 198.18.0.11, roles: [control-plane, worker] }
  controlPlaneEndpoint: { mode: external, address: 198.18.0.100, hairpin: true }
  kubernetes:
    version: "${version}"
${extra}`;

function clusterConfiguration(version: string, extra: string): Record<string, any> {
  const r = parseCluster(FILE(version, extra));
  assert.ok(r.cluster, JSON.stringify(r.problems));
  const [f] = renderKubeadm(r.cluster, r.cluster.hosts[0]!, FIXTURE_SECRETS);
  const docs = f!.content.split(/^---$/m).map((d) => parse(d)).filter(Boolean);
  return docs.find((d) => d.kind === "ClusterConfiguration");
}

const EXTRA = `    extraArgs:
      apiServer: { event-ttl: 2h, audit-log-maxage: "30" }
      scheduler: { bind-address: 127.0.0.1 }
`;

test("v1beta4: extraArgs as name/value lists, sorted by name", () => {
  const cc = clusterConfiguration("1.34.2", EXTRA);
  assert.deepEqual(cc.apiServer.extraArgs, [{ name: "audit-log-maxage", value: "30" }, { name: "event-ttl", value: "2h" }]);
  assert.deepEqual(cc.scheduler, { extraArgs: [{ name: "bind-address", value: "127.0.0.1" }] });
});

test("v1beta3: extraArgs as a map", () => {
  const cc = clusterConfiguration("1.30.5", EXTRA);
  assert.deepEqual(cc.apiServer.extraArgs, { "audit-log-maxage": "30", "event-ttl": "2h" });
  assert.deepEqual(cc.scheduler, { extraArgs: { "bind-address": "127.0.0.1" } });
});

test("no extraArgs: no extraArgs or scheduler key at all", () => {
  const cc = clusterConfiguration("1.34.2", "");
  assert.deepEqual(Object.keys(cc.apiServer), ["certSANs"]);
  assert.equal("scheduler" in cc, false);
});
