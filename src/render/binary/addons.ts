/**
 * `bootstrap: binary`: what kubeadm's addon and mark-control-plane phases would otherwise do
 * (kubeadm-reference.md §7; kubernetes/kubernetes cmd/kubeadm/app/phases/addons/dns/manifests.go
 * and markcontrolplane): CoreDNS as kubeadm deploys it, and the control-plane nodes' role labels,
 * which the NodeRestriction admission plugin forbids a kubelet to set on itself. kube-proxy needs
 * no addon here: it runs as a systemd unit on every node (node.ts). Pure.
 */
import type { Cluster, Host } from "../../spec/model.ts";
import type { RenderedFile } from "../types.ts";
import { PATHS } from "../paths.ts";
import { file, header } from "../file.ts";
import { toYamlStream } from "../../util/yaml.ts";
import { shq } from "../../util/shell.ts";
import { isControlPlane } from "../../spec/topology.ts";
import { clusterDnsIp, CONTROL_PLANE_TAINT } from "./node.ts";

/**
 * kubeadm's CoreDNS image tag per Kubernetes minor (its `constants.CoreDNSVersion` in each release
 * branch). A minor newer than the table takes the newest entry.
 */
export const COREDNS_VERSIONS: Readonly<Record<number, string>> = {
  29: "v1.11.1",
  30: "v1.11.1",
  31: "v1.11.3",
  32: "v1.11.3",
  33: "v1.12.0",
  34: "v1.12.1",
};

/** The labels kubeadm's mark-control-plane phase puts on a control-plane Node. */
export const CONTROL_PLANE_LABELS = ["node-role.kubernetes.io/control-plane", "node.kubernetes.io/exclude-from-external-load-balancers"] as const;

export function corednsVersion(minor: number): string {
  const known = Object.keys(COREDNS_VERSIONS).map(Number).sort((a, b) => a - b);
  const at = known.filter((m) => m <= minor).at(-1) ?? known[0]!;
  return COREDNS_VERSIONS[at]!;
}

/** kubeadm's rule: `registry.k8s.io/coredns/coredns:TAG`, but `<repo>/coredns:TAG` for any other repository. */
export function corednsImage(c: Cluster): string {
  const repo = c.kubernetes.imageRepository.replace(/\/+$/, "");
  const name = repo === "registry.k8s.io" ? `${repo}/coredns/coredns` : `${repo}/coredns`;
  return `${name}:${corednsVersion(c.kubernetes.minor)}`;
}

type Doc = Record<string, unknown>;

/** kubeadm's CoreDNS objects: ServiceAccount, ClusterRole and binding, Corefile, Deployment, the kube-dns Service. */
export function corednsObjects(c: Cluster): Doc[] {
  const ns = "kube-system";
  const app = { "k8s-app": "kube-dns" };
  const domain = c.kubernetes.dnsDomain;
  const corefile = [
    ".:53 {",
    "    errors",
    "    health {",
    "       lameduck 5s",
    "    }",
    "    ready",
    `    kubernetes ${domain} in-addr.arpa ip6.arpa {`,
    "       pods insecure",
    "       fallthrough in-addr.arpa ip6.arpa",
    "       ttl 30",
    "    }",
    "    prometheus :9153",
    "    forward . /etc/resolv.conf {",
    "       max_concurrent 1000",
    "    }",
    "    cache 30 {",
    `       disable success ${domain}`,
    `       disable denial ${domain}`,
    "    }",
    "    loop",
    "    reload",
    "    loadbalance",
    "}",
    "",
  ].join("\n");
  const port = (name: string, containerPort: number, protocol = "TCP") => ({ containerPort, name, protocol });
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "coredns", namespace: ns } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "system:coredns" },
      rules: [
        { apiGroups: [""], resources: ["endpoints", "services", "pods", "namespaces"], verbs: ["list", "watch"] },
        { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: "system:coredns" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:coredns" },
      subjects: [{ kind: "ServiceAccount", name: "coredns", namespace: ns }],
    },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "coredns", namespace: ns }, data: { Corefile: corefile } },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "coredns", namespace: ns, labels: app },
      spec: {
        replicas: 2,
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
        selector: { matchLabels: app },
        template: {
          metadata: { labels: app },
          spec: {
            priorityClassName: "system-cluster-critical",
            serviceAccountName: "coredns",
            affinity: {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                  { weight: 100, podAffinityTerm: { labelSelector: { matchExpressions: [{ key: "k8s-app", operator: "In", values: ["kube-dns"] }] }, topologyKey: "kubernetes.io/hostname" } },
                ],
              },
            },
            tolerations: [
              { key: "CriticalAddonsOnly", operator: "Exists" },
              { key: CONTROL_PLANE_TAINT.split(":")[0], effect: "NoSchedule" },
            ],
            nodeSelector: { "kubernetes.io/os": "linux" },
            containers: [
              {
                name: "coredns",
                image: corednsImage(c),
                imagePullPolicy: "IfNotPresent",
                resources: { limits: { memory: "170Mi" }, requests: { cpu: "100m", memory: "70Mi" } },
                args: ["-conf", "/etc/coredns/Corefile"],
                volumeMounts: [{ name: "config-volume", mountPath: "/etc/coredns", readOnly: true }],
                ports: [port("dns", 53, "UDP"), port("dns-tcp", 53), port("metrics", 9153), port("liveness-probe", 8080), port("readiness-probe", 8181)],
                livenessProbe: {
                  httpGet: { path: "/health", port: "liveness-probe", scheme: "HTTP" },
                  initialDelaySeconds: 60,
                  timeoutSeconds: 5,
                  successThreshold: 1,
                  failureThreshold: 5,
                },
                readinessProbe: { httpGet: { path: "/ready", port: "readiness-probe", scheme: "HTTP" } },
                securityContext: { allowPrivilegeEscalation: false, capabilities: { add: ["NET_BIND_SERVICE"], drop: ["ALL"] }, readOnlyRootFilesystem: true },
              },
            ],
            dnsPolicy: "Default",
            volumes: [{ name: "config-volume", configMap: { name: "coredns", items: [{ key: "Corefile", path: "Corefile" }] } }],
          },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: {
        name: "kube-dns",
        namespace: ns,
        labels: { ...app, "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS" },
        annotations: { "prometheus.io/port": "9153", "prometheus.io/scrape": "true" },
      },
      spec: {
        clusterIP: clusterDnsIp(c),
        ports: [
          { name: "dns", port: 53, protocol: "UDP", targetPort: 53 },
          { name: "dns-tcp", port: 53, protocol: "TCP", targetPort: 53 },
          { name: "metrics", port: 9153, protocol: "TCP", targetPort: 9153 },
        ],
        selector: app,
      },
    },
  ];
}

export function renderAddons(c: Cluster): RenderedFile[] {
  const top = header("#", `CoreDNS of cluster ${c.name}, as kubeadm's addon phase deploys it (bootstrap: binary).`);
  return [file(PATHS.corednsManifest, top + toYamlStream(corednsObjects(c)))];
}

/**
 * The command that labels the control-plane Nodes as kubeadm's mark-control-plane phase does, once
 * they registered (bounded wait), and the read-only check that they carry the labels.
 */
export function controlPlaneLabels(c: Cluster, kubeconfig: string): { script: string; check: string } {
  const k = `kubectl --kubeconfig ${kubeconfig}`;
  const cps = c.hosts.filter(isControlPlane).map((h: Host) => h.name);
  const names = cps.map(shq).join(" ");
  const labels = CONTROL_PLANE_LABELS.map((l) => `${l}=`).join(" ");
  const selector = CONTROL_PLANE_LABELS.join(",");
  return {
    // The kubelets register through TLS bootstrap on their own time: wait (at most 120 s) until every Node exists.
    script: `for _ in $(seq 120); do ${k} get node ${names} >/dev/null 2>&1 && break; sleep 1; done; ${k} label node ${names} ${labels} --overwrite >/dev/null`,
    // kubectl takes names or a selector, not both: list the labelled Nodes, count ours among them.
    check: `test "$(${k} get node -l ${shq(selector)} -o name | grep -cxF ${cps.map((n) => `-e ${shq(`node/${n}`)}`).join(" ")})" -eq ${cps.length}`,
  };
}
