/**
 * Pod network parameters. The upstream manifests cannot be downloaded at render time, so
 * kubeha renders only what depends on the cluster (the pod CIDR, the interface) as a file on
 * the first control plane, and records which upstream manifest it belongs to; install.sh
 * applies the upstream manifest, then this file.
 */
import { stringify } from "yaml";
import type { Cluster, Host } from "../spec/model.ts";
import { firstControlPlane } from "../spec/model.ts";
import type { RenderedFile } from "./types.ts";
import { PATHS } from "./paths.ts";
import { file, header } from "./file.ts";

/** The upstream manifest each plugin's parameters belong to. */
export const CNI_UPSTREAM = {
  flannel: {
    version: "v0.26.1",
    manifest: "https://github.com/flannel-io/flannel/releases/download/v0.26.1/kube-flannel.yml",
  },
  calico: {
    version: "v3.29.1",
    manifest: "https://raw.githubusercontent.com/projectcalico/calico/v3.29.1/manifests/tigera-operator.yaml",
  },
} as const;

/** Path of the parameters file for the cluster's plugin. */
export function cniParamsPath(c: Cluster): string {
  return c.kubernetes.cni.plugin === "flannel" ? PATHS.flannelConfig : PATHS.calicoInstallation;
}

function flannel(c: Cluster): string {
  const netConf = { Network: c.kubernetes.podSubnet, EnableNFTables: false, Backend: { Type: "vxlan" } };
  const cniConf = {
    name: "cbr0",
    cniVersion: "0.3.1",
    plugins: [
      { type: "flannel", delegate: { hairpinMode: true, isDefaultGateway: true } },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
  return stringify(
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "kube-flannel-cfg", namespace: "kube-flannel", labels: { app: "flannel", "k8s-app": "flannel", tier: "node" } },
      data: {
        "cni-conf.json": JSON.stringify(cniConf, null, 2) + "\n",
        "net-conf.json": JSON.stringify(netConf, null, 2) + "\n",
      },
    },
    { lineWidth: 0 },
  );
}

function calico(c: Cluster): string {
  const iface = c.kubernetes.cni.interface;
  // Calico's images are not under the Kubernetes image repository: they stay upstream.
  const installation = {
    apiVersion: "operator.tigera.io/v1",
    kind: "Installation",
    metadata: { name: "default" },
    spec: {
      calicoNetwork: {
        ipPools: [
          {
            name: "default-ipv4-ippool",
            cidr: c.kubernetes.podSubnet,
            blockSize: 26,
            encapsulation: "VXLANCrossSubnet",
            natOutgoing: "Enabled",
            nodeSelector: "all()",
          },
        ],
        ...(iface ? { nodeAddressAutodetectionV4: { interface: iface } } : {}),
      },
    },
  };
  const apiServer = { apiVersion: "operator.tigera.io/v1", kind: "APIServer", metadata: { name: "default" }, spec: {} };
  return stringify(installation, { lineWidth: 0 }) + "---\n" + stringify(apiServer, { lineWidth: 0 });
}

/** One command of the pod network's installation, run on the first control plane with the admin kubeconfig. */
export interface CniAction {
  /** Imperative, lower-case: the action's name in plan output and install.sh. */
  description: string;
  command: string;
  /** A bounded wait that changes nothing (skipped by a dry run). */
  wait?: boolean;
  timeoutMs?: number;
  hint?: string;
}

/** What installs the pod network once its files are in place, in order. */
export function cniActions(c: Cluster): CniAction[] {
  const kc = `--kubeconfig ${PATHS.adminConf}`;
  return [{ description: `kubectl apply ${c.kubernetes.cni.plugin} parameters`, command: `kubectl ${kc} apply -f ${cniParamsPath(c)}` }];
}

export function renderCni(c: Cluster, h: Host): RenderedFile[] {
  if (firstControlPlane(c).name !== h.name) return [];
  const plugin = c.kubernetes.cni.plugin;
  const up = CNI_UPSTREAM[plugin];
  const top =
    header("#", `${plugin} parameters for cluster ${c.name}.`) +
    `# Upstream manifest (apply first): ${up.manifest} (${up.version})\n` +
    (plugin === "flannel" && c.kubernetes.cni.interface
      ? `# Interface: install.sh sets FLANNELD_IFACE=${c.kubernetes.cni.interface} on the kube-flannel-ds DaemonSet.\n`
      : "");
  return [file(cniParamsPath(c), top + (plugin === "flannel" ? flannel(c) : calico(c)))];
}
