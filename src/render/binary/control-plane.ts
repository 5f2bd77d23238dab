/**
 * `bootstrap: binary`, control planes: kube-apiserver, kube-controller-manager and kube-scheduler
 * as systemd units, with the audit policy, the encryption configuration for Secrets and the
 * scheduler's KubeSchedulerConfiguration. Pure. The flags are kubeadm's own for these components
 * (kubeadm-reference.md §7.3-7.5), each file path from PATHS; the certificates and kubeconfigs
 * they name are the PKI module's (src/pki/table.ts, src/pki/kubeconfig.ts).
 */
import type { Cluster, Host } from "../../spec/model.ts";
import type { RenderedFile, Secrets } from "../types.ts";
import { PATHS } from "../paths.ts";
import { file, header } from "../file.ts";
import { toYaml } from "../../util/yaml.ts";
import { etcdClientUrls } from "../etcd.ts";
import { InternalError } from "../../errors.ts";
import { renderUnit, unitPath, withExtraArgs, type CommandLine } from "./command.ts";

/** The service-account token issuer (kubeadm's default): the in-cluster API URL. */
export function serviceAccountIssuer(c: Cluster): string {
  return `https://kubernetes.default.svc.${c.kubernetes.dnsDomain}`;
}

/** The name of the key in EncryptionConfiguration (a second key is added beside it to rotate). */
export const ENCRYPTION_KEY_NAME = "kubeha-1";

export function apiserverCommand(c: Cluster, h: Host): CommandLine {
  const base: CommandLine["flags"] = [
    ["advertise-address", h.internalAddress],
    ["allow-privileged", "true"],
    ["audit-log-maxage", "30"],
    ["audit-log-maxbackup", "10"],
    ["audit-log-maxsize", "100"],
    ["audit-log-path", PATHS.auditLog],
    ["audit-policy-file", PATHS.auditPolicy],
    ["authorization-mode", "Node,RBAC"],
    ["client-ca-file", PATHS.kubernetesCa],
    ["enable-admission-plugins", "NodeRestriction"],
    ["enable-bootstrap-token-auth", "true"],
    ["encryption-provider-config", PATHS.encryptionConfig],
    ["etcd-cafile", PATHS.apiserverEtcdCa],
    ["etcd-certfile", PATHS.apiserverEtcdCert],
    ["etcd-keyfile", PATHS.apiserverEtcdKey],
    ["etcd-servers", etcdClientUrls(c).join(",")],
    ["kubelet-client-certificate", PATHS.apiserverKubeletClientCert],
    ["kubelet-client-key", PATHS.apiserverKubeletClientKey],
    ["kubelet-preferred-address-types", "InternalIP,ExternalIP,Hostname"],
    ["proxy-client-cert-file", PATHS.frontProxyClientCert],
    ["proxy-client-key-file", PATHS.frontProxyClientKey],
    ["requestheader-allowed-names", "front-proxy-client"],
    ["requestheader-client-ca-file", PATHS.frontProxyCa],
    ["requestheader-extra-headers-prefix", "X-Remote-Extra-"],
    ["requestheader-group-headers", "X-Remote-Group"],
    ["requestheader-username-headers", "X-Remote-User"],
    ["secure-port", String(c.kubernetes.apiServerPort)],
    ["service-account-issuer", serviceAccountIssuer(c)],
    ["service-account-key-file", PATHS.saPub],
    ["service-account-signing-key-file", PATHS.saKey],
    ["service-cluster-ip-range", c.kubernetes.serviceSubnet],
    ["tls-cert-file", PATHS.apiserverCert],
    ["tls-private-key-file", PATHS.apiserverKey],
  ];
  return { component: "kube-apiserver", flags: withExtraArgs(base, c.kubernetes.extraArgs.apiServer), configs: [] };
}

export function controllerManagerCommand(c: Cluster): CommandLine {
  const kc = PATHS.controllerManagerConf;
  return {
    component: "kube-controller-manager",
    flags: [
      // flannel and the kubelets take each node's pod range from node.spec.podCIDR.
      ["allocate-node-cidrs", "true"],
      ["authentication-kubeconfig", kc],
      ["authorization-kubeconfig", kc],
      ["bind-address", "127.0.0.1"],
      ["client-ca-file", PATHS.kubernetesCa],
      ["cluster-cidr", c.kubernetes.podSubnet],
      ["cluster-name", c.name],
      // Signs the kubelets' client certificates (TLS bootstrap, rotation).
      ["cluster-signing-cert-file", PATHS.kubernetesCa],
      ["cluster-signing-key-file", PATHS.kubernetesCaKey],
      // bootstrapsigner and tokencleaner are off by default; TLS bootstrap tokens need them.
      ["controllers", "*,bootstrapsigner,tokencleaner"],
      ["kubeconfig", kc],
      ["leader-elect", "true"],
      ["requestheader-client-ca-file", PATHS.frontProxyCa],
      ["root-ca-file", PATHS.kubernetesCa],
      ["service-account-private-key-file", PATHS.saKey],
      ["service-cluster-ip-range", c.kubernetes.serviceSubnet],
      ["use-service-account-credentials", "true"],
    ],
    configs: [],
  };
}

/** KubeSchedulerConfiguration: the scheduler's connection and leader election (its flags for these are deprecated). */
export function schedulerConfiguration(): Record<string, unknown> {
  return {
    apiVersion: "kubescheduler.config.k8s.io/v1",
    kind: "KubeSchedulerConfiguration",
    clientConnection: { kubeconfig: PATHS.schedulerConf },
    leaderElection: { leaderElect: true },
  };
}

export function schedulerCommand(c: Cluster): CommandLine {
  const base: CommandLine["flags"] = [
    ["authentication-kubeconfig", PATHS.schedulerConf],
    ["authorization-kubeconfig", PATHS.schedulerConf],
    ["bind-address", "127.0.0.1"],
    ["config", PATHS.schedulerConfig],
  ];
  return { component: "kube-scheduler", flags: withExtraArgs(base, c.kubernetes.extraArgs.scheduler), configs: [schedulerConfiguration()] };
}

/**
 * The audit policy: metadata only for Secrets, ConfigMaps and token reviews (their bodies hold
 * credentials), request bodies for changes, metadata for the rest; health checks and kube-proxy's
 * watches are not logged.
 */
export function auditPolicy(): Record<string, unknown> {
  return {
    apiVersion: "audit.k8s.io/v1",
    kind: "Policy",
    omitStages: ["RequestReceived"],
    rules: [
      { level: "None", nonResourceURLs: ["/healthz*", "/livez*", "/readyz*", "/version"] },
      { level: "None", users: ["system:kube-proxy"], verbs: ["watch"], resources: [{ group: "", resources: ["endpoints", "services"] }, { group: "discovery.k8s.io", resources: ["endpointslices"] }] },
      { level: "None", userGroups: ["system:nodes"], verbs: ["get"], resources: [{ group: "", resources: ["nodes", "nodes/status"] }] },
      {
        level: "Metadata",
        resources: [
          { group: "", resources: ["secrets", "configmaps", "serviceaccounts/token"] },
          { group: "authentication.k8s.io", resources: ["tokenreviews"] },
        ],
      },
      { level: "Request", verbs: ["create", "update", "patch", "delete", "deletecollection"] },
      { level: "Metadata" },
    ],
  };
}

/** Secrets encrypted with kubeha's secretbox key; `identity` last, so Secrets written before stay readable. */
export function encryptionConfiguration(s: Secrets): Record<string, unknown> {
  if (!s.encryptionKey) throw new InternalError("bootstrap binary renders without an encryption key in the secrets (ensureState creates it)");
  return {
    apiVersion: "apiserver.config.k8s.io/v1",
    kind: "EncryptionConfiguration",
    resources: [{ resources: ["secrets"], providers: [{ secretbox: { keys: [{ name: ENCRYPTION_KEY_NAME, secret: s.encryptionKey }] } }, { identity: {} }] }],
  };
}

/** The control-plane commands of host `h` (the plan places them and their PKI). */
export function controlPlaneCommands(c: Cluster, h: Host): CommandLine[] {
  return [apiserverCommand(c, h), controllerManagerCommand(c), schedulerCommand(c)];
}

const DESCRIPTIONS: Record<string, string> = {
  "kube-apiserver": "Kubernetes API server",
  "kube-controller-manager": "Kubernetes controller manager",
  "kube-scheduler": "Kubernetes scheduler",
};

/** Units, audit policy, encryption and scheduler configuration for control plane `h`. */
export function renderControlPlane(c: Cluster, h: Host, s: Secrets): RenderedFile[] {
  const yaml = (what: string, o: unknown) => header("#", what) + toYaml(o);
  const out: RenderedFile[] = [];
  for (const cmd of controlPlaneCommands(c, h)) {
    const api = cmd.component === "kube-apiserver";
    out.push(
      file(unitPath(cmd.component), renderUnit(cmd, {
        description: `${DESCRIPTIONS[cmd.component]} (kubeha)`,
        // The controller-manager and scheduler talk to this host's API server.
        after: api ? ["network-online.target", "etcd.service"] : ["network-online.target", "kube-apiserver.service"],
        wants: ["network-online.target"],
      }), { restarts: [cmd.component] }),
    );
  }
  out.push(
    file(PATHS.auditPolicy, yaml("kube-apiserver audit policy (--audit-policy-file).", auditPolicy()), { restarts: ["kube-apiserver"] }),
    file(PATHS.encryptionConfig, yaml("Encryption at rest for Secrets (--encryption-provider-config). Holds the key.", encryptionConfiguration(s)), { secret: true, restarts: ["kube-apiserver"] }),
    file(PATHS.schedulerConfig, yaml("kube-scheduler configuration (--config).", schedulerConfiguration()), { restarts: ["kube-scheduler"] }),
  );
  return out;
}
