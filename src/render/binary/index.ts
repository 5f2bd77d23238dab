/**
 * `bootstrap: binary`: every file a Kubernetes node gets instead of kubeadm's (pure). The host
 * plan (src/plan/host.ts) places them with the node's certificates and kubeconfigs, and
 * restarts each unit when a file it reads changes.
 */
import type { Cluster, Host } from "../../spec/model.ts";
import { firstControlPlane } from "../../spec/model.ts";
import type { RenderedFile, Secrets } from "../types.ts";
import { isControlPlane, isKubernetesNode } from "../../spec/topology.ts";
import { readPaths, type CommandLine } from "./command.ts";
import { controlPlaneCommands, renderControlPlane } from "./control-plane.ts";
import { nodeCommands, renderNode } from "./node.ts";
import { renderTlsBootstrap } from "./tls-bootstrap.ts";
import { renderAddons } from "./addons.ts";

export { BOOTSTRAP_GROUP } from "./tls-bootstrap.ts";

/** Every component command line of host `h`: control-plane ones first, then kubelet and kube-proxy. */
export function binaryCommands(c: Cluster, h: Host): CommandLine[] {
  if (!isKubernetesNode(h)) return [];
  return [...(isControlPlane(h) ? controlPlaneCommands(c, h) : []), ...nodeCommands(c, h)];
}

/** The units of host `h` in the order they start. */
export function binaryUnits(c: Cluster, h: Host): string[] {
  return binaryCommands(c, h).map((x) => x.component);
}

/**
 * Host `h`'s units and configuration, its PKI files (`pki`, from the PKI module) with `restarts`
 * naming every unit that reads them, and on the first control plane the TLS bootstrap objects and
 * the addons (CoreDNS).
 */
export function renderBinary(c: Cluster, h: Host, s: Secrets, pki: readonly RenderedFile[]): RenderedFile[] {
  if (!isKubernetesNode(h)) return [];
  const readers = new Map<string, string[]>();
  for (const cmd of binaryCommands(c, h)) for (const p of readPaths(cmd)) readers.set(p, [...(readers.get(p) ?? []), cmd.component]);
  const placed = pki.map((f) => {
    const units = readers.get(f.path);
    return units ? { ...f, restarts: [...new Set([...(f.restarts ?? []), ...units])] } : f;
  });
  return [
    ...(isControlPlane(h) ? renderControlPlane(c, h, s) : []),
    ...renderNode(c, h),
    ...(firstControlPlane(c).name === h.name ? [...renderTlsBootstrap(c, s), ...renderAddons(c)] : []),
    ...placed,
  ];
}
