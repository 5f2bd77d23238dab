/**
 * containerd configuration for Debian's containerd package (1.6/1.7: config `version = 2`).
 * Two settings matter to kubeadm: the systemd cgroup driver (the kubelet uses systemd) and the
 * sandbox (pause) image, which must come from the same registry as the control-plane images
 * or pods hang pulling registry.k8s.io/pause on mirrored sites.
 */
import type { Cluster, Host } from "../spec/model.ts";
import type { RenderedFile } from "./types.ts";
import { PATHS } from "./paths.ts";
import { file, header } from "./file.ts";
import { isKubernetesNode } from "../spec/topology.ts";

/**
 * The pause tag kubeadm of each supported minor pins (`PauseVersion` in kubeadm's
 * constants.go, what `kubeadm config images list` prints); kubeadm warns when the runtime's
 * sandbox image differs. containerd and CRI-O both take it from here.
 */
export const PAUSE_TAGS: Readonly<Record<number, string>> = {
  29: "3.9",
  30: "3.9",
  31: "3.10",
  32: "3.10",
  33: "3.10",
  34: "3.10.1",
  35: "3.10.1",
  36: "3.10.1",
};

export function pauseTag(minor: number): string {
  const tag = PAUSE_TAGS[minor];
  if (!tag) throw new Error(`no pause tag known for Kubernetes 1.${minor} (validate accepts 1.29 to 1.36 only)`);
  return tag;
}

/** `<imageRepository>/pause:<tag>`. */
export function sandboxImage(c: Cluster): string {
  return `${c.kubernetes.imageRepository}/pause:${pauseTag(c.kubernetes.minor)}`;
}

export function renderCrictl(c: Cluster): RenderedFile {
  const content = [
    header("#", "crictl talks to the cluster's runtime.").trimEnd(),
    `runtime-endpoint: ${c.kubernetes.criSocket}`,
    `image-endpoint: ${c.kubernetes.criSocket}`,
    "timeout: 10",
  ].join("\n");
  return file(PATHS.crictlConfig, content);
}

export function renderContainerd(c: Cluster, h: Host): RenderedFile[] {
  if (!isKubernetesNode(h) || c.kubernetes.containerRuntime !== "containerd") return [];
  const content = [
    header("#", "containerd for kubeadm (CRI enabled, systemd cgroups, pause image from the image repository).").trimEnd(),
    "version = 2",
    "",
    '[plugins."io.containerd.grpc.v1.cri"]',
    `  sandbox_image = "${sandboxImage(c)}"`,
    "",
    '[plugins."io.containerd.grpc.v1.cri".containerd]',
    '  default_runtime_name = "runc"',
    "",
    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
    '  runtime_type = "io.containerd.runc.v2"',
    "",
    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
    "  SystemdCgroup = true",
  ].join("\n");
  return [file(PATHS.containerdConfig, content, { restarts: ["containerd.service"] }), renderCrictl(c)];
}
