/**
 * The command-line flags of the Kubernetes components, as data: which names each component accepts
 * in each supported minor (1.29 to 1.36), and the flags kubeha refuses (removed upstream, or
 * deprecated with a replacement), each with where the fact comes from.
 *
 * How the per-minor sets are built (src/spec/flags.ts): each component has two stored upstream
 * reference pages (kubernetes/website, content/en/docs/reference/command-line-tools-reference/
 * <component>.md, generated from the component's own `--help`), an old one and the newest one.
 * A flag on both pages is accepted in every supported minor (it existed before 1.29 and still
 * exists). A flag only on the newest page is accepted from the minor in `ADDED` (with the source
 * of that minor), and only from the newest page's minor when kubeha has no source for when it
 * came: refusing a flag a binary would take is safer than writing one it refuses at start.
 * Minors newer than the newest page get the newest page's set. Deprecated flags are hidden from
 * `--help` and so from the pages: the ones that matter are in `RETIRED`, with their replacement.
 */

/** The Kubernetes components kubeha runs as systemd units in binary mode (each unit has the component's name). */
export const COMPONENTS = ["kube-apiserver", "kube-scheduler", "kube-controller-manager", "kubelet", "kube-proxy"] as const;
export type Component = (typeof COMPONENTS)[number];

/** One stored reference page: the component's flags as its `--help` printed them in `minor`. */
export interface FlagPage {
  minor: number;
  /** How the page's minor is known (the pages carry no version line). */
  minorEvidence: string;
  /** Where the page is: repository, path, and the index id of the stored version read. */
  source: string;
  flags: readonly string[];
}

const PAGE_PATH = (c: Component) => `kubernetes/website content/en/docs/reference/command-line-tools-reference/${c}.md`;
const words = (s: string): string[] => s.trim().split(/\s+/);

/**
 * The components whose accepted flag sets kubeha records (the others have only `RETIRED` entries).
 * kube-controller-manager, kubelet and kube-proxy are missing on purpose: every stored copy of their
 * pages predates 1.29 (docs/binary.md lists the ids), so none can say what a supported minor takes.
 */
export const FLAG_PAGES: Partial<Record<Component, { old: FlagPage; newest: FlagPage }>> = {
  "kube-apiserver": {
    old: {
      minor: 23,
      minorEvidence: "its feature-gate list has PodSecurity as BETA default=true and JobReadyPods as ALPHA (the v1.23 states)",
      source: `${PAGE_PATH("kube-apiserver")} (stored version id 4242864613)`,
      flags: words(`
        admission-control-config-file advertise-address allow-metric-labels allow-privileged anonymous-auth api-audiences
        apiserver-count audit-log-batch-buffer-size audit-log-batch-max-size audit-log-batch-max-wait
        audit-log-batch-throttle-burst audit-log-batch-throttle-enable audit-log-batch-throttle-qps audit-log-compress
        audit-log-format audit-log-maxage audit-log-maxbackup audit-log-maxsize audit-log-mode audit-log-path
        audit-log-truncate-enabled audit-log-truncate-max-batch-size audit-log-truncate-max-event-size audit-log-version
        audit-policy-file audit-webhook-batch-buffer-size audit-webhook-batch-max-size audit-webhook-batch-max-wait
        audit-webhook-batch-throttle-burst audit-webhook-batch-throttle-enable audit-webhook-batch-throttle-qps
        audit-webhook-config-file audit-webhook-initial-backoff audit-webhook-mode audit-webhook-truncate-enabled
        audit-webhook-truncate-max-batch-size audit-webhook-truncate-max-event-size audit-webhook-version
        authentication-token-webhook-cache-ttl authentication-token-webhook-config-file authentication-token-webhook-version
        authorization-mode authorization-policy-file authorization-webhook-cache-authorized-ttl
        authorization-webhook-cache-unauthorized-ttl authorization-webhook-config-file authorization-webhook-version
        azure-container-registry-config bind-address cert-dir client-ca-file cloud-config cloud-provider
        cloud-provider-gce-l7lb-src-cidrs contention-profiling cors-allowed-origins default-not-ready-toleration-seconds
        default-unreachable-toleration-seconds default-watch-cache-size delete-collection-workers disable-admission-plugins
        disabled-metrics egress-selector-config-file enable-admission-plugins enable-aggregator-routing
        enable-bootstrap-token-auth enable-garbage-collector enable-priority-and-fairness encryption-provider-config
        endpoint-reconciler-type etcd-cafile etcd-certfile etcd-compaction-interval etcd-count-metric-poll-period
        etcd-db-metric-poll-interval etcd-healthcheck-timeout etcd-keyfile etcd-prefix etcd-servers etcd-servers-overrides
        event-ttl experimental-logging-sanitization external-hostname feature-gates goaway-chance help
        http2-max-streams-per-connection identity-lease-duration-seconds identity-lease-renew-interval-seconds
        kubelet-certificate-authority kubelet-client-certificate kubelet-client-key kubelet-preferred-address-types
        kubelet-timeout kubernetes-service-node-port lease-reuse-duration-seconds livez-grace-period log-flush-frequency
        logging-format master-service-namespace max-connection-bytes-per-sec max-mutating-requests-inflight
        max-requests-inflight min-request-timeout oidc-ca-file oidc-client-id oidc-groups-claim oidc-groups-prefix
        oidc-issuer-url oidc-required-claim oidc-signing-algs oidc-username-claim oidc-username-prefix
        permit-address-sharing permit-port-sharing profiling proxy-client-cert-file proxy-client-key-file request-timeout
        requestheader-allowed-names requestheader-client-ca-file requestheader-extra-headers-prefix
        requestheader-group-headers requestheader-username-headers runtime-config secure-port
        service-account-extend-token-expiration service-account-issuer service-account-jwks-uri service-account-key-file
        service-account-lookup service-account-max-token-expiration service-account-signing-key-file
        service-cluster-ip-range service-node-port-range show-hidden-metrics-for-version shutdown-delay-duration
        shutdown-send-retry-after storage-backend storage-media-type strict-transport-security-directives tls-cert-file
        tls-cipher-suites tls-min-version tls-private-key-file tls-sni-cert-key token-auth-file tracing-config-file v
        version vmodule watch-cache watch-cache-sizes`),
    },
    newest: {
      minor: 35,
      minorEvidence: "--emulated-version lists `kube=1.32..1.35(default:1.35)`",
      source: `${PAGE_PATH("kube-apiserver")} (stored version id 1424424734)`,
      flags: words(`
        admission-control admission-control-config-file advertise-address aggregator-reject-forwarding-redirect
        allow-metric-labels allow-metric-labels-manifest allow-privileged anonymous-auth api-audiences
        audit-log-batch-buffer-size audit-log-batch-max-size audit-log-batch-max-wait audit-log-batch-throttle-burst
        audit-log-batch-throttle-enable audit-log-batch-throttle-qps audit-log-compress audit-log-format audit-log-maxage
        audit-log-maxbackup audit-log-maxsize audit-log-mode audit-log-path audit-log-truncate-enabled
        audit-log-truncate-max-batch-size audit-log-truncate-max-event-size audit-log-version audit-policy-file
        audit-webhook-batch-buffer-size audit-webhook-batch-max-size audit-webhook-batch-max-wait
        audit-webhook-batch-throttle-burst audit-webhook-batch-throttle-enable audit-webhook-batch-throttle-qps
        audit-webhook-config-file audit-webhook-initial-backoff audit-webhook-mode audit-webhook-truncate-enabled
        audit-webhook-truncate-max-batch-size audit-webhook-truncate-max-event-size audit-webhook-version
        authentication-config authentication-token-webhook-cache-ttl authentication-token-webhook-config-file
        authentication-token-webhook-version authorization-config authorization-mode authorization-policy-file
        authorization-webhook-cache-authorized-ttl authorization-webhook-cache-unauthorized-ttl
        authorization-webhook-config-file authorization-webhook-version bind-address cert-dir client-ca-file
        contention-profiling coordinated-leadership-lease-duration coordinated-leadership-renew-deadline
        coordinated-leadership-retry-period cors-allowed-origins debug-socket-path default-not-ready-toleration-seconds
        default-unreachable-toleration-seconds delete-collection-workers disable-admission-plugins disable-http2-serving
        disabled-metrics egress-selector-config-file emulated-version emulation-forward-compatible
        enable-admission-plugins enable-aggregator-routing enable-bootstrap-token-auth enable-garbage-collector
        enable-logs-handler enable-priority-and-fairness encryption-provider-config
        encryption-provider-config-automatic-reload endpoint-reconciler-type etcd-cafile etcd-certfile
        etcd-compaction-interval etcd-count-metric-poll-period etcd-db-metric-poll-interval etcd-healthcheck-timeout
        etcd-keyfile etcd-prefix etcd-readycheck-timeout etcd-servers etcd-servers-overrides event-ttl external-hostname
        feature-gates goaway-chance help http2-max-streams-per-connection kubelet-certificate-authority
        kubelet-client-certificate kubelet-client-key kubelet-preferred-address-types kubelet-timeout
        kubernetes-service-node-port lease-reuse-duration-seconds livez-grace-period log-flush-frequency
        log-text-info-buffer-size log-text-split-stream logging-format max-connection-bytes-per-sec
        max-mutating-requests-inflight max-requests-inflight min-compatibility-version min-request-timeout oidc-ca-file
        oidc-client-id oidc-groups-claim oidc-groups-prefix oidc-issuer-url oidc-required-claim oidc-signing-algs
        oidc-username-claim oidc-username-prefix peer-advertise-ip peer-advertise-port peer-ca-file
        permit-address-sharing permit-port-sharing profiling proxy-client-cert-file proxy-client-key-file request-timeout
        requestheader-allowed-names requestheader-client-ca-file requestheader-extra-headers-prefix
        requestheader-group-headers requestheader-uid-headers requestheader-username-headers runtime-config
        runtime-config-emulation-forward-compatible secure-port service-account-extend-token-expiration
        service-account-issuer service-account-jwks-uri service-account-key-file service-account-lookup
        service-account-max-token-expiration service-account-signing-endpoint service-account-signing-key-file
        service-cluster-ip-range service-node-port-range show-hidden-metrics-for-version shutdown-delay-duration
        shutdown-send-retry-after shutdown-watch-termination-grace-period storage-backend storage-initialization-timeout
        storage-media-type strict-transport-security-directives tls-cert-file tls-cipher-suites tls-min-version
        tls-private-key-file tls-sni-cert-key token-auth-file tracing-config-file v version vmodule watch-cache
        watch-cache-sizes`),
    },
  },
  "kube-scheduler": {
    old: {
      minor: 21,
      minorEvidence: "its feature-gate list has IndexedJob, SuspendJob and PodDeletionCost as ALPHA and the --algorithm-provider/--policy-* flags (the v1.21 states)",
      source: `${PAGE_PATH("kube-scheduler")} (stored version id 6613111)`,
      flags: words(`
        add-dir-header address algorithm-provider allow-metric-labels alsologtostderr authentication-kubeconfig
        authentication-skip-lookup authentication-token-webhook-cache-ttl authentication-tolerate-lookup-failure
        authorization-always-allow-paths authorization-kubeconfig authorization-webhook-cache-authorized-ttl
        authorization-webhook-cache-unauthorized-ttl azure-container-registry-config bind-address cert-dir client-ca-file
        config contention-profiling disabled-metrics experimental-logging-sanitization feature-gates
        hard-pod-affinity-symmetric-weight help http2-max-streams-per-connection kube-api-burst kube-api-content-type
        kube-api-qps kubeconfig leader-elect leader-elect-lease-duration leader-elect-renew-deadline
        leader-elect-resource-lock leader-elect-resource-name leader-elect-resource-namespace leader-elect-retry-period
        lock-object-name lock-object-namespace log-backtrace-at log-dir log-file log-file-max-size log-flush-frequency
        logging-format logtostderr master one-output permit-address-sharing permit-port-sharing policy-config-file
        policy-configmap policy-configmap-namespace port profiling requestheader-allowed-names
        requestheader-client-ca-file requestheader-extra-headers-prefix requestheader-group-headers
        requestheader-username-headers scheduler-name secure-port show-hidden-metrics-for-version skip-headers
        skip-log-headers stderrthreshold tls-cert-file tls-cipher-suites tls-min-version tls-private-key-file
        tls-sni-cert-key use-legacy-policy-config v version vmodule write-config-to`),
    },
    newest: {
      minor: 36,
      minorEvidence: "--emulated-version lists `kube=1.33..1.36(default:1.36)`",
      source: `${PAGE_PATH("kube-scheduler")} (stored version id 52070109846)`,
      flags: words(`
        allow-metric-labels allow-metric-labels-manifest authentication-kubeconfig authentication-skip-lookup
        authentication-token-webhook-cache-ttl authentication-tolerate-lookup-failure authorization-always-allow-paths
        authorization-kubeconfig authorization-webhook-cache-authorized-ttl authorization-webhook-cache-unauthorized-ttl
        bind-address cert-dir client-ca-file config contention-profiling disable-http2-serving disabled-metrics
        emulated-version feature-gates help http2-max-streams-per-connection kube-api-burst kube-api-content-type
        kube-api-qps kubeconfig leader-elect leader-elect-lease-duration leader-elect-renew-deadline
        leader-elect-resource-lock leader-elect-resource-name leader-elect-resource-namespace leader-elect-retry-period
        log-flush-frequency log-text-info-buffer-size log-text-split-stream logging-format master
        min-compatibility-version permit-address-sharing permit-port-sharing pod-max-in-unschedulable-pods-duration
        profiling requestheader-allowed-names requestheader-client-ca-file requestheader-extra-headers-prefix
        requestheader-group-headers requestheader-uid-headers requestheader-username-headers secure-port
        show-hidden-metrics-for-version tls-cert-file tls-cipher-suites tls-curve-preferences tls-min-version
        tls-private-key-file tls-sni-cert-key v version vmodule write-config-to`),
    },
  },
};

/**
 * When a flag on the newest page only came, for the flags whose minor kubeha has a source for.
 * Flags on the newest page only and not here are accepted from the newest page's minor.
 */
export const ADDED: Partial<Record<Component, Record<string, { minor: number; source: string }>>> = {
  "kube-apiserver": {
    "authentication-config": { minor: 29, source: "KEP-3331 structured authentication configuration: alpha in v1.29 (recorded from the KEP, whose file was not read)" },
    "authorization-config": { minor: 29, source: "KEP-3221 structured authorization configuration: alpha in v1.29 (recorded from the KEP, whose file was not read)" },
    "emulated-version": { minor: 31, source: "KEP-4330 compatibility versions: alpha milestone v1.31 (kubernetes/enhancements keps/sig-architecture/4330)" },
    "service-account-signing-endpoint": { minor: 32, source: "KEP-740 external service account token signing: alpha milestone v1.32 (ExternalServiceAccountTokenSigner)" },
  },
};

/** A flag kubeha refuses, and what to use instead. */
export interface Retired {
  /** `removed`: the binary refuses it; `deprecated`: it still parses, hidden from --help, going away. */
  status: "removed" | "deprecated";
  /** What to use instead, in kubeha's words (a flag, a config-file field, or a cluster-file field). */
  replacement: string;
  /** Where the fact comes from. */
  source: string;
}

const GONE_BY_1_23 = "not on the v1.23 reference page (kube-apiserver id 4242864613) nor the v1.35 one";
const GONE_1_23_TO_1_35 = "on the v1.23 reference page, not on the v1.35 one";
const SCHED_GONE = "on the v1.21 kube-scheduler reference page (id 6613111), not on the v1.36 one (id 52070109846)";
const SCHED_DEPRECATED = "marked `DEPRECATED: ... ignored if a config file is specified in --config` on the v1.36 kube-scheduler reference page";
/** Facts kubeha records from its maintainers' knowledge, not read from a stored page: marked as such. */
const CM_INSECURE = "kube-controller-manager's insecure serving (--address/--port) was removed in v1.24 (recorded from the upstream changelog, no stored page checked)";
const KLOG = "klog's own flags (--logtostderr, --log-dir...) were removed from the components in v1.26 (KEP-2845); also absent from the v1.35/v1.36 pages";
const KUBELET_CONFIG = "kubelet marks the flag `DEPRECATED: This parameter should be set via the config file specified by the Kubelet's --config flag`";

/**
 * Flags kubeha refuses in extra arguments at every supported minor. Seed 001's v1.8 flags are here
 * (docs/binary.md tables them with what kubeha renders instead), and the hidden deprecated ones.
 */
export const RETIRED: Record<Component, Record<string, Retired>> = {
  "kube-apiserver": {
    "insecure-bind-address": { status: "removed", replacement: "nothing: the insecure port is gone; the API listens on --bind-address/--secure-port with TLS only", source: GONE_BY_1_23 },
    "insecure-port": { status: "removed", replacement: "nothing: the insecure port is gone; use --secure-port (kubeha: spec.kubernetes.apiServerPort)", source: GONE_BY_1_23 },
    "kubelet-https": { status: "removed", replacement: "nothing: the API server always reaches kubelets over HTTPS (--kubelet-client-certificate/--kubelet-client-key)", source: GONE_BY_1_23 },
    "experimental-bootstrap-token-auth": { status: "removed", replacement: "--enable-bootstrap-token-auth", source: GONE_BY_1_23 },
    "enable-swagger-ui": { status: "removed", replacement: "nothing: the OpenAPI documents are served at /openapi/v2 and /openapi/v3", source: GONE_BY_1_23 },
    "admission-control": { status: "deprecated", replacement: "--enable-admission-plugins / --disable-admission-plugins", source: "the v1.35 reference page: `DEPRECATED: Use --enable-admission-plugins or --disable-admission-plugins instead`" },
    "apiserver-count": { status: "deprecated", replacement: "--endpoint-reconciler-type=lease (the default; every API server holds its own lease)", source: GONE_1_23_TO_1_35 + " (hidden as deprecated)" },
    "master-service-namespace": { status: "removed", replacement: "nothing", source: GONE_1_23_TO_1_35 + " (DEPRECATED on the v1.23 page)" },
    "cloud-provider": { status: "removed", replacement: "an external cloud-controller-manager", source: GONE_1_23_TO_1_35 },
    "cloud-config": { status: "removed", replacement: "an external cloud-controller-manager's own configuration", source: GONE_1_23_TO_1_35 },
    "azure-container-registry-config": { status: "removed", replacement: "a kubelet image credential provider", source: GONE_1_23_TO_1_35 },
    "default-watch-cache-size": { status: "removed", replacement: "--watch-cache-sizes", source: GONE_1_23_TO_1_35 },
    "experimental-logging-sanitization": { status: "removed", replacement: "nothing", source: GONE_1_23_TO_1_35 },
    "enable-logs-handler": { status: "deprecated", replacement: "nothing: read the API server's journal (journalctl -u kube-apiserver)", source: "the v1.35 reference page: `DEPRECATED: Log handler functionality is deprecated`" },
    logtostderr: { status: "removed", replacement: "nothing: components log to stderr (the journal under systemd)", source: KLOG },
  },
  "kube-controller-manager": {
    address: { status: "removed", replacement: "--bind-address (the secure port only)", source: CM_INSECURE },
    port: { status: "removed", replacement: "--secure-port", source: CM_INSECURE },
    logtostderr: { status: "removed", replacement: "nothing: components log to stderr", source: KLOG },
  },
  "kube-scheduler": {
    address: { status: "removed", replacement: "--bind-address (the secure port only)", source: SCHED_GONE },
    port: { status: "removed", replacement: "--secure-port", source: SCHED_GONE },
    "algorithm-provider": { status: "removed", replacement: "profiles in KubeSchedulerConfiguration (--config)", source: SCHED_GONE },
    "policy-config-file": { status: "removed", replacement: "profiles in KubeSchedulerConfiguration (--config)", source: SCHED_GONE },
    "policy-configmap": { status: "removed", replacement: "profiles in KubeSchedulerConfiguration (--config)", source: SCHED_GONE },
    "policy-configmap-namespace": { status: "removed", replacement: "profiles in KubeSchedulerConfiguration (--config)", source: SCHED_GONE },
    "use-legacy-policy-config": { status: "removed", replacement: "profiles in KubeSchedulerConfiguration (--config)", source: SCHED_GONE },
    "lock-object-name": { status: "removed", replacement: "--leader-elect-resource-name (or leaderElection.resourceName in --config)", source: SCHED_GONE },
    "lock-object-namespace": { status: "removed", replacement: "--leader-elect-resource-namespace (or leaderElection.resourceNamespace in --config)", source: SCHED_GONE },
    "scheduler-name": { status: "removed", replacement: "profiles[].schedulerName in KubeSchedulerConfiguration (--config)", source: SCHED_GONE },
    "hard-pod-affinity-symmetric-weight": { status: "removed", replacement: "the InterPodAffinity plugin's args in KubeSchedulerConfiguration (--config)", source: SCHED_GONE },
    kubeconfig: { status: "deprecated", replacement: "clientConnection.kubeconfig in KubeSchedulerConfiguration (--config)", source: SCHED_DEPRECATED },
    "kube-api-qps": { status: "deprecated", replacement: "clientConnection.qps in KubeSchedulerConfiguration (--config)", source: SCHED_DEPRECATED },
    "kube-api-burst": { status: "deprecated", replacement: "clientConnection.burst in KubeSchedulerConfiguration (--config)", source: SCHED_DEPRECATED },
    "kube-api-content-type": { status: "deprecated", replacement: "clientConnection.contentType in KubeSchedulerConfiguration (--config)", source: SCHED_DEPRECATED },
    profiling: { status: "deprecated", replacement: "enableProfiling in KubeSchedulerConfiguration (--config)", source: SCHED_DEPRECATED },
    "contention-profiling": { status: "deprecated", replacement: "enableContentionProfiling in KubeSchedulerConfiguration (--config)", source: SCHED_DEPRECATED },
    "pod-max-in-unschedulable-pods-duration": { status: "deprecated", replacement: "nothing (the scheduler's queue decides; the flag is going away)", source: "the v1.36 kube-scheduler reference page: `DEPRECATED: ... will be removed in a future version`" },
    logtostderr: { status: "removed", replacement: "nothing: components log to stderr", source: KLOG },
  },
  kubelet: {
    "experimental-bootstrap-kubeconfig": { status: "removed", replacement: "--bootstrap-kubeconfig", source: "renamed to --bootstrap-kubeconfig in v1.9 and later removed (recorded from the upstream changelog, no stored page checked)" },
    "require-kubeconfig": { status: "removed", replacement: "nothing: the kubelet always reads --kubeconfig", source: "removed in v1.10 (recorded from the upstream changelog, no stored page checked)" },
    "allow-privileged": { status: "removed", replacement: "nothing: privileged pods are governed by Pod Security admission", source: "removed from the kubelet in v1.15 (recorded from the upstream changelog, no stored page checked)" },
    address: { status: "deprecated", replacement: "address in KubeletConfiguration", source: KUBELET_CONFIG },
    "cluster-dns": { status: "deprecated", replacement: "clusterDNS in KubeletConfiguration", source: KUBELET_CONFIG },
    "cluster-domain": { status: "deprecated", replacement: "clusterDomain in KubeletConfiguration", source: KUBELET_CONFIG },
    "hairpin-mode": { status: "deprecated", replacement: "hairpinMode in KubeletConfiguration", source: KUBELET_CONFIG },
    "serialize-image-pulls": { status: "deprecated", replacement: "serializeImagePulls in KubeletConfiguration", source: KUBELET_CONFIG },
    "fail-swap-on": { status: "deprecated", replacement: "failSwapOn in KubeletConfiguration (kubeha turns swap off instead)", source: KUBELET_CONFIG },
    "cgroup-driver": { status: "deprecated", replacement: "cgroupDriver in KubeletConfiguration (kubeha: systemd, matching the runtime)", source: KUBELET_CONFIG },
    logtostderr: { status: "removed", replacement: "nothing: components log to stderr", source: KLOG },
  },
  "kube-proxy": {
    logtostderr: { status: "removed", replacement: "nothing: components log to stderr", source: KLOG },
  },
};

/**
 * API groups a `--runtime-config` may no longer name: seed 001 enables
 * `rbac.authorization.k8s.io/v1alpha1`, which no supported API server serves.
 */
export const RETIRED_API_VERSIONS: Record<string, string> = {
  "rbac.authorization.k8s.io/v1alpha1": "rbac.authorization.k8s.io/v1 (GA since v1.8, always served; --authorization-mode=Node,RBAC is all RBAC needs)",
  "rbac.authorization.k8s.io/v1beta1": "rbac.authorization.k8s.io/v1 (v1beta1 stopped being served in v1.22)",
};
