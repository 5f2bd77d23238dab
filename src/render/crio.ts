/**
 * CRI-O drop-in: systemd cgroups (CRI-O's default, stated so nobody flips it by accident) and
 * the pause image from the cluster's image repository. CRI-O itself comes from the
 * CRI-O project's repository of the same minor (see packages.ts).
 */
import type { Cluster, Host } from "../spec/model.ts";
import type { RenderedFile } from "./types.ts";
import { PATHS } from "./paths.ts";
import { file, header } from "./file.ts";
import { renderCrictl, sandboxImage } from "./containerd.ts";
import { isKubernetesNode } from "../spec/topology.ts";

export function renderCrio(c: Cluster, h: Host): RenderedFile[] {
  if (!isKubernetesNode(h) || c.kubernetes.containerRuntime !== "cri-o") return [];
  const content = [
    header("#", "CRI-O settings for kubeadm.").trimEnd(),
    "[crio.runtime]",
    'cgroup_manager = "systemd"',
    "",
    "[crio.image]",
    `pause_image = "${sandboxImage(c)}"`,
  ].join("\n");
  return [file(PATHS.crioDropIn, content, { restarts: ["crio.service"] }), renderCrictl(c)];
}
