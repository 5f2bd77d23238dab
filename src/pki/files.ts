/** Pure: the PKI files each host needs, from the placement table (table.ts) and a loaded State. */
import type { Cluster } from "../spec/model.ts";
import { firstControlPlane, hostByName } from "../spec/model.ts";
import type { RenderedFile } from "../render/types.ts";
import { PLACEMENTS, certSpec, type Target } from "./table.ts";
import type { State } from "./state.ts";

function targets(c: Cluster, to: Target, hostName: string, sharedOnEveryControlPlane: boolean): boolean {
  const h = hostByName(c, hostName);
  if (to === "first-control-plane") return sharedOnEveryControlPlane ? h.roles.includes("control-plane") : firstControlPlane(c).name === h.name;
  if (to === "control-planes") return h.roles.includes("control-plane");
  return c.etcd.mode === "external" && c.etcd.members.includes(h.name);
}

/**
 * The certificates and keys to upload to one host, sorted by path. Keys are `secret: true`,
 * mode 0600; certificates and public keys 0644. Workers get nothing.
 *
 * `sharedOnEveryControlPlane`: the shared material kubeadm init needs (CAs with their keys, the
 * service-account key pair) goes to every control plane, not only the first, so joins need no
 * certificate upload (Ignition: a host may join after the uploaded copy has expired).
 */
export function pkiFilesForHost(c: Cluster, state: State, hostName: string, opts: { sharedOnEveryControlPlane?: boolean } = {}): RenderedFile[] {
  const out: RenderedFile[] = [];
  for (const p of PLACEMENTS) {
    if (!p.when(c) || !targets(c, p.to, hostName, opts.sharedOnEveryControlPlane ?? false)) continue;
    const spec = certSpec(p.cert);
    const m = state.material(spec.scope === "cluster" ? spec.name : `${spec.name}/${hostName}`);
    const restarts = p.restarts ? { restarts: [...p.restarts] } : {};
    if (p.crt && m.cert) out.push({ path: p.crt, content: m.cert, mode: 0o644, secret: false, ...restarts });
    if (p.pub && m.pub) out.push({ path: p.pub, content: m.pub, mode: 0o644, secret: false, ...restarts });
    if (p.key) out.push({ path: p.key, content: m.key, mode: 0o600, secret: true, ...restarts });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
