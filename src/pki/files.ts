/** Pure: the PKI files each host needs, from the placement table (table.ts) and a loaded State. */
import type { Cluster } from "../spec/model.ts";
import { firstControlPlane, hostByName } from "../spec/model.ts";
import type { RenderedFile } from "../render/types.ts";
import { PLACEMENTS, certSpec, type Target } from "./table.ts";
import { KUBECONFIG_PLACEMENTS, kubeconfig, kubeconfigServer } from "./kubeconfig.ts";
import type { State } from "./state.ts";
import { binaryBootstrap, isControlPlane, isKubernetesNode, runsExternalEtcd } from "../spec/topology.ts";

/** Whether placement target `to` includes host `hostName` (`sharedOnEveryControlPlane`: see pkiFilesForHost). */
export function placedOn(c: Cluster, to: Target, hostName: string, sharedOnEveryControlPlane = false): boolean {
  const h = hostByName(c, hostName);
  if (to === "first-control-plane") return sharedOnEveryControlPlane ? isControlPlane(h) : firstControlPlane(c).name === h.name;
  if (to === "control-planes") return isControlPlane(h);
  if (to === "nodes") return isKubernetesNode(h);
  if (to === "other-nodes") return isKubernetesNode(h) && !isControlPlane(h);
  return runsExternalEtcd(c, h);
}

/**
 * The kubeconfigs kubeha places on `hostName` (each placement's `when` and target applied): the one
 * list the upload (hostFiles) and the certificate check (src/probe/certs.ts) read.
 * `sharedOnEveryControlPlane`: see placedOn (super-admin.conf may be on any control plane that
 * once ran init).
 */
export function kubeconfigsFor(c: Cluster, hostName: string, sharedOnEveryControlPlane = false): (typeof KUBECONFIG_PLACEMENTS)[number][] {
  return KUBECONFIG_PLACEMENTS.filter((k) => k.when(c) && placedOn(c, k.to, hostName, sharedOnEveryControlPlane));
}

/**
 * The certificates, keys and kubeconfigs to upload to one host, sorted by path. Keys and
 * kubeconfigs (they embed a client key) are `secret: true`, mode 0600; certificates and public
 * keys 0644. Workers get nothing.
 *
 * `sharedOnEveryControlPlane`: the shared material kubeadm init needs (CAs with their keys, the
 * service-account key pair) goes to every control plane, not only the first, so joins need no
 * certificate upload (Ignition: a host may join after the uploaded copy has expired). Binary mode
 * always does so: every control plane runs its own API server and controller-manager from them.
 */
export function pkiFilesForHost(c: Cluster, state: State, hostName: string, opts: { sharedOnEveryControlPlane?: boolean } = {}): RenderedFile[] {
  const out: RenderedFile[] = [];
  const shared = (opts.sharedOnEveryControlPlane ?? false) || binaryBootstrap(c);
  for (const p of PLACEMENTS) {
    if (!p.when(c) || !placedOn(c, p.to, hostName, shared)) continue;
    const spec = certSpec(p.cert);
    const m = state.material(spec.scope === "cluster" ? spec.name : `${spec.name}/${hostName}`);
    const restarts = p.restarts ? { restarts: [...p.restarts] } : {};
    if (p.crt && m.cert) out.push({ path: p.crt, content: m.cert, mode: 0o644, secret: false, ...restarts });
    if (p.pub && m.pub) out.push({ path: p.pub, content: m.pub, mode: 0o644, secret: false, ...restarts });
    if (p.key) out.push({ path: p.key, content: m.key, mode: 0o600, secret: true, ...restarts });
  }
  const ids = new Set(state.ids());
  for (const k of kubeconfigsFor(c, hostName)) {
    if (k.kind !== "bootstrap-kubelet" && !ids.has(k.kind)) continue;
    const server = kubeconfigServer(c, hostByName(c, hostName), k.kind);
    out.push({ path: k.path, content: kubeconfig(c, state, k.kind, server), mode: 0o600, secret: true });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
