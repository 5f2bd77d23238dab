# STAND-IN support code from kubeha's test tree (test/standins): NOT part of Kubernetes.
# Strict checking of kubeadm config files against kubeadm.k8s.io/v1beta3 and v1beta4 as the kubeadm
# stand-in understands them: unknown kinds and fields are errors with their path, values must have
# the Go type (sigs.k8s.io/yaml + strict decoding), v1beta4-only fields are rejected in v1beta3, and
# the extraArgs format differs (v1beta3 map, v1beta4 list of {name, value}). Component configs
# (KubeletConfiguration, KubeProxyConfiguration) are checked at their top level only.
"""kubeadm config API schemas (v1beta3, v1beta4) for the kubeadm stand-in."""

import ipaddress
import re

import standin_common as common
import standin_yaml

S, B, I32, DUR, TIME, ANY = "string", "bool", "int32", "duration", "time", "any"


def MAP(v):
    return ("map", v)


def _schemas(version):
    v4 = version == "v1beta4"
    extra_args = [{"name": S, "value": S}] if v4 else MAP(S)
    env_var = {"name": S, "value": S, "valueFrom": ANY}
    image_meta = {"imageRepository": S, "imageTag": S}
    host_path_mount = {"name": S, "hostPath": S, "mountPath": S, "readOnly": B, "pathType": S}
    component = {"extraArgs": extra_args, "extraVolumes": [host_path_mount]}
    if v4:
        component["extraEnvs"] = [env_var]
    api_server = dict(component, certSANs=[S])
    if not v4:
        api_server["timeoutForControlPlane"] = DUR
    local_etcd = dict(image_meta, dataDir=S, extraArgs=extra_args, serverCertSANs=[S], peerCertSANs=[S])
    if v4:
        local_etcd["extraEnvs"] = [env_var]
    taint = {"key": S, "value": S, "effect": S, "timeAdded": TIME}
    node_reg = {"name": S, "criSocket": S, "taints": [taint], "kubeletExtraArgs": extra_args,
                "ignorePreflightErrors": [S], "imagePullPolicy": S}
    if v4:
        node_reg["imagePullSerial"] = B
    api_endpoint = {"advertiseAddress": S, "bindPort": I32}
    bootstrap_token = {"token": S, "description": S, "ttl": DUR, "expires": TIME, "usages": [S], "groups": [S]}
    patches = {"directory": S}
    timeouts = {k: DUR for k in ("controlPlaneComponentHealthCheck", "kubeletHealthCheck", "kubernetesAPICall",
                                 "etcdAPICall", "tlsBootstrap", "discovery", "upgradeManifests")}
    meta = {"apiVersion": S, "kind": S}
    init = dict(meta, bootstrapTokens=[bootstrap_token], nodeRegistration=node_reg, localAPIEndpoint=api_endpoint,
                certificateKey=S, skipPhases=[S], patches=patches)
    dns = dict(image_meta)
    cluster = dict(meta,
                   etcd={"local": local_etcd, "external": {"endpoints": [S], "caFile": S, "certFile": S, "keyFile": S}},
                   networking={"serviceSubnet": S, "podSubnet": S, "dnsDomain": S},
                   kubernetesVersion=S, controlPlaneEndpoint=S, apiServer=api_server,
                   controllerManager=dict(component), scheduler=dict(component), dns=dns,
                   certificatesDir=S, imageRepository=S, featureGates=MAP(B), clusterName=S)
    discovery = {"bootstrapToken": {"token": S, "apiServerEndpoint": S, "caCertHashes": [S],
                                    "unsafeSkipCAVerification": B},
                 "file": {"kubeConfigPath": S}, "tlsBootstrapToken": S}
    if not v4:
        discovery["timeout"] = DUR
    join = dict(meta, nodeRegistration=node_reg, caCertPath=S, discovery=discovery,
                controlPlane={"localAPIEndpoint": api_endpoint, "certificateKey": S}, skipPhases=[S], patches=patches)
    kinds = {"InitConfiguration": init, "ClusterConfiguration": cluster, "JoinConfiguration": join}
    if v4:
        init["dryRun"] = B
        init["timeouts"] = timeouts
        join["dryRun"] = B
        join["timeouts"] = timeouts
        dns["disabled"] = B
        cluster["proxy"] = {"disabled": B}
        cluster["encryptionAlgorithm"] = S
        cluster["certificateValidityPeriod"] = DUR
        cluster["caCertificateValidityPeriod"] = DUR
        kinds["ResetConfiguration"] = dict(meta, cleanupTmpDir=B, certificatesDir=S, criSocket=S, dryRun=B, force=B,
                                           ignorePreflightErrors=[S], skipPhases=[S], unmountFlags=[S],
                                           timeouts=timeouts)
    return kinds


KUBELET_FIELDS = set("""
apiVersion kind enableServer staticPodPath podLogsDir syncFrequency fileCheckFrequency httpCheckFrequency staticPodURL
staticPodURLHeader address port readOnlyPort tlsCertFile tlsPrivateKeyFile tlsCipherSuites tlsMinVersion
rotateCertificates serverTLSBootstrap authentication authorization registryPullQPS registryBurst
imagePullCredentialsVerificationPolicy preloadedImagesVerificationAllowlist eventRecordQPS eventBurst
enableDebuggingHandlers enableContentionProfiling healthzPort healthzBindAddress oomScoreAdj clusterDomain clusterDNS
streamingConnectionIdleTimeout nodeStatusUpdateFrequency nodeStatusReportFrequency nodeLeaseDurationSeconds
imageMinimumGCAge imageMaximumGCAge imageGCHighThresholdPercent imageGCLowThresholdPercent volumeStatsAggPeriod
kubeletCgroups systemCgroups cgroupRoot cgroupsPerQOS cgroupDriver cpuManagerPolicy singleProcessOOMKill
cpuManagerPolicyOptions cpuManagerReconcilePeriod memoryManagerPolicy topologyManagerPolicy topologyManagerScope
topologyManagerPolicyOptions qosReserved runtimeRequestTimeout hairpinMode maxPods podCIDR podPidsLimit resolvConf
runOnce cpuCFSQuota cpuCFSQuotaPeriod nodeStatusMaxImages maxOpenFiles contentType kubeAPIQPS kubeAPIBurst
serializeImagePulls maxParallelImagePulls evictionHard evictionSoft evictionSoftGracePeriod
evictionPressureTransitionPeriod evictionMaxPodGracePeriod evictionMinimumReclaim mergeDefaultEvictionSettings
podsPerCore enableControllerAttachDetach protectKernelDefaults makeIPTablesUtilChains iptablesMasqueradeBit
iptablesDropBit featureGates failSwapOn memorySwap containerLogMaxSize containerLogMaxFiles containerLogMaxWorkers
containerLogMonitorInterval configMapAndSecretChangeDetectionStrategy systemReserved kubeReserved
reservedSystemCPUs showHiddenMetricsForVersion systemReservedCgroup kubeReservedCgroup enforceNodeAllocatable
allowedUnsafeSysctls volumePluginDir providerID kernelMemcgNotification logging enableSystemLogHandler
enableSystemLogQuery shutdownGracePeriod shutdownGracePeriodCriticalPods shutdownGracePeriodByPodPriority
crashLoopBackOff reservedMemory enableProfilingHandler enableDebugFlagsHandler seccompDefault memoryThrottlingFactor
registerWithTaints registerNode tracing localStorageCapacityIsolation containerRuntimeEndpoint imageServiceEndpoint
failCgroupV1 userNamespaces
""".split())

KUBE_PROXY_FIELDS = set("""
apiVersion kind featureGates clientConnection logging hostnameOverride bindAddress healthzBindAddress
metricsBindAddress bindAddressHardFail enableProfiling showHiddenMetricsForVersion mode iptables ipvs nftables
winkernel detectLocalMode detectLocal clusterCIDR nodePortAddresses oomScoreAdj conntrack configSyncPeriod
portRange linux windows
""".split())

KUBEADM_GROUP = "kubeadm.k8s.io"
INIT_PHASES = {"preflight", "certs", "kubeconfig", "etcd", "control-plane", "kubelet-start", "wait-control-plane",
               "upload-config", "upload-certs", "mark-control-plane", "bootstrap-token", "kubelet-finalize",
               "addon", "addon/coredns", "addon/kube-proxy", "show-join-command"}
JOIN_PHASES = {"preflight", "control-plane-prepare", "kubelet-start", "control-plane-join", "wait-control-plane",
               "etcd-join", "kubelet-wait-bootstrap", "mark-control-plane"}


def _typename(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "number"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _check(value, schema, path, errors):
    if value is None:
        return  # null = unset for every Go field (taints: null is meaningful and allowed)
    if schema == ANY:
        return
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            errors.append(f"{path}: expected an object, got {_typename(value)}")
            return
        for k, v in value.items():
            if k not in schema:
                errors.append(f"{path}.{k}: unknown field \"{k}\"" if path else f"{k}: unknown field \"{k}\"")
                continue
            _check(v, schema[k], f"{path}.{k}" if path else k, errors)
        return
    if isinstance(schema, list):
        if not isinstance(value, list):
            errors.append(f"{path}: expected an array, got {_typename(value)}")
            return
        for n, item in enumerate(value):
            _check(item, schema[0], f"{path}[{n}]", errors)
        return
    if isinstance(schema, tuple) and schema[0] == "map":
        if not isinstance(value, dict):
            errors.append(f"{path}: expected an object (map), got {_typename(value)}"
                          + (" (v1beta3 extraArgs are a map of flag: value)" if path.endswith("xtraArgs") else ""))
            return
        for k, v in value.items():
            _check(v, schema[1], f"{path}.{k}", errors)
        return
    if schema in (S, DUR, TIME):
        if not isinstance(value, str):
            hint = " (quote it)" if isinstance(value, (int, float, bool)) else ""
            if path.endswith("xtraArgs") or "xtraArgs[" in path:
                hint += ""
            errors.append(f"{path}: expected a string, got {_typename(value)}{hint}")
            return
        if schema == DUR:
            try:
                common.parse_duration(value, path)
            except common.StandinError as e:
                errors.append(str(e))
        if schema == TIME and not re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", value):
            errors.append(f"{path}: expected an RFC3339 time, got {value!r}")
        return
    if schema == B:
        if not isinstance(value, bool):
            errors.append(f"{path}: expected a boolean, got {_typename(value)}")
        return
    if schema == I32:
        if isinstance(value, bool) or not isinstance(value, int) or not -2**31 <= value < 2**31:
            errors.append(f"{path}: expected a 32-bit integer, got {_typename(value)}")
        return
    raise AssertionError(f"bad schema {schema!r}")


_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _is_ip(s):
    try:
        ipaddress.ip_address(s)
        return True
    except ValueError:
        return False


def _semantic(kind, version, doc, errors):
    """The part of kubeadm's validation (cmd/kubeadm/app/apis/kubeadm/validation) that kubeha relies on."""
    def get(*path):
        v = doc
        for p in path:
            if not isinstance(v, dict):
                return None
            v = v.get(p)
        return v

    nr = get("nodeRegistration")
    if isinstance(nr, dict):
        name = nr.get("name")
        if isinstance(name, str) and (len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name)):
            errors.append(f"nodeRegistration.name: Invalid value: {name!r}: a lowercase RFC 1123 subdomain is required")
        cri = nr.get("criSocket")
        if isinstance(cri, str) and cri and not re.match(r"^(unix|npipe)://", cri):
            errors.append(f"nodeRegistration.criSocket: {cri!r} needs a URL scheme (unix://)")
    if kind == "InitConfiguration":
        for n, bt in enumerate(get("bootstrapTokens") or []):
            if isinstance(bt, dict):
                tok = bt.get("token")
                if tok is None or (isinstance(tok, str) and not common.TOKEN_RE.match(tok)):
                    errors.append(f"bootstrapTokens[{n}].token: Invalid value: the bootstrap token is invalid "
                                  "(format [a-z0-9]{6}.[a-z0-9]{16})")
                if bt.get("ttl") is not None and bt.get("expires") is not None:
                    errors.append(f"bootstrapTokens[{n}]: ttl and expires are mutually exclusive")
        ck = get("certificateKey")
        if isinstance(ck, str) and ck and not common.CERT_KEY_RE.match(ck):
            errors.append("certificateKey: Invalid value: must be 64 lowercase hex characters (32 bytes)")
        ep = get("localAPIEndpoint")
        if isinstance(ep, dict):
            _check_endpoint(ep, "localAPIEndpoint", errors)
        for n, p in enumerate(get("skipPhases") or []):
            if isinstance(p, str) and p not in INIT_PHASES and p.split("/")[0] not in INIT_PHASES:
                errors.append(f"skipPhases[{n}]: unknown init phase {p!r}")
    if kind == "ClusterConfiguration":
        etcd = get("etcd") or {}
        if isinstance(etcd, dict) and etcd.get("local") is not None and etcd.get("external") is not None:
            errors.append("etcd: Invalid value: local and external are mutually exclusive")
        ext = etcd.get("external") if isinstance(etcd, dict) else None
        if isinstance(ext, dict):
            eps = ext.get("endpoints") or []
            if not eps:
                errors.append("etcd.external.endpoints: Required value")
            for n, e in enumerate(eps):
                if isinstance(e, str) and not re.match(r"^https?://[^/]+(:\d+)?/?$", e):
                    errors.append(f"etcd.external.endpoints[{n}]: Invalid value: {e!r} is not an http(s) URL")
            secure = any(isinstance(e, str) and e.startswith("https://") for e in eps)
            files = [ext.get(k) for k in ("caFile", "certFile", "keyFile")]
            if secure and not all(files):
                errors.append("etcd.external: caFile, certFile and keyFile are required for https endpoints")
            for k in ("caFile", "certFile", "keyFile"):
                if isinstance(ext.get(k), str) and not ext[k].startswith("/"):
                    errors.append(f"etcd.external.{k}: must be an absolute path")
        cpe = get("controlPlaneEndpoint")
        if isinstance(cpe, str) and cpe:
            if not re.match(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$", cpe):
                errors.append(f"controlPlaneEndpoint: Invalid value: {cpe!r} (host or host:port)")
        kv = get("kubernetesVersion")
        if isinstance(kv, str) and not re.match(r"^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$", kv):
            errors.append(f"kubernetesVersion: Invalid value: {kv!r} (use an exact version like v1.34.2; "
                          "the stand-in has no internet labels)")
        for sub in ("serviceSubnet", "podSubnet"):
            val = get("networking", sub)
            if isinstance(val, str) and val:
                for part in val.split(","):
                    try:
                        ipaddress.ip_network(part.strip(), strict=True)
                    except ValueError:
                        errors.append(f"networking.{sub}: Invalid value: {val!r} is not a valid CIDR")
        alg = get("encryptionAlgorithm")
        if isinstance(alg, str) and alg not in ("RSA-2048", "RSA-3072", "RSA-4096", "ECDSA-P256", "ECDSA-P384"):
            errors.append(f"encryptionAlgorithm: Unsupported value: {alg!r}")
    if kind == "JoinConfiguration":
        disc = get("discovery")
        if not isinstance(disc, dict) or (disc.get("bootstrapToken") is None and disc.get("file") is None):
            errors.append("discovery: Invalid value: bootstrapToken or file must be set")
        elif disc.get("bootstrapToken") is not None and disc.get("file") is not None:
            errors.append("discovery: Invalid value: bootstrapToken and file are mutually exclusive")
        bt = get("discovery", "bootstrapToken")
        if isinstance(bt, dict):
            tok = bt.get("token")
            if not isinstance(tok, str) or not common.TOKEN_RE.match(tok):
                errors.append("discovery.bootstrapToken.token: Invalid value: the bootstrap token is invalid "
                              "(format [a-z0-9]{6}.[a-z0-9]{16})")
            if not bt.get("apiServerEndpoint"):
                errors.append("discovery.bootstrapToken.apiServerEndpoint: Required value")
            hashes = bt.get("caCertHashes") or []
            if not hashes and not bt.get("unsafeSkipCAVerification"):
                errors.append("discovery.bootstrapToken.caCertHashes: Invalid value: using token-based discovery "
                              "without caCertHashes can be unsafe; set unsafeSkipCAVerification to continue")
            for n, h in enumerate(hashes):
                if isinstance(h, str) and not common.CA_HASH_RE.match(h):
                    errors.append(f"discovery.bootstrapToken.caCertHashes[{n}]: Invalid value: "
                                  "expected sha256:<64 lowercase hex>")
        cp = get("controlPlane")
        if isinstance(cp, dict):
            ck = cp.get("certificateKey")
            if isinstance(ck, str) and ck and not common.CERT_KEY_RE.match(ck):
                errors.append("controlPlane.certificateKey: Invalid value: must be 64 lowercase hex characters")
            ep = cp.get("localAPIEndpoint")
            if isinstance(ep, dict):
                _check_endpoint(ep, "controlPlane.localAPIEndpoint", errors)
        for n, p in enumerate(get("skipPhases") or []):
            if isinstance(p, str) and p.split("/")[0] not in JOIN_PHASES:
                errors.append(f"skipPhases[{n}]: unknown join phase {p!r}")


def _check_endpoint(ep, path, errors):
    addr = ep.get("advertiseAddress")
    if isinstance(addr, str) and addr and not _is_ip(addr):
        errors.append(f"{path}.advertiseAddress: Invalid value: {addr!r}: must be a valid IP address")
    port = ep.get("bindPort")
    if isinstance(port, int) and not isinstance(port, bool) and not 0 < port < 65536:
        errors.append(f"{path}.bindPort: Invalid value: {port}: must be between 1 and 65535")


class Config:
    """The documents of one kubeadm config file, by kind, plus warnings."""

    def __init__(self):
        self.docs = {}      # kind -> dict
        self.versions = {}  # kind -> "v1beta3" | "v1beta4"
        self.warnings = []


def load_config(path):
    """Read and strictly validate a kubeadm config file; raises StandinError listing every problem."""
    try:
        with open(path, encoding="utf-8") as f:  # a command-line path: used as given, never rooted
            text = f.read()
    except OSError as e:
        raise common.StandinError(f"unable to read config from {path!r}: {e.strerror}")
    return parse_config(text, path)


def parse_config(text, source):
    try:
        docs = standin_yaml.load_all(text, source)
    except standin_yaml.YamlError as e:
        raise common.StandinError(f"{e} (stand-in YAML reader)")
    cfg = Config()
    errors = []
    for n, doc in enumerate(docs):
        where = f"{source}: document {n + 1}"
        if not isinstance(doc, dict):
            errors.append(f"{where}: expected a mapping with apiVersion and kind")
            continue
        api, kind = doc.get("apiVersion"), doc.get("kind")
        if not isinstance(api, str) or not isinstance(kind, str) or not api or not kind:
            errors.append(f"{where}: 'apiVersion' and 'kind' are required strings")
            continue
        group, _, version = api.rpartition("/")
        if group == KUBEADM_GROUP:
            if version not in ("v1beta3", "v1beta4"):
                errors.append(f"{where}: no kind {kind!r} is registered for version {api!r} "
                              "(the kubeadm 1.34 stand-in accepts v1beta3 and v1beta4)")
                continue
            kinds = _schemas(version)
            if kind not in kinds:
                extra = " (ResetConfiguration is v1beta4 only)" if kind == "ResetConfiguration" else ""
                errors.append(f"{where}: no kind {kind!r} is registered for version {api!r}{extra}")
                continue
            errs = []
            _check(doc, kinds[kind], "", errs)
            if not errs:
                _semantic(kind, version, doc, errs)
            errors.extend(f"{where} ({kind}): {e}" for e in errs)
            if version == "v1beta3":
                cfg.warnings.append(f"{kind}: kubeadm.k8s.io/v1beta3 is deprecated since 1.31; use v1beta4")
        elif api == "kubelet.config.k8s.io/v1beta1" and kind == "KubeletConfiguration":
            errors.extend(f"{where} (KubeletConfiguration): {k}: unknown field \"{k}\"" for k in doc if k not in KUBELET_FIELDS)
            cd = doc.get("cgroupDriver")
            if cd is not None and cd not in ("systemd", "cgroupfs"):
                errors.append(f"{where} (KubeletConfiguration): cgroupDriver: must be systemd or cgroupfs")
            for bkey in ("failSwapOn", "rotateCertificates", "serverTLSBootstrap"):
                if bkey in doc and doc[bkey] is not None and not isinstance(doc[bkey], bool):
                    errors.append(f"{where} (KubeletConfiguration): {bkey}: expected a boolean")
        elif api == "kubeproxy.config.k8s.io/v1alpha1" and kind == "KubeProxyConfiguration":
            errors.extend(f"{where} (KubeProxyConfiguration): {k}: unknown field \"{k}\"" for k in doc if k not in KUBE_PROXY_FIELDS)
            mode = doc.get("mode")
            if mode is not None and mode not in ("", "iptables", "ipvs", "nftables"):
                errors.append(f"{where} (KubeProxyConfiguration): mode: unsupported value {mode!r}")
        else:
            errors.append(f"{where}: unknown apiVersion/kind {api}/{kind}")
            continue
        if kind in cfg.docs:
            errors.append(f"{where}: duplicate {kind} document")
            continue
        cfg.docs[kind] = doc
        cfg.versions[kind] = version if group == KUBEADM_GROUP else api
    if errors:
        raise common.StandinError("invalid configuration (stand-in strict validation):\n  " + "\n  ".join(errors))
    return cfg


def extra_args_list(value):
    """extraArgs in either format as an ordered list of (name, value)."""
    if value is None:
        return []
    if isinstance(value, dict):
        return list(value.items())
    return [(a["name"], a["value"]) for a in value]


def join_config_from_doc(doc):
    """A JoinConfiguration built from `kubeadm join` flags, checked like one read from a file."""
    errors = []
    _check(doc, _schemas("v1beta4")["JoinConfiguration"], "", errors)
    if not errors:
        _semantic("JoinConfiguration", "v1beta4", doc, errors)
    if errors:
        raise common.StandinError("invalid configuration (stand-in strict validation):\n  " + "\n  ".join(errors))
    cfg = Config()
    cfg.docs["JoinConfiguration"] = doc
    cfg.versions["JoinConfiguration"] = "v1beta4"
    return cfg
