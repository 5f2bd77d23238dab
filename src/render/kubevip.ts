/**
 * kube-vip as a static pod on every control plane (ARP mode, leader election on a Lease).
 * From Kubernetes 1.29 admin.conf is no longer system:masters and is bound to cluster-admin
 * only once the API server is up, but kube-vip must hold its Lease (and the VIP) before
 * `kubeadm init` can reach the API through the VIP. So on the init node only, a second
 * variant that mounts super-admin.conf is rendered; install.sh puts it in the manifests
 * directory just for `kubeadm init` and restores the steady-state (admin.conf) one after.
 */
import { toYaml } from "../util/yaml.ts";
import type { Cluster, Host } from "../spec/model.ts";
import { firstControlPlane } from "../spec/model.ts";
import type { RenderedFile } from "./types.ts";
import { PATHS } from "./paths.ts";
import { file, header } from "./file.ts";
import type { KubeVipCluster } from "../spec/topology.ts";
import { runsKubeVip, usesKubeVip } from "../spec/topology.ts";

/**
 * kube-vip's leader election timing (seconds): the Lease lasts `lease`, the leader gives up after
 * failing to renew for `renew`, everyone retries every `retry`. The drill's targets derive from it.
 */
export const KUBE_VIP_TIMING = { lease: 5, renew: 3, retry: 1 } as const;

/** True when `kubeadm init` on this host needs the super-admin.conf phase (1.29+, init node). */
export function needsSuperAdminSwap(c: Cluster, h: Host): boolean {
  return usesKubeVip(c) && c.kubernetes.minor >= 29 && firstControlPlane(c).name === h.name;
}

function manifest(c: KubeVipCluster, h: Host, kubeconfig: string): string {
  const env: Array<[string, string]> = [
    ["vip_arp", "true"],
    ["port", String(c.kubernetes.apiServerPort)],
    ["vip_interface", h.interface],
    ["vip_cidr", "32"],
    ["cp_enable", "true"],
    ["cp_namespace", "kube-system"],
    ["vip_leaderelection", "true"],
    ["vip_leaseduration", String(KUBE_VIP_TIMING.lease)],
    ["vip_renewdeadline", String(KUBE_VIP_TIMING.renew)],
    ["vip_retryperiod", String(KUBE_VIP_TIMING.retry)],
    ["address", c.endpoint.address],
  ];
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "kube-vip", namespace: "kube-system" },
    spec: {
      containers: [
        {
          name: "kube-vip",
          image: c.endpoint.image,
          imagePullPolicy: "IfNotPresent",
          args: ["manager"],
          env: env.map(([name, value]) => ({ name, value })),
          securityContext: { capabilities: { add: ["NET_ADMIN", "NET_RAW"] } },
          volumeMounts: [{ mountPath: PATHS.adminConf, name: "kubeconfig" }],
        },
      ],
      hostAliases: [{ hostnames: ["kubernetes"], ip: "127.0.0.1" }],
      hostNetwork: true,
      volumes: [{ name: "kubeconfig", hostPath: { path: kubeconfig, type: "FileOrCreate" } }],
    },
  };
  return toYaml(pod);
}

export function renderKubeVip(c: Cluster, h: Host): RenderedFile[] {
  if (!usesKubeVip(c) || !runsKubeVip(c, h)) return [];
  const top = header("#", `kube-vip static pod holding the API VIP ${c.endpoint.address} (cluster ${c.name}).`);
  if (needsSuperAdminSwap(c, h)) {
    return [
      file(PATHS.kubeVipManifest, top + manifest(c, h, PATHS.adminConf)),
      file(PATHS.kubeVipDuringInit, top + "# Used only while `kubeadm init` runs (install.sh swaps it in and out).\n" + manifest(c, h, PATHS.superAdminConf)),
    ];
  }
  return [file(PATHS.kubeVipManifest, top + manifest(c, h, PATHS.adminConf))];
}
