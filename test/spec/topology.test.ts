/** Topology queries against every example and fixture, and the haproxy-mode client address (seed 000). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseCluster } from "../../src/spec/read.ts";
import { clustersUnderTest, FIXTURE_SECRETS } from "../render/helpers.ts";
import { renderCluster } from "../../src/render/index.ts";
import { PATHS } from "../../src/render/paths.ts";
import { parseAllDocuments } from "yaml";
import {
  components,
  endpointNames,
  etcdMembers,
  keepalivedHosts,
  lbHosts,
  listenPorts,
  managesLb,
  hasVip,
  vipHolders,
} from "../../src/spec/topology.ts";

const all = clustersUnderTest();

test("every example: the components follow the roles and the endpoint mode", () => {
  const seen = new Set<string>();
  for (const { name, cluster: c } of all) {
    seen.add(c.endpoint.mode);
    for (const h of c.hosts) {
      const comp = components(c, h);
      assert.equal(comp.includes("haproxy"), managesLb(c) && h.roles.includes("lb"), `${name}/${h.name} haproxy`);
      assert.equal(comp.includes("keepalived"), c.endpoint.mode === "haproxy-keepalived" && h.roles.includes("lb"), `${name}/${h.name} keepalived`);
      assert.equal(comp.includes("kube-vip"), c.endpoint.mode === "kube-vip" && h.roles.includes("control-plane"), `${name}/${h.name} kube-vip`);
      assert.equal(comp.includes("apiserver"), h.roles.includes("control-plane"));
      assert.ok(!(comp.includes("etcd") && comp.includes("stacked-etcd")), "one etcd kind per host");
    }
    assert.deepEqual(etcdMembers(c).map((h) => h.name), c.etcd.members, `${name}: etcd members`);
    assert.equal(hasVip(c), vipHolders(c).length > 0, `${name}: VIP holders`);
    if (c.endpoint.mode === "haproxy-keepalived") assert.deepEqual(keepalivedHosts(c), lbHosts(c));
  }
  for (const m of ["haproxy-keepalived", "haproxy", "kube-vip", "external"]) assert.ok(seen.has(m), `no example or fixture uses ${m}`);
});

test("every example: no host listens twice on a port, and HAProxy's frontend is the endpoint port", () => {
  for (const { name, cluster: c } of all) {
    for (const h of c.hosts) {
      const ports = listenPorts(c, h).map((p) => p.port);
      assert.equal(new Set(ports).size, ports.length, `${name}/${h.name}: ${ports.join(",")}`);
      const fe = listenPorts(c, h).find((p) => p.what === "HAProxy frontend");
      assert.equal(fe?.port, lbHosts(c).includes(h) ? c.endpoint.port : undefined);
    }
  }
});

const SEED0 = (endpoint: string) => `apiVersion: kubeha.dev/v1alpha1
kind: Cluster
metadata: { name: s0 }
spec:
  hosts:
    - { name: proxy, address: 198.18.90.1, internalAddress: 198.18.122.1, roles: [lb] }
    - { name: m1, address: 198.18.122.11, roles: [control-plane] }
    - { name: m2, address: 198.18.122.12, roles: [control-plane] }
    - { name: m3, address: 198.18.122.13, roles: [control-plane] }
    - { name: w1, address: 198.18.122.21, roles: [worker] }
  controlPlaneEndpoint:
    mode: haproxy
${endpoint}`;

test("haproxy mode: the client address defaults to the proxy's internal address", () => {
  const r = parseCluster(SEED0(""), { home: "/h" });
  assert.ok(r.cluster);
  assert.equal(r.cluster.endpoint.address, "198.18.122.1");
  assert.deepEqual(endpointNames(r.cluster), ["198.18.122.1"]);
});

test("haproxy mode: a chosen client address is the kubeadm endpoint and both addresses are in the certificate", () => {
  const r = parseCluster(SEED0("    address: 198.18.90.1\n"), { home: "/h" });
  assert.ok(r.cluster);
  const c = r.cluster;
  assert.equal(c.endpoint.mode, "haproxy");
  assert.equal(c.endpoint.host, "198.18.90.1");
  const init = renderCluster(c, FIXTURE_SECRETS).find((x) => x.host === "m1")!.files.find((f) => f.path === PATHS.kubeadmInit)!;
  const cc = parseAllDocuments(init.content).map((d) => d.toJS()).find((d) => d.kind === "ClusterConfiguration");
  assert.equal(cc.controlPlaneEndpoint, "198.18.90.1:6443");
  assert.deepEqual(cc.apiServer.certSANs, ["198.18.90.1", "198.18.122.1"]);
  const join = renderCluster(c, FIXTURE_SECRETS).find((x) => x.host === "w1")!.files.find((f) => f.path === PATHS.kubeadmJoin)!;
  assert.match(join.content, /apiServerEndpoint: 198\.18\.90\.1:6443/);
});

test("haproxy mode: a client address that is not IPv4 is refused at its line", () => {
  const text = SEED0("    address: proxy.example\n");
  const r = parseCluster(text, { home: "/h" });
  const p = r.problems.find((x) => x.path === "spec.controlPlaneEndpoint.address");
  assert.ok(p, JSON.stringify(r.problems));
  assert.equal(p.rule, "endpoint-names");
  assert.equal(p.line, text.split("\n").findIndex((l) => l.includes("address: proxy.example")) + 1);
});
