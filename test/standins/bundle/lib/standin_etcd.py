# STAND-IN helper from kubeha's test tree (test/standins): NOT Kubernetes.
# Stacked etcd for the kubeadm and kubelet stand-ins: what kubeadm does for a local etcd member
# (cmd/kubeadm/app/phases/etcd/local.go and phases/certs): the etcd certificates under
# /etc/kubernetes/pki/etcd signed with the etcd CA (here with the `openssl` command, since Python's
# stdlib cannot sign), the etcd static pod manifest with kubeadm's flags, `member add` through the
# existing members before a joining member starts, `member remove` on reset. The member itself is the
# REAL etcd (Debian's etcd binary, shipped in the bundle as the static pod's "image"), run by the
# kubelet stand-in from the manifest's command.
"""Stacked etcd helpers for the stand-ins (stdlib + the openssl command)."""

import json
import os
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.request

import standin_common as common
import standin_yaml
from standin_common import StandinError

MANIFEST = "/etc/kubernetes/manifests/etcd.yaml"
# The static pod's "image": the real etcd binary the bundle ships (copied from a Debian etcd-server).
BINARY = "/usr/lib/kubeha-standins/etcd"
IMAGE = "registry.k8s.io/etcd:3.4.23-0"
UNIT = "etcd-static-pod-standin.service"
CLIENT_PORT = 2379
PEER_PORT = 2380
METRICS_URL = "http://127.0.0.1:2381"

# kubeadm's certificate list for a local etcd (certs.GetDefaultCertList), paths below the PKI dir.
CERTS = {
    "etcd-server": ("etcd/server", "server"),
    "etcd-peer": ("etcd/peer", "peer"),
    "etcd-healthcheck-client": ("etcd/healthcheck-client", "client"),
    "apiserver-etcd-client": ("apiserver-etcd-client", "client"),
}
CLIENT_CN = {"etcd-healthcheck-client": "kube-etcd-healthcheck-client",
             "apiserver-etcd-client": "kube-apiserver-etcd-client"}


def available():
    """True when the bundle shipped the etcd "image" (the real binary): only then does a stacked member
    run. Without it (the stand-ins' loopback tests, labs with external etcd) the kubeadm stand-in keeps
    its older simulation: no etcd, the apiserver stand-ins replicate a local store."""
    return os.path.exists(common.root(BINARY))


def _openssl(args):
    r = subprocess.run(["openssl"] + args, capture_output=True, text=True)
    if r.returncode != 0:
        raise StandinError(f"openssl {' '.join(args[:2])} failed: {r.stderr.strip()[-300:]}")
    return r.stdout


def sign(pki, rel, cn, kind, dns, ips, days=365):
    """A new RSA-2048 key and a certificate signed by pki/etcd/ca, as kubeadm issues them."""
    ca_crt, ca_key = common.root(f"{pki}/etcd/ca.crt"), common.root(f"{pki}/etcd/ca.key")
    for p in (ca_crt, ca_key):
        if not os.path.exists(p):
            raise StandinError(f"failure loading etcd/ca certificate authority: couldn't load the certificate file "
                               f"{p}: open {p}: no such file or directory")
    usages = "serverAuth,clientAuth" if kind in ("server", "peer") else "clientAuth"
    ext = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment",
           f"extendedKeyUsage={usages}", "authorityKeyIdentifier=keyid"]
    sans = [f"DNS:{d}" for d in dns] + [f"IP:{i}" for i in ips]
    if sans:
        ext.append("subjectAltName=" + ",".join(sans))
    crt, key = common.root(f"{pki}/{rel}.crt"), common.root(f"{pki}/{rel}.key")
    os.makedirs(os.path.dirname(crt), mode=0o700, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kubeadm-standin-") as d:
        k, csr, extf = os.path.join(d, "k"), os.path.join(d, "csr"), os.path.join(d, "ext")
        with open(extf, "w") as f:
            f.write("\n".join(ext) + "\n")
        _openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", k])
        _openssl(["req", "-new", "-key", k, "-subj", f"/CN={cn}", "-out", csr])
        _openssl(["x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-set_serial",
                  str(int.from_bytes(os.urandom(8), "big")), "-days", str(days), "-sha256", "-extfile", extf,
                  "-out", os.path.join(d, "crt")])
        shutil.copyfile(os.path.join(d, "crt"), crt + ".new")
        os.chmod(crt + ".new", 0o644)
        fd = os.open(key + ".new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f, open(k, "rb") as src:
            f.write(src.read())
    os.replace(key + ".new", key)
    os.replace(crt + ".new", crt)


def member_sans(node, adv):
    return [node, "localhost"], [adv, "127.0.0.1", "0:0:0:0:0:0:0:1"]


def ensure_certs(pki, node, adv, log):
    """kubeadm's certs phase for a local etcd: existing files are used, missing ones issued."""
    dns, ips = member_sans(node, adv)
    for name, (rel, kind) in CERTS.items():
        crt, key = f"{pki}/{rel}.crt", f"{pki}/{rel}.key"
        if common.exists(crt) and common.exists(key):
            common.check_key_pair(crt, key, f"{name} certificate")
            log("certs", f"Using the existing \"{name}\" certificate and key")
            continue
        cn = CLIENT_CN.get(name, node)
        sign(pki, rel, cn, kind, dns if kind != "client" else [], ips if kind != "client" else [])
        log("certs", f"Generating \"{name}\" certificate and key (stand-in: signed with openssl)")


def renew(pki, name):
    """`kubeadm certs renew NAME` for an etcd certificate: a new key and certificate with the old one's
    subject and SANs, signed by the etcd CA on this host."""
    rel, kind = CERTS[name]
    import ssl as _ssl
    with tempfile.NamedTemporaryFile("w", suffix=".crt") as f:
        f.write(common.read_text(f"{pki}/{rel}.crt"))
        f.flush()
        info = _ssl._ssl._test_decode_cert(f.name)
    cn = next((v for rdn in info.get("subject", ()) for k, v in rdn if k == "commonName"), name)
    dns = [v for k, v in info.get("subjectAltName", ()) if k == "DNS"]
    ips = [v.strip() for k, v in info.get("subjectAltName", ()) if k == "IP Address"]
    ips = ["0:0:0:0:0:0:0:1" if i.replace("0", "").strip(":") == "1" else i for i in ips]
    sign(pki, rel, cn, kind, dns, ips)


def manifest_text(pki, data_dir, node, adv, initial_cluster, state):
    """The etcd static pod, with kubeadm's command line (local.go getEtcdCommand)."""
    e = f"{pki}/etcd"
    command = [
        "etcd",
        f"--advertise-client-urls=https://{adv}:{CLIENT_PORT}",
        f"--cert-file={e}/server.crt",
        "--client-cert-auth=true",
        f"--data-dir={data_dir}",
        "--experimental-initial-corrupt-check=true",
        f"--initial-advertise-peer-urls=https://{adv}:{PEER_PORT}",
        f"--initial-cluster={initial_cluster}",
    ]
    if state == "existing":
        command.append("--initial-cluster-state=existing")
    command += [
        f"--key-file={e}/server.key",
        f"--listen-client-urls=https://127.0.0.1:{CLIENT_PORT},https://{adv}:{CLIENT_PORT}",
        f"--listen-metrics-urls={METRICS_URL}",
        f"--listen-peer-urls=https://{adv}:{PEER_PORT}",
        f"--name={node}",
        f"--peer-cert-file={e}/peer.crt",
        "--peer-client-cert-auth=true",
        f"--peer-key-file={e}/peer.key",
        f"--peer-trusted-ca-file={e}/ca.crt",
        "--snapshot-count=10000",
        f"--trusted-ca-file={e}/ca.crt",
    ]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "annotations": {"kubeadm.kubernetes.io/etcd.advertise-client-urls": f"https://{adv}:{CLIENT_PORT}"},
            "labels": {"component": "etcd", "tier": "control-plane"},
            "name": "etcd",
            "namespace": "kube-system",
        },
        "spec": {
            "containers": [{
                "command": command,
                "image": IMAGE,
                "imagePullPolicy": "IfNotPresent",
                "name": "etcd",
                "volumeMounts": [{"mountPath": data_dir, "name": "etcd-data"}, {"mountPath": e, "name": "etcd-certs"}],
            }],
            "hostNetwork": True,
            "priorityClassName": "system-node-critical",
            "volumes": [{"hostPath": {"path": e, "type": "DirectoryOrCreate"}, "name": "etcd-certs"},
                        {"hostPath": {"path": data_dir, "type": "DirectoryOrCreate"}, "name": "etcd-data"}],
        },
    }
    return ("# STAND-IN: written by the kubeadm stand-in (kubeha test tree). The kubelet stand-in runs the REAL\n"
            f"# etcd binary {BINARY} (Debian's etcd 3.4.23, the bundle's stand-in for the image) with this command.\n"
            + standin_yaml.dump(pod))


def manifest_command(text, where=MANIFEST):
    """The etcd container's command from a static pod manifest, or None when it is not kubeadm's etcd pod."""
    try:
        pod = standin_yaml.load(text, where)
    except Exception:  # noqa: BLE001 - any parse error: not an etcd pod
        return None
    if not isinstance(pod, dict) or pod.get("kind") != "Pod":
        return None
    meta = pod.get("metadata") or {}
    if meta.get("name") != "etcd" or (meta.get("labels") or {}).get("component") != "etcd":
        return None
    containers = (pod.get("spec") or {}).get("containers") or []
    if not containers or not isinstance(containers[0].get("command"), list):
        return None
    return [str(a) for a in containers[0]["command"]], containers[0].get("image")


def flag(command, name):
    return next((a.split("=", 1)[1] for a in command if a.startswith(f"--{name}=")), None)


def unit_argv(command):
    """The etcd container's command as the unit runs it: the bundle's real etcd binary for `etcd`."""
    if not command or command[0] != "etcd":
        raise StandinError(f"container command {command[:1]!r}: the stand-in runs only the etcd image's `etcd`")
    if not common.exists(BINARY) and not common.no_systemd():
        raise StandinError(f"Failed to pull image \"{IMAGE}\": the bundle has no real etcd at {BINARY} "
                           "(stand-in: `kubeha lab up --etcd stacked` ships one)")
    return [BINARY] + command[1:]


def start(command):
    """(Re)starts the pod's unit. Like the kubelet restarting a crashing container (CrashLoopBackOff), systemd
    never gives up on it (StartLimitIntervalSec=0): a member that cannot start yet keeps trying."""
    argv = unit_argv(command)
    if common.no_systemd():
        common.start_process_unit(UNIT, argv)
        return
    text = common.unit_text("etcd static pod: REAL etcd run by the kubelet STAND-IN (kubeha test tree)", argv, 2)
    common.write_file(f"/etc/systemd/system/{UNIT}", text.replace("[Unit]\n", "[Unit]\nStartLimitIntervalSec=0\n", 1), 0o644)
    for verb in (["daemon-reload"], ["enable", UNIT], ["restart", UNIT]):
        r = subprocess.run(["systemctl"] + verb, capture_output=True, text=True)
        if r.returncode != 0:
            raise StandinError(f"systemctl {' '.join(verb)} failed: {r.stderr.strip()[-300:]}")


def stop(remove=False):
    common.stop_unit(UNIT, remove=remove)


def wait_healthy(timeout, log):
    """kubeadm's wait for the local etcd member: its metrics URL answers /health with health true."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(METRICS_URL + "/health", timeout=2) as r:
                body = json.loads(r.read() or b"{}")
                if str(body.get("health")) == "true":
                    log("etcd", "The local etcd member is healthy")
                    return
                last = json.dumps(body)
        except Exception as e:  # noqa: BLE001
            last = f"{e.__class__.__name__}: {e}"
        time.sleep(0.5)
    raise StandinError(f"etcd cluster is not healthy: failed to dial endpoint {METRICS_URL}/health within "
                       f"{int(timeout)}s (last: {last}); see `journalctl -u {UNIT}`")


class Client:
    """etcd v3 cluster API through its JSON gateway with a client certificate (kubeadm uses the
    apiserver-etcd-client certificate), each endpoint in turn."""

    def __init__(self, pki, endpoints):
        self.endpoints = list(endpoints)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.ctx.load_verify_locations(common.root(f"{pki}/etcd/ca.crt"))
        self.ctx.load_cert_chain(common.root(f"{pki}/apiserver-etcd-client.crt"),
                                 common.root(f"{pki}/apiserver-etcd-client.key"))

    def call(self, path, body, endpoints=None):
        last = "no endpoints"
        for ep in endpoints or self.endpoints:
            req = urllib.request.Request(ep + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, context=self.ctx, timeout=5) as r:
                    return json.loads(r.read() or b"{}")
            except urllib.error.HTTPError as e:
                last = f"{ep}: HTTP {e.code}: {e.read().decode(errors='replace').strip()[:300]}"
            except Exception as e:  # noqa: BLE001
                last = f"{ep}: {e.__class__.__name__}: {e}"
        raise StandinError(f"etcd: {path} failed on every endpoint (last: {last})")

    def members(self):
        return self.call("/v3/cluster/member/list", {}).get("members") or []

    def add(self, peer_url):
        return self.call("/v3/cluster/member/add", {"peerURLs": [peer_url]})

    def remove(self, member_id, endpoints=None):
        return self.call("/v3/cluster/member/remove", {"ID": member_id}, endpoints)


def initial_cluster(members, node, new_id):
    parts = []
    for m in members:
        name = m.get("name") or (node if m.get("ID") == new_id else "")
        if not name:
            continue  # another member added but not started yet: etcd refuses it in --initial-cluster
        for u in m.get("peerURLs") or []:
            parts.append(f"{name}={u}")
    return ",".join(parts)


def join(pki, endpoints, node, adv, log):
    """kubeadm's etcd join: `member add` through the existing members, then the initial cluster for the
    manifest (every started member plus this one)."""
    client = Client(pki, endpoints)
    peer = f"https://{adv}:{PEER_PORT}"
    members = client.members()
    mine = next((m for m in members if peer in (m.get("peerURLs") or [])), None)
    if mine and mine.get("name") and mine.get("name") != node:
        raise StandinError(f"etcd: a member {mine['name']!r} already has the peer URL {peer}: remove it first "
                           "(etcdctl member remove)")
    if mine:
        log("etcd", f"[etcd] Member with peer URL {peer} already exists (ID {mine['ID']}): reusing it")
        new_id = mine["ID"]
    else:
        out = client.add(peer)
        new_id = out["member"]["ID"]
        members = out.get("members") or client.members()
        log("etcd", f"[etcd] Added member {node} ({peer}) to the etcd cluster (ID {new_id})")
    return initial_cluster(members, node, new_id)


def remove_local_member(pki, log):
    """kubeadm reset's remove-etcd-member phase: this host's member leaves the cluster through the
    others (a warning, not an error, when etcd cannot be reached)."""
    try:
        cmd = manifest_command(common.read_text(MANIFEST))
    except OSError:
        cmd = None
    if not cmd:
        return
    command = cmd[0]
    peer = flag(command, "initial-advertise-peer-urls")
    candidates = ["https://127.0.0.1:2379"] + [u.split("=", 1)[1].replace(f":{PEER_PORT}", f":{CLIENT_PORT}")
                                               for u in (flag(command, "initial-cluster") or "").split(",") if "=" in u]
    try:
        client = Client(pki, candidates)
        members = client.members()
        mine = next((m for m in members if peer in (m.get("peerURLs") or [])), None)
        if not mine:
            log("reset", f"[reset] No etcd member with peer URL {peer}: nothing to remove")
            return
        others = [u for m in members if m is not mine for u in (m.get("clientURLs") or [])]
        client.remove(mine["ID"], others or None)
        log("reset", f"[reset] Removed this host's etcd member {mine.get('name') or mine['ID']} from the cluster")
    except (StandinError, OSError, ssl.SSLError) as e:
        common.warn("kubeadm reset", f"[reset] Failed to remove etcd member: {e}. Please manually remove this etcd "
                    "member using etcdctl")
