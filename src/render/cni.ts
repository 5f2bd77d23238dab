/**
 * The pod network, rendered whole by kubeha (nothing is downloaded at apply time): flannel's
 * manifest (namespace first, then RBAC, the ConfigMap carrying the pod CIDR and backend, the
 * DaemonSet with its install-cni-plugin / install-cni init containers), or calico's
 * tigera-operator (namespace, the operator's CRDs, RBAC, Deployment) followed by the Installation
 * and APIServer resources once the CRDs are established. The objects follow the pinned upstream
 * releases in CNI_UPSTREAM (same names, labels, images, arguments); kubeha writes them itself.
 * `cniActions` is the ordered work on the first control plane (apply, then a bounded wait).
 */
import { toYamlStream } from "../util/yaml.ts";
import type { Cluster, Host } from "../spec/model.ts";
import { firstControlPlane } from "../spec/model.ts";
import type { RenderedFile } from "./types.ts";
import { PATHS } from "./paths.ts";
import { file, header } from "./file.ts";

/** The pinned upstream releases kubeha's manifests follow. */
export const CNI_UPSTREAM = {
  flannel: {
    version: "v0.26.1",
    registry: "docker.io/flannel",
    images: { flannel: "flannel:v0.26.1", cniPlugin: "flannel-cni-plugin:v1.5.1-flannel2" },
    source: "https://github.com/flannel-io/flannel/releases/download/v0.26.1/kube-flannel.yml",
  },
  calico: {
    version: "v3.29.1",
    registry: "quay.io/tigera",
    images: { operator: "operator:v1.36.2" },
    source: "https://raw.githubusercontent.com/projectcalico/calico/v3.29.1/manifests/tigera-operator.yaml",
  },
} as const;

export const FLANNEL = { namespace: "kube-flannel", daemonSet: "kube-flannel-ds", configMap: "kube-flannel-cfg", conflist: "10-flannel.conflist" } as const;
export const CALICO = { namespace: "tigera-operator", deployment: "tigera-operator", crds: ["installations.operator.tigera.io", "apiservers.operator.tigera.io"] } as const;

/** Seconds apply and install.sh wait for the pod network before they fail with a hint. */
export const CNI_WAIT_SECONDS = 300;

type Obj = Record<string, unknown>;

function image(c: Cluster, plugin: "flannel" | "calico", name: string): string {
  return `${c.kubernetes.cni.imageRepository ?? CNI_UPSTREAM[plugin].registry}/${name}`;
}

function yamlDocs(objs: Obj[]): string {
  return toYamlStream(objs);
}

// -- flannel -----------------------------------------------------------------------------------

const flannelLabels = { app: "flannel", "k8s-app": "flannel", tier: "node" };

/** The CNI configuration the install-cni init container copies to /etc/cni/net.d. */
export function flannelCniConf(): string {
  const cniConf = {
    name: "cbr0",
    cniVersion: "0.3.1",
    plugins: [
      { type: "flannel", delegate: { hairpinMode: true, isDefaultGateway: true } },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
  return JSON.stringify(cniConf, null, 2) + "\n";
}

/** flannel's objects, namespace first (apply order). */
export function flannelObjects(c: Cluster): Obj[] {
  const ns = FLANNEL.namespace;
  const netConf = { Network: c.kubernetes.podSubnet, EnableNFTables: false, Backend: { Type: "vxlan" } };
  const flannelImage = image(c, "flannel", CNI_UPSTREAM.flannel.images.flannel);
  const iface = c.kubernetes.cni.interface;
  const mount = (name: string, mountPath: string) => ({ name, mountPath });
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: ns, labels: { "k8s-app": "flannel", "pod-security.kubernetes.io/enforce": "privileged" } } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "flannel", namespace: ns, labels: { "k8s-app": "flannel" } } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "flannel", labels: { "k8s-app": "flannel" } },
      rules: [
        { apiGroups: [""], resources: ["pods"], verbs: ["get"] },
        { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"] },
        { apiGroups: [""], resources: ["nodes/status"], verbs: ["patch"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: "flannel", labels: { "k8s-app": "flannel" } },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "flannel" },
      subjects: [{ kind: "ServiceAccount", name: "flannel", namespace: ns }],
    },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: FLANNEL.configMap, namespace: ns, labels: flannelLabels },
      data: { "cni-conf.json": flannelCniConf(), "net-conf.json": JSON.stringify(netConf, null, 2) + "\n" },
    },
    {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: FLANNEL.daemonSet, namespace: ns, labels: flannelLabels },
      spec: {
        selector: { matchLabels: { app: "flannel", "k8s-app": "flannel" } },
        template: {
          metadata: { labels: flannelLabels },
          spec: {
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/os", operator: "In", values: ["linux"] }] }],
                },
              },
            },
            hostNetwork: true,
            priorityClassName: "system-node-critical",
            serviceAccountName: "flannel",
            tolerations: [{ effect: "NoSchedule", operator: "Exists" }],
            initContainers: [
              {
                name: "install-cni-plugin",
                image: image(c, "flannel", CNI_UPSTREAM.flannel.images.cniPlugin),
                command: ["cp"],
                args: ["-f", "/flannel", `${PATHS.cniBinDir}/flannel`],
                volumeMounts: [mount("cni-plugin", PATHS.cniBinDir)],
              },
              {
                name: "install-cni",
                image: flannelImage,
                command: ["cp"],
                args: ["-f", "/etc/kube-flannel/cni-conf.json", `${PATHS.cniNetDir}/${FLANNEL.conflist}`],
                volumeMounts: [mount("cni", PATHS.cniNetDir), mount("flannel-cfg", "/etc/kube-flannel/")],
              },
            ],
            containers: [
              {
                name: "kube-flannel",
                image: flannelImage,
                command: ["/opt/bin/flanneld"],
                args: ["--ip-masq", "--kube-subnet-mgr", ...(iface ? [`--iface=${iface}`] : [])],
                env: [
                  { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                  { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                  { name: "EVENT_QUEUE_DEPTH", value: "5000" },
                ],
                resources: { requests: { cpu: "100m", memory: "50Mi" } },
                securityContext: { privileged: false, capabilities: { add: ["NET_ADMIN", "NET_RAW"] } },
                volumeMounts: [mount("run", "/run/flannel"), mount("flannel-cfg", "/etc/kube-flannel/"), mount("xtables-lock", "/run/xtables.lock")],
              },
            ],
            volumes: [
              { name: "run", hostPath: { path: "/run/flannel" } },
              { name: "cni-plugin", hostPath: { path: PATHS.cniBinDir } },
              { name: "cni", hostPath: { path: PATHS.cniNetDir } },
              { name: "flannel-cfg", configMap: { name: FLANNEL.configMap } },
              { name: "xtables-lock", hostPath: { path: "/run/xtables.lock", type: "FileOrCreate" } },
            ],
          },
        },
      },
    },
  ];
}

// -- calico ------------------------------------------------------------------------------------

/**
 * The operator's own CRDs with an open structural schema: enough for the Installation and APIServer
 * to be accepted right after the operator manifest. The operator runs with `-manage-crds=true` and
 * replaces them with its full schemas (and installs calico's crd.projectcalico.org CRDs) when it starts.
 */
function operatorCrd(kind: string, plural: string, scope: "Cluster" | "Namespaced"): Obj {
  const open = { type: "object", "x-kubernetes-preserve-unknown-fields": true };
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.operator.tigera.io` },
    spec: {
      group: "operator.tigera.io",
      names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase() },
      scope,
      versions: [
        {
          name: "v1",
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: { openAPIV3Schema: { type: "object", properties: { apiVersion: { type: "string" }, kind: { type: "string" }, metadata: { type: "object" }, spec: open, status: open } } },
        },
      ],
    },
  };
}

/** The tigera-operator: namespace, the operator's CRDs, RBAC, Deployment. */
export function calicoOperatorObjects(c: Cluster): Obj[] {
  const ns = CALICO.namespace;
  const all = ["create", "get", "list", "update", "delete", "watch", "patch"];
  const rule = (apiGroups: string[], resources: string[], verbs: string[] = all) => ({ apiGroups, resources, verbs });
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: ns, labels: { name: ns, "pod-security.kubernetes.io/enforce": "privileged" } } },
    operatorCrd("Installation", "installations", "Cluster"),
    operatorCrd("APIServer", "apiservers", "Cluster"),
    operatorCrd("ImageSet", "imagesets", "Cluster"),
    operatorCrd("TigeraStatus", "tigerastatuses", "Cluster"),
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "tigera-operator", namespace: ns, labels: { "k8s-app": "tigera-operator" } } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "tigera-operator", labels: { "k8s-app": "tigera-operator" } },
      rules: [
        rule([""], ["namespaces", "pods", "podtemplates", "services", "endpoints", "events", "configmaps", "secrets", "serviceaccounts", "resourcequotas"]),
        rule([""], ["nodes"], ["get", "list", "watch", "patch"]),
        rule(["rbac.authorization.k8s.io"], ["clusterroles", "clusterrolebindings", "roles", "rolebindings"], [...all, "bind", "escalate"]),
        rule(["apps"], ["deployments", "daemonsets", "statefulsets"]),
        rule(["apiextensions.k8s.io"], ["customresourcedefinitions"]),
        rule(["apiregistration.k8s.io"], ["apiservices"]),
        rule(["admissionregistration.k8s.io"], ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"]),
        rule(["operator.tigera.io"], ["*"]),
        rule(["crd.projectcalico.org"], ["*"]),
        rule(["projectcalico.org"], ["*"]),
        rule(["policy"], ["poddisruptionbudgets"]),
        rule(["networking.k8s.io"], ["networkpolicies"]),
        rule(["scheduling.k8s.io"], ["priorityclasses"]),
        rule(["coordination.k8s.io"], ["leases"]),
        rule(["discovery.k8s.io"], ["endpointslices"], ["get", "list", "watch"]),
        rule(["certificates.k8s.io"], ["certificatesigningrequests"]),
        rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
        rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"]),
        rule(["storage.k8s.io"], ["csidrivers"]),
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: "tigera-operator", labels: { "k8s-app": "tigera-operator" } },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "tigera-operator" },
      subjects: [{ kind: "ServiceAccount", name: "tigera-operator", namespace: ns }],
    },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: CALICO.deployment, namespace: ns, labels: { "k8s-app": "tigera-operator" } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { name: "tigera-operator" } },
        template: {
          metadata: { labels: { name: "tigera-operator", "k8s-app": "tigera-operator" } },
          spec: {
            nodeSelector: { "kubernetes.io/os": "linux" },
            tolerations: [{ effect: "NoExecute", operator: "Exists" }, { effect: "NoSchedule", operator: "Exists" }],
            serviceAccountName: "tigera-operator",
            // The operator runs before any pod network exists, so it uses the host's.
            hostNetwork: true,
            dnsPolicy: "ClusterFirstWithHostNet",
            containers: [
              {
                name: "tigera-operator",
                image: image(c, "calico", CNI_UPSTREAM.calico.images.operator),
                imagePullPolicy: "IfNotPresent",
                command: ["operator"],
                args: ["-manage-crds=true"],
                volumeMounts: [{ name: "var-lib-calico", readOnly: true, mountPath: "/var/lib/calico" }],
                env: [
                  { name: "WATCH_NAMESPACE", value: "" },
                  { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                  { name: "OPERATOR_NAME", value: "tigera-operator" },
                  { name: "TIGERA_OPERATOR_INIT_IMAGE_VERSION", value: CNI_UPSTREAM.calico.images.operator.split(":")[1] },
                ],
                envFrom: [{ configMapRef: { name: "kubernetes-services-endpoint", optional: true } }],
              },
            ],
            volumes: [{ name: "var-lib-calico", hostPath: { path: "/var/lib/calico" } }],
          },
        },
      },
    },
  ];
}

/** The Installation (pod CIDR, interface, registry) and the APIServer. */
export function calicoResources(c: Cluster): Obj[] {
  const iface = c.kubernetes.cni.interface;
  const repo = c.kubernetes.cni.imageRepository;
  // The operator composes images as <registry><imagePath>/<name>: split a mirror into the two.
  const slash = repo ? repo.indexOf("/") : -1;
  const registry = repo ? (slash < 0 ? { registry: `${repo}/` } : { registry: `${repo.slice(0, slash)}/`, imagePath: repo.slice(slash + 1) }) : {};
  return [
    {
      apiVersion: "operator.tigera.io/v1",
      kind: "Installation",
      metadata: { name: "default" },
      spec: {
        ...registry,
        calicoNetwork: {
          ipPools: [
            { name: "default-ipv4-ippool", cidr: c.kubernetes.podSubnet, blockSize: 26, encapsulation: "VXLANCrossSubnet", natOutgoing: "Enabled", nodeSelector: "all()" },
          ],
          ...(iface ? { nodeAddressAutodetectionV4: { interface: iface } } : {}),
        },
      },
    },
    { apiVersion: "operator.tigera.io/v1", kind: "APIServer", metadata: { name: "default" }, spec: {} },
  ];
}

// -- files and actions -------------------------------------------------------------------------

/** The manifests the first control plane applies, in order. */
export function renderCni(c: Cluster, h: Host): RenderedFile[] {
  if (firstControlPlane(c).name !== h.name) return [];
  const plugin = c.kubernetes.cni.plugin;
  const up = CNI_UPSTREAM[plugin];
  const top = (what: string) => header("#", `${what} for cluster ${c.name}.`) + `# Follows upstream ${plugin} ${up.version} (${up.source}).\n`;
  if (plugin === "flannel") return [file(PATHS.flannelManifest, top("flannel (pod network)") + yamlDocs(flannelObjects(c)))];
  return [
    file(PATHS.calicoOperator, top("calico's tigera-operator") + yamlDocs(calicoOperatorObjects(c))),
    file(PATHS.calicoInstallation, top("calico Installation and APIServer") + yamlDocs(calicoResources(c))),
  ];
}

/** One command on the first control plane, with what it does and what to do when it fails. */
export interface CniAction {
  /** Imperative, lower-case: the action's name in plan output and install.sh. */
  description: string;
  command: string;
  /** A bounded wait that changes nothing (skipped by a dry run); otherwise the action applies. */
  wait?: boolean;
  /** Bound of a wait; the command enforces it itself (kubectl --timeout) and this is a little more. */
  timeoutMs?: number;
  hint: string;
  /** For an apply: a read-only command that fails when some object of the manifest is missing. */
  check?: string;
}

function applyAction(file: string, what: string): CniAction {
  const k = `kubectl --kubeconfig ${PATHS.adminConf}`;
  return { description: `apply ${what}`, command: `${k} apply -f ${file}`, check: `${k} get -f ${file} -o name`, hint: `see ${file} on the first control plane` };
}

/** The ordered commands that install the pod network (pure; run on the first control plane). */
export function cniActions(c: Cluster): CniAction[] {
  const k = `kubectl --kubeconfig ${PATHS.adminConf}`;
  const t = CNI_WAIT_SECONDS;
  const nodes: CniAction = {
    wait: true,
    description: `wait until every node is Ready (at most ${t} s)`,
    command: `${k} wait --for=condition=Ready node --all --timeout=${t}s`,
    hint: `a node stays NotReady while it has no CNI configuration in ${PATHS.cniNetDir}: see \`kubectl describe node\` and \`journalctl -u kubelet\` there`,
    timeoutMs: (t + 30) * 1000,
  };
  if (c.kubernetes.cni.plugin === "flannel") {
    return [
      applyAction(PATHS.flannelManifest, "flannel (namespace kube-flannel first)"),
      {
        wait: true,
        description: `wait until the flannel DaemonSet is rolled out (at most ${t} s)`,
        command: `${k} -n ${FLANNEL.namespace} rollout status ds/${FLANNEL.daemonSet} --timeout=${t}s`,
        hint: `see \`kubectl -n ${FLANNEL.namespace} get pods -o wide\` and the pods' logs; the images must be pullable (spec.kubernetes.cni.imageRepository for a mirror)`,
        timeoutMs: (t + 30) * 1000,
      },
      nodes,
    ];
  }
  return [
    applyAction(PATHS.calicoOperator, "the tigera-operator (namespace tigera-operator first)"),
    {
      wait: true,
      description: "wait until the operator's CRDs are established (at most 120 s)",
      command: `${k} wait --for=condition=established --timeout=120s ${CALICO.crds.map((n) => `crd/${n}`).join(" ")}`,
      hint: "see `kubectl get crd | grep tigera`",
      timeoutMs: 150_000,
    },
    applyAction(PATHS.calicoInstallation, "calico's Installation and APIServer"),
    nodes,
  ];
}
