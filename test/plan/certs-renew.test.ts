/** The rollout of renewed certificates per host (pure): what restarts, in which order, and what does not. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { hostRenewal, renewalOrder, describeReload } from "../../src/plan/certs-renew.ts";
import { hostByName } from "../../src/spec/model.ts";
import { PATHS } from "../../src/render/paths.ts";
import { tmpCluster } from "../pki/fixtures.ts";

const reloads = (r: ReturnType<typeof hostRenewal>) => r.reloads.map(describeReload);

test("external etcd: member certificates restart etcd.service; the apiserver's files restart its drained static pod; kubeconfigs restart their component", async () => {
  const fx = await tmpCluster({ etcd: "external" });
  try {
    const c = fx.cluster;
    const e1 = hostRenewal(c, hostByName(c, "e1"), [`${PATHS.etcdPkiDir}/server.crt`, `${PATHS.etcdPkiDir}/healthcheck-client.crt`], []);
    assert.deepEqual(e1.reloads, [{ kind: "etcd-unit" }]);
    const hc = hostRenewal(c, hostByName(c, "e2"), [`${PATHS.etcdPkiDir}/healthcheck-client.key`], []);
    assert.deepEqual(hc.reloads, [], "only etcdctl uses the healthcheck client: nothing restarts");
    const cp = hostRenewal(c, hostByName(c, "cp1"), [PATHS.adminConf, PATHS.schedulerConf, PATHS.apiserverEtcdCert, PATHS.apiserverCert], ["front-proxy-client"]);
    assert.deepEqual(cp.kubeadmRenew, ["front-proxy-client"]);
    assert.deepEqual(cp.reloads, [
      { kind: "static-pod", pod: "kube-apiserver", drain: true },
      { kind: "static-pod", pod: "kube-scheduler", drain: false },
    ]);
    assert.deepEqual(hostRenewal(c, hostByName(c, "cp2"), [PATHS.adminConf], []).reloads, [], "admin.conf: clients read it on each use");
    const w = hostRenewal(c, hostByName(c, "w1"), [], ["front-proxy-client", "apiserver-kubelet-client"]);
    assert.deepEqual([w.kubeadmRenew, w.reloads], [[], []], "workers: kubeadm's certificates live on control planes; the kubelet rotates its own");
    assert.deepEqual(hostRenewal(c, hostByName(c, "lb1"), [], ["front-proxy-client"]).reloads, []);
  } finally {
    await fx.cleanup();
  }
});

test("stacked etcd: kubeadm renews the etcd certificates on each control plane, then its etcd static pod restarts before the apiserver", async () => {
  const fx = await tmpCluster({ etcd: "stacked" });
  try {
    const c = fx.cluster;
    const cp = hostRenewal(c, hostByName(c, "cp2"), [PATHS.controllerManagerConf], ["etcd-server", "etcd-peer", "apiserver-etcd-client"]);
    assert.deepEqual(cp.kubeadmRenew, ["etcd-server", "etcd-peer", "apiserver-etcd-client"]);
    assert.deepEqual(reloads(cp), [
      "restart the etcd static pod (manifest moved away and back; leadership moved away first, then every member healthy; this host's API server drained in HAProxy around it)",
      "restart the kube-apiserver static pod (manifest moved away and back) (drained in HAProxy first, put back after /readyz is 200)",
      "restart the kube-controller-manager static pod (manifest moved away and back)",
    ]);
  } finally {
    await fx.cleanup();
  }
});

test("hosts that only receive files go first; hosts with restarts keep the file order", () => {
  const p = (host: string, n: number) => ({ host, kubeadmRenew: [], reloads: Array.from({ length: n }, () => ({ kind: "etcd-unit" as const })) });
  assert.deepEqual(renewalOrder([p("a", 1), p("b", 0), p("c", 2), p("d", 0)]).map((x) => x.host), ["b", "d", "a", "c"]);
});
