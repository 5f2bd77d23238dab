/**
 * `bootstrap: binary`, every Kubernetes node: the kubelet (KubeletConfiguration, TLS bootstrap
 * with the bootstrap kubeconfig, client certificate rotation) and kube-proxy
 * (KubeProxyConfiguration) as systemd units. Pure.
 */
import type { Cluster, Host } from "../../spec/model.ts";
import type { RenderedFile } from "../types.ts";
import { PATHS } from "../paths.ts";
import { file, header } from "../file.ts";
import { toYaml } from "../../util/yaml.ts";
import { nthAddress, parseCidr } from "../../util/net.ts";
import { parseTaint } from "../kubeadm.ts";
import { isControlPlane } from "../../spec/topology.ts";
import { renderUnit, unitPath, type CommandLine } from "./command.ts";

/** kubeadm's control-plane taint, registered unless the host's `taints` says otherwise. */
export const CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane:NoSchedule";

/** The cluster DNS service address: the 10th of the service range, as kubeadm chooses it. */
export function clusterDnsIp(c: Cluster): string {
  const svc = parseCidr(c.kubernetes.serviceSubnet);
  if (!svc) throw new Error(`spec.kubernetes.serviceSubnet ${c.kubernetes.serviceSubnet} is not a CIDR (validate should have caught this)`);
  return nthAddress(svc, 10);
}

/** The unit the container runtime runs as (the kubelet starts after it). */
export function runtimeUnit(c: Cluster): string {
  return c.kubernetes.containerRuntime === "cri-o" ? "crio" : "containerd";
}

/** The taints the kubelet registers the node with: as kubeadm, absent = the control-plane taint on control planes. */
function taints(h: Host): string[] {
  return h.taints ?? (isControlPlane(h) ? [CONTROL_PLANE_TAINT] : []);
}

export function kubeletConfiguration(c: Cluster, h: Host): Record<string, unknown> {
  const t = taints(h).map(parseTaint);
  return {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: PATHS.kubernetesCa } },
    authorization: { mode: "Webhook" },
    // Must match the runtime (containerd SystemdCgroup = true, CRI-O's default).
    cgroupDriver: "systemd",
    clusterDNS: [clusterDnsIp(c)],
    clusterDomain: c.kubernetes.dnsDomain,
    containerRuntimeEndpoint: c.kubernetes.criSocket,
    ...(t.length ? { registerWithTaints: t } : {}),
    // The client certificate from TLS bootstrap is renewed through a CSR before it expires.
    rotateCertificates: true,
  };
}

export function kubeletCommand(c: Cluster, h: Host): CommandLine {
  const labels = Object.keys(h.labels)
    .sort()
    .map((k) => `${k}=${h.labels[k]}`);
  return {
    component: "kubelet",
    flags: [
      // Read only while --kubeconfig does not exist: the kubelet then asks for its certificate with the token.
      ["bootstrap-kubeconfig", PATHS.bootstrapKubeletConf],
      ["config", PATHS.kubeletConfig],
      ["kubeconfig", PATHS.kubeletConf],
      ["node-ip", h.internalAddress],
      ...(labels.length ? [["node-labels", labels.join(",")] as [string, string]] : []),
    ],
    configs: [kubeletConfiguration(c, h)],
  };
}

export function kubeProxyConfiguration(c: Cluster, h: Host): Record<string, unknown> {
  return {
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    clientConnection: { kubeconfig: PATHS.kubeProxyConf },
    // The pod range (seed 001 passed the service range here, which is wrong).
    clusterCIDR: c.kubernetes.podSubnet,
    hostnameOverride: h.name,
    mode: "iptables",
  };
}

export function kubeProxyCommand(c: Cluster, h: Host): CommandLine {
  return { component: "kube-proxy", flags: [["config", PATHS.kubeProxyConfig]], configs: [kubeProxyConfiguration(c, h)] };
}

export function nodeCommands(c: Cluster, h: Host): CommandLine[] {
  return [kubeletCommand(c, h), kubeProxyCommand(c, h)];
}

/** kubelet and kube-proxy units and configurations for node `h`. */
export function renderNode(c: Cluster, h: Host): RenderedFile[] {
  const yaml = (what: string, o: unknown) => header("#", what) + toYaml(o);
  const [kubelet, proxy] = nodeCommands(c, h) as [CommandLine, CommandLine];
  const rt = `${runtimeUnit(c)}.service`;
  return [
    file(unitPath("kubelet"), renderUnit(kubelet, { description: "Kubernetes node agent (kubeha)", after: ["network-online.target", rt], wants: ["network-online.target", rt] }), { restarts: ["kubelet"] }),
    file(PATHS.kubeletConfig, yaml(`kubelet configuration for ${h.name} (--config).`, kubeletConfiguration(c, h)), { restarts: ["kubelet"] }),
    file(unitPath("kube-proxy"), renderUnit(proxy, { description: "Kubernetes service proxy (kubeha)", after: ["network-online.target"], wants: ["network-online.target"] }), { restarts: ["kube-proxy"] }),
    file(PATHS.kubeProxyConfig, yaml(`kube-proxy configuration for ${h.name} (--config).`, kubeProxyConfiguration(c, h)), { restarts: ["kube-proxy"] }),
  ];
}
