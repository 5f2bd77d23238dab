# STAND-IN support code from kubeha's test tree (test/standins): NOT part of Kubernetes.
# What the kubelet and kube-proxy stand-ins share for binary mode ("the hard way"):
# - reading their config files (KubeletConfiguration, KubeProxyConfiguration) as the real ones decode
#   them: a wrong apiVersion/kind or a value of the wrong type ends the process ("failed to decode:
#   ..."), while unknown fields do NOT: both real components try strict decoding first and, when only
#   the strict checks failed, decode leniently and log
#   `"Using lenient decoding as strict decoding failed" err="strict decoding error: unknown field ..."`
#   (pkg/kubelet/kubeletconfig/util/codec and cmd/kube-proxy/app/server.go loadConfig); the stand-ins
#   log the same line and go on;
# - the kubelet's --node-labels check (cmd/kubelet/app/options ValidateKubeletFlags: labels under
#   kubernetes.io / k8s.io outside the kubelet's allowed set are refused at start, the rule the
#   NodeRestriction admission plugin enforces on the API side);
# - the kubelet's TLS bootstrap client side: a key and CSR made with `openssl` (ECDSA P-256, as the
#   real kubelet's), the certificates.k8s.io/v1 CSR created with the bootstrap token, polled until it
#   is approved and issued, the kubelet-client-<timestamp>.pem file (certificate + key, 0600) with the
#   kubelet-client-current.pem symlink, and the kubeconfig that points at that symlink.
"""Node-side helpers of the kubeha kubelet and kube-proxy stand-ins (stdlib only)."""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time

import standin_common as common
import standin_yaml

# --- config decoding ---------------------------------------------------------------------------

_JSON_TYPES = {str: "string", bool: "bool", int: "number", float: "number", dict: "object", list: "array"}


class DecodeError(Exception):
    """The config cannot be decoded (the real components' `failed to decode: ...`)."""


def _json_type(v):
    return "bool" if isinstance(v, bool) else _JSON_TYPES.get(type(v), type(v).__name__)


def _check(value, spec, path, kind, unknown, gopath=None):
    """Type-check `value` against `spec` (a Go type name, ("object", {field: spec}) or ("list", spec));
    collects unknown object fields into `unknown` (as the strict decoder names them: `a.b[0].c`), raises
    DecodeError on a type Go's decoder refuses (named by Go's struct field path `a.b.c`)."""
    gopath = path if gopath is None else gopath
    if value is None:
        return
    if isinstance(spec, tuple) and spec[0] == "object":
        if not isinstance(value, dict):
            raise DecodeError(f"json: cannot unmarshal {_json_type(value)} into Go struct field {kind}.{gopath} of type "
                              "struct")
        for k, v in value.items():
            sub = f"{path}.{k}" if path else k
            if spec[1] is None:  # a map, or a struct the stand-in does not look into
                continue
            if k not in spec[1]:
                unknown.append(sub)
                continue
            _check(v, spec[1][k], sub, kind, unknown, f"{gopath}.{k}" if gopath else k)
        return
    if isinstance(spec, tuple) and spec[0] == "list":
        if not isinstance(value, list):
            raise DecodeError(f"json: cannot unmarshal {_json_type(value)} into Go struct field {kind}.{gopath} of type "
                              f"[]{spec[1] if isinstance(spec[1], str) else 'struct'}")
        for i, v in enumerate(value):
            _check(v, spec[1], f"{path}[{i}]", kind, unknown, gopath)
        return
    if spec is None:
        return
    want = {"string": str, "duration": str, "bool": bool}.get(spec)
    if spec in ("int32", "int64", "float"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (spec == "float" or float(value).is_integer())
    elif want is not None:
        ok = isinstance(value, want)
    else:
        ok = True
    if not ok:
        gotype = "v1.Duration" if spec == "duration" else spec
        raise DecodeError(f"json: cannot unmarshal {_json_type(value)} into Go struct field {kind}.{gopath} of type {gotype}")
    if spec == "duration":
        try:
            common.parse_duration(value)
        except common.StandinError:
            raise DecodeError(f"time: invalid duration \"{value}\"")


def decode_config(text, source, kind, api_version, fields):
    """(config dict, [unknown field paths]) as the real component's decoder sees the file."""
    try:
        doc = standin_yaml.load(text, source)
    except standin_yaml.YamlError as e:
        raise DecodeError(f"error converting YAML to JSON: {e}")
    if not isinstance(doc, dict):
        raise DecodeError("couldn't get version/kind; json parse error: json: cannot unmarshal "
                          f"{_json_type(doc)} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; "
                          "Kind string \"json:\\\"kind,omitempty\\\"\" }")
    if not doc.get("kind"):
        raise DecodeError(f"Object 'Kind' is missing in '{json.dumps(doc, separators=(',', ':'))}'")
    if doc.get("apiVersion") != api_version or doc.get("kind") != kind:
        raise DecodeError(f"no kind \"{doc.get('kind')}\" is registered for version \"{doc.get('apiVersion')}\"")
    unknown = []
    _check(doc, ("object", {"apiVersion": "string", "kind": "string", **fields}), "", kind, unknown)
    return doc, unknown


def lenient_line(unknown):
    """The line both real components log when only strict decoding failed."""
    return ('"Using lenient decoding as strict decoding failed" err="strict decoding error: '
            + ", ".join(f'unknown field \\"{u}\\"' for u in unknown) + '"')


# --- the kubelet's --node-labels rule ----------------------------------------------------------

KUBELET_LABEL_NAMESPACES = ["kubelet.kubernetes.io", "node.kubernetes.io"]
KUBELET_LABELS = ["beta.kubernetes.io/arch", "beta.kubernetes.io/instance-type", "beta.kubernetes.io/os",
                  "failure-domain.beta.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone",
                  "kubernetes.io/arch", "kubernetes.io/hostname", "kubernetes.io/os", "node.kubernetes.io/instance-type",
                  "topology.kubernetes.io/region", "topology.kubernetes.io/zone"]


def parse_node_labels(text):
    """`k=v,k2=v2` as the kubelet's mapStringString flag parses it."""
    labels = {}
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        if "=" not in item:
            raise common.StandinError(f"invalid argument \"{text}\" for \"--node-labels\" flag: malformed pair, "
                                      f"expect string=string")
        k, v = item.split("=", 1)
        labels[k.strip()] = v.strip()
    return labels


def _is_kubernetes_label(key):
    ns = key.split("/", 1)[0] if "/" in key else ""
    return any(ns == d or ns.endswith("." + d) for d in ("kubernetes.io", "k8s.io"))


def check_node_labels(labels):
    """ValidateKubeletFlags' refusal of kubernetes.io/k8s.io labels outside the kubelet's set."""
    bad = sorted(k for k in labels if _is_kubernetes_label(k) and k not in KUBELET_LABELS and
                 not any(k.split("/", 1)[0] == ns or k.split("/", 1)[0].endswith("." + ns) for ns in KUBELET_LABEL_NAMESPACES))
    if bad:
        raise common.StandinError(
            "failed to validate kubelet flags: unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels: "
            f"[{' '.join(bad)}]\n--node-labels in the 'kubernetes.io' namespace must begin with an allowed prefix "
            f"({', '.join(KUBELET_LABEL_NAMESPACES)}) or be in the specifically allowed set ({', '.join(KUBELET_LABELS)})")


# --- TLS bootstrap (client side) ---------------------------------------------------------------

PKI_DIR = "/var/lib/kubelet/pki"
CURRENT = "kubelet-client-current.pem"
SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
CSR_PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests"


def _openssl(args, cwd):
    r = subprocess.run(["openssl"] + args, capture_output=True, cwd=cwd)
    if r.returncode != 0:
        raise common.StandinError(f"openssl {args[0]} failed: {r.stderr.decode(errors='replace')[-300:]}")
    return r.stdout


def make_key_and_csr(node):
    """(key PEM, CSR PEM) for CN=system:node:<node>, O=system:nodes, made in a private directory."""
    d = tempfile.mkdtemp(prefix="kubeha-standin-csr-")
    try:
        _openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "key.pem"], d)
        _openssl(["req", "-new", "-key", "key.pem", "-out", "csr.pem", "-subj", f"/O=system:nodes/CN=system:node:{node}"], d)
        with open(os.path.join(d, "key.pem"), "rb") as f:
            key = f.read()
        with open(os.path.join(d, "csr.pem"), "rb") as f:
            csr = f.read()
        return key, csr
    finally:
        shutil.rmtree(d, ignore_errors=True)


def csr_object(csr_pem):
    """The certificates.k8s.io/v1 CSR the real kubelet creates for its client certificate."""
    return {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"generateName": "node-csr-"},
            "spec": {"request": base64.b64encode(csr_pem).decode(), "signerName": SIGNER,
                     "usages": ["digital signature", "client auth"]}}


def request_certificate(server, ctx, token, csr_pem, deadline_s, tag, stop=None):
    """Creates the CSR with the bootstrap token and polls it until it is issued; returns the certificate PEM.
    Raises StandinError when it is denied or failed, or not issued within `deadline_s`."""
    _, created = common.https("POST", server + CSR_PATH, ctx, body=csr_object(csr_pem), token=token, timeout=5.0)
    name = ((created or {}).get("metadata") or {}).get("name")
    if not isinstance(name, str) or not name:
        raise common.StandinError(f"the API server answered the CSR create without metadata.name: {str(created)[:200]}")
    common.say(tag, f"certificate signing request {name} created (signer {SIGNER}); waiting for approval and issuance")
    end = time.monotonic() + deadline_s
    while time.monotonic() < end and not (stop and stop.is_set()):
        _, csr = common.https("GET", f"{server}{CSR_PATH}/{name}", ctx, token=token, timeout=5.0)
        status = (csr or {}).get("status") or {}
        for c in status.get("conditions") or []:
            if c.get("type") in ("Denied", "Failed") and c.get("status") == "True":
                raise common.StandinError(f"certificate signing request {name} is {c['type'].lower()}: "
                                          f"{c.get('reason', '')} {c.get('message', '')}".rstrip())
        approved = any(c.get("type") == "Approved" and c.get("status") == "True" for c in status.get("conditions") or [])
        if approved and status.get("certificate"):
            return base64.b64decode(status["certificate"]), name
        time.sleep(0.5)
    raise common.StandinError(f"timed out waiting for the certificate of CSR {name} (approved and issued) after "
                              f"{deadline_s:.0f}s")


def store_client_pair(cert_pem, key_pem):
    """kubelet-client-<timestamp>.pem (certificate then key, 0600) and the kubelet-client-current.pem
    symlink, as the real kubelet's certificate store writes them; returns the symlink's path."""
    stamp = time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime())
    name = f"kubelet-client-{stamp}.pem"
    common.write_file(f"{PKI_DIR}/{name}", cert_pem.rstrip(b"\n") + b"\n" + key_pem, 0o600)
    link = common.root(f"{PKI_DIR}/{CURRENT}")
    tmp = link + ".tmp"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(name, tmp)
    os.replace(tmp, link)
    return f"{PKI_DIR}/{CURRENT}"


def kubelet_kubeconfig(server, ca_pem, cluster_name, pair_path):
    """The kubeconfig the real kubelet writes after TLS bootstrap: the client pair by file reference."""
    doc = {"apiVersion": "v1", "kind": "Config",
           "clusters": [{"name": cluster_name, "cluster": {
               "certificate-authority-data": base64.b64encode(ca_pem.encode()).decode(), "server": server}}],
           "contexts": [{"name": "default-context", "context": {"cluster": cluster_name, "namespace": "default",
                                                                "user": "default-auth"}}],
           "current-context": "default-context",
           "users": [{"name": "default-auth", "user": {"client-certificate": pair_path, "client-key": pair_path}}]}
    return ("# STAND-IN kubeconfig written by the kubelet stand-in (kubeha test tree) after TLS bootstrap.\n"
            + standin_yaml.dump(doc))


def read_client_pair(path):
    """(cert PEM, key PEM) from a combined PEM file such as kubelet-client-current.pem."""
    data = common.read_bytes(path).decode()
    cert = "".join(f"-----BEGIN CERTIFICATE-----\n{base64.encodebytes(d).decode()}-----END CERTIFICATE-----\n"
                   for d in common.pem_blocks(data, "CERTIFICATE"))
    key = ""
    for label in ("EC PRIVATE KEY", "PRIVATE KEY", "RSA PRIVATE KEY"):
        i = data.find(f"-----BEGIN {label}-----")
        if i >= 0:
            end = f"-----END {label}-----"
            key = data[i:data.index(end, i) + len(end)] + "\n"
            break
    if not cert or not key:
        raise common.StandinError(f"{path}: no certificate and private key in it")
    return cert.encode(), key.encode()


def read_node_kubeconfig(path):
    """(server, CA PEM, credential) like common.read_kubeconfig, also taking client-certificate /
    client-key file references (what the kubelet writes after TLS bootstrap)."""
    _, cluster, user = common.load_kubeconfig(path)
    files = user or {}
    if isinstance(files.get("client-certificate"), str) and isinstance(files.get("client-key"), str):
        server = cluster.get("server")
        ca_data = cluster.get("certificate-authority-data")
        if not isinstance(server, str) or not server.startswith("https://") or not isinstance(ca_data, str):
            raise common.StandinError(f"{path}: the stand-ins need an https:// server and certificate-authority-data")
        cert, _ = read_client_pair(files["client-certificate"])
        _, key = read_client_pair(files["client-key"])
        return server, base64.b64decode(ca_data).decode(), common.ClientCert(cert, key)
    return common.read_kubeconfig(path)


def go_x509_message(e):
    """Go's wording of an OpenSSL verification failure (what the real components print)."""
    msg = getattr(e, "verify_message", "") or str(e)
    if any(s in msg for s in ("unable to get local issuer certificate", "self signed certificate", "self-signed certificate")):
        return "certificate signed by unknown authority"
    if "IP address mismatch" in msg or "Hostname mismatch" in msg:
        return f"certificate is not valid for the requested name ({msg})"
    return msg


# KubeletConfiguration v1beta1's top-level fields (kubelet-config.v1beta1 reference, 1.29 to 1.34); the
# fields the stand-in reads are typed, the others are taken as they are.
_ANY = ("object", None)
KUBELET_CONFIG_FIELDS = {
    **{f: None for f in (
        "enableServer", "podLogsDir", "syncFrequency", "fileCheckFrequency", "httpCheckFrequency", "staticPodURL",
        "staticPodURLHeader", "address", "port", "readOnlyPort", "tlsCertFile", "tlsPrivateKeyFile", "tlsCipherSuites",
        "tlsMinVersion", "serverTLSBootstrap", "registryPullQPS", "registryBurst",
        "imagePullCredentialsVerificationPolicy", "preloadedImagesVerificationAllowlist", "eventRecordQPS",
        "eventBurst", "enableDebuggingHandlers", "enableContentionProfiling", "oomScoreAdj",
        "streamingConnectionIdleTimeout", "nodeStatusUpdateFrequency", "nodeStatusReportFrequency",
        "nodeLeaseDurationSeconds", "imageMinimumGCAge", "imageMaximumGCAge", "imageGCHighThresholdPercent",
        "imageGCLowThresholdPercent", "volumeStatsAggPeriod", "kubeletCgroups", "systemCgroups", "cgroupRoot",
        "cgroupsPerQOS", "cpuManagerPolicy", "singleProcessOOMKill", "cpuManagerPolicyOptions",
        "cpuManagerReconcilePeriod", "memoryManagerPolicy", "topologyManagerPolicy", "topologyManagerScope",
        "topologyManagerPolicyOptions", "qosReserved", "runtimeRequestTimeout", "hairpinMode", "maxPods", "podCIDR",
        "podPidsLimit", "resolvConf", "runOnce", "cpuCFSQuota", "cpuCFSQuotaPeriod", "nodeStatusMaxImages",
        "maxOpenFiles", "contentType", "kubeAPIQPS", "kubeAPIBurst", "serializeImagePulls", "maxParallelImagePulls",
        "evictionHard", "evictionSoft", "evictionSoftGracePeriod", "evictionPressureTransitionPeriod",
        "evictionMaxPodGracePeriod", "evictionMinimumReclaim", "mergeDefaultEvictionSettings", "podsPerCore",
        "enableControllerAttachDetach", "protectKernelDefaults", "makeIPTablesUtilChains", "iptablesMasqueradeBit",
        "iptablesDropBit", "featureGates", "failSwapOn", "memorySwap", "containerLogMaxSize", "containerLogMaxFiles",
        "containerLogMaxWorkers", "containerLogMonitorInterval", "configMapAndSecretChangeDetectionStrategy",
        "systemReserved", "kubeReserved", "reservedSystemCPUs", "showHiddenMetricsForVersion", "systemReservedCgroup",
        "kubeReservedCgroup", "enforceNodeAllocatable", "allowedUnsafeSysctls", "volumePluginDir", "providerID",
        "kernelMemcgNotification", "logging", "enableSystemLogHandler", "enableSystemLogQuery", "shutdownGracePeriod",
        "shutdownGracePeriodCriticalPods", "shutdownGracePeriodByPodPriority", "crashLoopBackOff", "reservedMemory",
        "enableProfilingHandler", "enableDebugFlagsHandler", "seccompDefault", "memoryThrottlingFactor",
        "localStorageCapacityIsolation", "imageServiceEndpoint", "failCgroupV1", "userNamespaces", "tracing")},
    "staticPodPath": "string", "healthzPort": "int32", "healthzBindAddress": "string", "rotateCertificates": "bool",
    "registerNode": "bool", "cgroupDriver": "string", "clusterDomain": "string", "clusterDNS": ("list", "string"),
    "containerRuntimeEndpoint": "string",
    "authentication": ("object", {"x509": ("object", {"clientCAFile": "string"}), "webhook": _ANY, "anonymous": _ANY}),
    "authorization": ("object", {"mode": "string", "webhook": _ANY}),
    "registerWithTaints": ("list", ("object", {"key": "string", "value": "string", "effect": "string",
                                               "timeAdded": "string"})),
}
