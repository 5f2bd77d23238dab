/**
 * kubeadm configuration: `init.yaml` on the first control plane (InitConfiguration +
 * ClusterConfiguration + KubeletConfiguration), `join.yaml` on every other node
 * (JoinConfiguration, with `controlPlane` on control planes). API v1beta4 from Kubernetes 1.31,
 * v1beta3 below (map-style extraArgs). Both files hold the bootstrap token and are secret.
 */
import { toYamlStream as yamlStream } from "../util/yaml.ts";
import type { Cluster, Host } from "../spec/model.ts";
import { endpointHostPort, firstControlPlane } from "../spec/model.ts";
import { etcdClientUrls } from "./etcd.ts";
import { BOOTSTRAP_GROUP } from "./binary/tls-bootstrap.ts";
import type { RenderedFile, Secrets } from "./types.ts";
import { PATHS } from "./paths.ts";
import { file, header } from "./file.ts";
import { endpointNames, externalEtcd, isKubernetesNode } from "../spec/topology.ts";

type Doc = Record<string, unknown>;

/** True when the cluster uses kubeadm API v1beta4. */
export function isV1beta4(c: Cluster): boolean {
  return c.kubernetes.kubeadmApiVersion === "kubeadm.k8s.io/v1beta4";
}

/** Flag list in the format of the API version: `[{name, value}]` (v1beta4) or a map (v1beta3). */
function extraArgs(c: Cluster, args: Array<[string, string]>): unknown {
  return isV1beta4(c) ? args.map(([name, value]) => ({ name, value })) : Object.fromEntries(args);
}

/** Parses `key[=value]:Effect` into a kubeadm taint. */
export function parseTaint(t: string): { key: string; value?: string; effect: string } {
  const colon = t.lastIndexOf(":");
  const kv = colon >= 0 ? t.slice(0, colon) : t;
  const effect = colon >= 0 ? t.slice(colon + 1) : "NoSchedule";
  const eq = kv.indexOf("=");
  return eq >= 0 ? { key: kv.slice(0, eq), value: kv.slice(eq + 1), effect } : { key: kv, effect };
}

function nodeRegistration(c: Cluster, h: Host): Doc {
  const args: Array<[string, string]> = [["node-ip", h.internalAddress]];
  const labels = Object.keys(h.labels)
    .sort()
    .map((k) => `${k}=${h.labels[k]}`);
  if (labels.length > 0) args.push(["node-labels", labels.join(",")]);
  return {
    name: h.name,
    criSocket: c.kubernetes.criSocket,
    kubeletExtraArgs: extraArgs(c, args),
    // kubeadm's field is not omitempty: absent = default control-plane taint, [] = no taints.
    ...(h.taints !== undefined ? { taints: h.taints.map(parseTaint) } : {}),
  };
}

/** The names and addresses the API server certificate must carry, de-duplicated, in a stable order. */
export function apiServerCertSANs(c: Cluster): string[] {
  const sans = [...endpointNames(c), ...c.kubernetes.certSANs];
  return [...new Set(sans.filter((s) => s !== ""))];
}

function clusterConfiguration(c: Cluster): Doc {
  const etcd =
    externalEtcd(c)
      ? {
          external: {
            endpoints: etcdClientUrls(c),
            caFile: PATHS.apiserverEtcdCa,
            certFile: PATHS.apiserverEtcdCert,
            keyFile: PATHS.apiserverEtcdKey,
          },
        }
      : { local: { dataDir: c.etcd.dataDir } };
  const ecdsa = c.pki.keyAlgorithm === "ecdsa-p256";
  // Checked against the minor's flags by the extra-args rule before anything renders.
  const { apiServer: api, scheduler: sched } = c.kubernetes.extraArgs;
  return {
    apiVersion: c.kubernetes.kubeadmApiVersion,
    kind: "ClusterConfiguration",
    clusterName: c.name,
    kubernetesVersion: `v${c.kubernetes.version}`,
    controlPlaneEndpoint: endpointHostPort(c),
    imageRepository: c.kubernetes.imageRepository,
    networking: {
      podSubnet: c.kubernetes.podSubnet,
      serviceSubnet: c.kubernetes.serviceSubnet,
      dnsDomain: c.kubernetes.dnsDomain,
    },
    apiServer: { certSANs: apiServerCertSANs(c), ...(api.length ? { extraArgs: extraArgs(c, api) } : {}) },
    ...(sched.length ? { scheduler: { extraArgs: extraArgs(c, sched) } } : {}),
    etcd,
    ...(isV1beta4(c)
      ? { encryptionAlgorithm: ecdsa ? "ECDSA-P256" : "RSA-2048" }
      : ecdsa
        ? { featureGates: { PublicKeysECDSA: true } }
        : {}),
  };
}

function initConfiguration(c: Cluster, h: Host, s: Secrets): Doc {
  return {
    apiVersion: c.kubernetes.kubeadmApiVersion,
    kind: "InitConfiguration",
    bootstrapTokens: [
      {
        token: s.join.token,
        ttl: `${s.join.tokenTtlHours}h0m0s`,
        description: "kubeha join token",
        usages: ["signing", "authentication"],
        groups: [BOOTSTRAP_GROUP],
      },
    ],
    certificateKey: s.join.certificateKey,
    localAPIEndpoint: { advertiseAddress: h.internalAddress, bindPort: c.kubernetes.apiServerPort },
    nodeRegistration: nodeRegistration(c, h),
  };
}

function joinConfiguration(c: Cluster, h: Host, s: Secrets, certificateKey: boolean): Doc {
  const cp = h.roles.includes("control-plane");
  return {
    apiVersion: c.kubernetes.kubeadmApiVersion,
    kind: "JoinConfiguration",
    discovery: {
      bootstrapToken: {
        apiServerEndpoint: endpointHostPort(c),
        token: s.join.token,
        caCertHashes: [s.join.caCertHash],
      },
    },
    nodeRegistration: nodeRegistration(c, h),
    ...(cp
      ? {
          controlPlane: {
            localAPIEndpoint: { advertiseAddress: h.internalAddress, bindPort: c.kubernetes.apiServerPort },
            ...(certificateKey ? { certificateKey: s.join.certificateKey } : {}),
          },
        }
      : {}),
  };
}

const kubeletConfiguration: Doc = {
  apiVersion: "kubelet.config.k8s.io/v1beta1",
  kind: "KubeletConfiguration",
  // Must match the runtime (containerd SystemdCgroup = true, CRI-O's default).
  cgroupDriver: "systemd",
};

/** The kubeadm file for this host: init.yaml (first control plane) or join.yaml (others). */
/**
 * `sharedCertsPlaced`: the shared control-plane certificates are already on every control plane
 * (see pkiFilesForHost), so a control-plane join carries no certificate key and downloads nothing.
 */
export function renderKubeadm(c: Cluster, h: Host, s: Secrets, opts: { sharedCertsPlaced?: boolean } = {}): RenderedFile[] {
  if (!isKubernetesNode(h)) return [];
  const first = firstControlPlane(c).name === h.name;
  const top = header("#", `kubeadm ${first ? "init" : "join"} configuration for ${h.name} (cluster ${c.name}).`);
  if (first) {
    const body = yamlStream([initConfiguration(c, h, s), clusterConfiguration(c), kubeletConfiguration]);
    return [file(PATHS.kubeadmInit, top + body, { secret: true })];
  }
  return [file(PATHS.kubeadmJoin, top + yamlStream([joinConfiguration(c, h, s, !opts.sharedCertsPlaced)]), { secret: true })];
}
