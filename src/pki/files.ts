/** Pure: the PKI files each host needs, from the placement table (table.ts) and a loaded State. */
import type { Cluster } from "../spec/model.ts";
import { firstControlPlane, hostByName } from "../spec/model.ts";
import type { RenderedFile } from "../render/types.ts";
import { PLACEMENTS, certSpec, type Target } from "./table.ts";
import type { State } from "./state.ts";
import { isControlPlane, runsExternalEtcd } from "../spec/topology.ts";

function targets(c: Cluster, to: Target, hostName: string): boolean {
  const h = hostByName(c, hostName);
  if (to === "first-control-plane") return firstControlPlane(c).name === h.name;
  if (to === "control-planes") return isControlPlane(h);
  return runsExternalEtcd(c, h);
}

/**
 * The certificates and keys to upload to one host, sorted by path. Keys are `secret: true`,
 * mode 0600; certificates and public keys 0644. Workers get nothing.
 */
export function pkiFilesForHost(c: Cluster, state: State, hostName: string): RenderedFile[] {
  const out: RenderedFile[] = [];
  for (const p of PLACEMENTS) {
    if (!p.when(c) || !targets(c, p.to, hostName)) continue;
    const spec = certSpec(p.cert);
    const m = state.material(spec.scope === "cluster" ? spec.name : `${spec.name}/${hostName}`);
    const restarts = p.restarts ? { restarts: [...p.restarts] } : {};
    if (p.crt && m.cert) out.push({ path: p.crt, content: m.cert, mode: 0o644, secret: false, ...restarts });
    if (p.pub && m.pub) out.push({ path: p.pub, content: m.pub, mode: 0o644, secret: false, ...restarts });
    if (p.key) out.push({ path: p.key, content: m.key, mode: 0o600, secret: true, ...restarts });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
