/**
 * Whether the cluster was initialized is a fact about the cluster, not about the first control
 * plane in the file: when that machine died and a fresh one took its name, the others still run
 * the cluster, and the fresh one must join it. `kubeadm init` again would start a second cluster.
 */
import type { Facts } from "../probe/facts.ts";
import type { Cluster, Host } from "../spec/model.ts";
import { isKubernetesNode } from "../spec/topology.ts";

/**
 * The control plane the cluster-wide kubeadm work runs on (init, tokens, certificate upload, the
 * pod network), from facts:
 * - no control plane joined yet (no kubelet.conf anywhere): the first in the file, which inits;
 * - else the joined one holding kubeha's init configuration (where that work ran before), so the
 *   choice does not flip back once a replaced first control plane has joined again;
 * - else the first joined one in file order (the first control plane was replaced, and this run
 *   writes the init configuration there).
 * A control plane without facts (unreachable in a dry run) counts as not joined.
 */
export function initControlPlane(c: Cluster, facts: ReadonlyMap<string, Facts>): Host {
  const cps = c.hosts.filter((h) => isKubernetesNode(h) && h.roles.includes("control-plane"));
  const joined = cps.filter((h) => facts.get(h.name)?.has.kubeletConf === true);
  if (!joined.length) {
    const first = cps[0];
    if (!first) throw new Error("cluster has no control-plane host (validate should have caught this)");
    return first;
  }
  return joined.find((h) => facts.get(h.name)?.has.kubeadmInit === true) ?? joined[0]!;
}

/** `c` with `initControlPlane` set from facts when it is not the first control plane in the file. */
export function withInitControlPlane(c: Cluster, facts: ReadonlyMap<string, Facts>): Cluster {
  const { initControlPlane: _ignored, ...base } = c;
  const h = initControlPlane(base, facts);
  const first = base.hosts.find((x) => isKubernetesNode(x) && x.roles.includes("control-plane"));
  if (first && h.name === first.name) return c.initControlPlane === undefined ? c : base;
  return { ...base, initControlPlane: h.name };
}
