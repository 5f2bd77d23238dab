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

/**
 * CRI-O's storage on a data disk (spec.provisioning.dataDisk, Ignition only), as seed 004's
 * 00-btrfs.conf and storage.conf: the root is the usual one, which the data disk is bind-mounted
 * under; the driver is btrfs on a btrfs disk (its subvolumes and snapshots), overlay otherwise.
 * storage.conf says the same for the other tools that read it (podman, skopeo).
 */
export function renderCrioStorage(driver: "btrfs" | "overlay"): RenderedFile[] {
  const where = "on the data disk (spec.provisioning.dataDisk), rendered by kubeha into the host's Ignition config.";
  const crio = [
    `# CRI-O's storage ${where}`,
    "[crio]",
    `root = "${PATHS.containersGraphRoot}"`,
    `runroot = "${PATHS.containersRunRoot}"`,
    `storage_driver = "${driver}"`,
  ].join("\n");
  const storage = [
    `# containers/storage ${where}`,
    "[storage]",
    `driver = "${driver}"`,
    `runroot = "${PATHS.containersRunRoot}"`,
    `graphroot = "${PATHS.containersGraphRoot}"`,
  ].join("\n");
  return [file(PATHS.crioStorageDropIn, crio), file(PATHS.containersStorageConf, storage)];
}
