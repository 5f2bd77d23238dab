/**
 * CRI-O drop-in: systemd cgroups (CRI-O's default, stated so nobody flips it by accident), the
 * pause image from the cluster's image repository, and the CNI plugin directories as seed 004
 * sets them: distributions with a read-only /usr (ALT Container OS, Fedora CoreOS, Arch) point
 * CRI-O at their packaged plugins only, and the pod network's DaemonSet installs its plugin into
 * PATHS.cniBinDir, which CRI-O would then not search. CRI-O itself comes from the
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
    "[crio.network]",
    `plugin_dirs = ["${PATHS.cniBinDir}/", "${PATHS.cniLibexecDir}/"]`,
    "",
    "[crio.image]",
    `pause_image = "${sandboxImage(c)}"`,
  ].join("\n");
  return [file(PATHS.crioDropIn, content, { restarts: ["crio.service"] }), renderCrictl(c)];
}
