# STAND-IN support code from kubeha's test tree (test/standins): NOT part of Kubernetes.
# Shared by the kubeadm, kubelet, kubectl and kube-apiserver stand-ins: paths, PEM/DER, the CA pin,
# kubeconfigs, HTTPS calls, systemd units, and the sealed "uploaded certs" record.
#
# Test-only environment (never set in the lab or in production):
#   KUBEADM_STANDIN_ROOT=/dir      prefix for every absolute path the stand-ins touch
#   KUBEADM_STANDIN_NO_SYSTEMD=1   run "units" as detached child processes (pid files under
#                                  $ROOT/run/kubeha-standin) instead of calling systemctl
#   KUBEADM_STANDIN_DISCOVERY_TIMEOUT=SECONDS  cap of join discovery retries (default 15)
"""Common helpers for the kubeha Kubernetes stand-ins (stdlib only)."""

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import ssl
import threading
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import standin_yaml



def _installed_version():
    """The Kubernetes version this bundle stands in for: the VERSION file installed beside these
    modules (/usr/lib/kubeha-standins/VERSION; lib/VERSION in the source tree). A bundle for another
    version is the same stand-ins with another VERSION, as a real bundle is other binaries."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "VERSION")
    with open(path, encoding="utf-8") as f:
        v = "".join(line for line in f if not line.startswith("#")).strip()
    if not re.fullmatch(r"1\.\d+\.\d+", v):
        raise SystemExit(f"[stand-in] error: {path} must hold a version 1.MINOR.PATCH, not {v!r}")
    return v


KUBERNETES_VERSION = _installed_version()
GIT_VERSION = f"v{KUBERNETES_VERSION}-standin"
STANDIN_NOTE = "stand-in from kubeha's test tree, not Kubernetes"
TOKEN_RE = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
TOKEN_ID_RE = re.compile(r"^[a-z0-9]{6}$")
CERT_KEY_RE = re.compile(r"^[0-9a-f]{64}$")
CA_HASH_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
UPLOADED_CERTS_TTL = 2 * 3600  # kubeadm's DefaultCertTokenDuration

BIN_DIR = os.path.dirname(os.path.realpath(sys.argv[0]))


class StandinError(Exception):
    """A failure the stand-in reports as `error: ...` and exit status 1."""


def root(path):
    """`path` under $KUBEADM_STANDIN_ROOT (test-only), else unchanged."""
    prefix = os.environ.get("KUBEADM_STANDIN_ROOT", "")
    if prefix and path.startswith("/"):
        return prefix.rstrip("/") + path
    return path


def no_systemd():
    return os.environ.get("KUBEADM_STANDIN_NO_SYSTEMD") == "1"


def say(tag, msg, stream=None):
    """Every line a stand-in prints carries 'stand-in' so nobody mistakes it for Kubernetes."""
    print(f"[stand-in {tag}] {msg}", file=stream or sys.stdout, flush=True)


def warn(tag, msg):
    say(tag, "WARNING: " + msg, sys.stderr)


def read_text(path):
    with open(root(path), "r", encoding="utf-8") as f:
        return f.read()


def read_bytes(path):
    with open(root(path), "rb") as f:
        return f.read()


def exists(path):
    return os.path.exists(root(path))


def write_file(path, data, mode):
    """Atomic write with `mode` set before the content lands (keys are 0600 from the start)."""
    real = root(path)
    os.makedirs(os.path.dirname(real), exist_ok=True)
    tmp = f"{real}.standin-tmp-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data.encode() if isinstance(data, str) else data)
    finally:
        os.close(fd)
    os.replace(tmp, real)


# -- PEM / DER ---------------------------------------------------------------------------------

def pem_blocks(text, label):
    pattern = re.compile(r"-----BEGIN " + label + r"-----\s*(.*?)\s*-----END " + label + r"-----", re.S)
    return [base64.b64decode("".join(m.group(1).split())) for m in pattern.finditer(text)]


def _der_tlv(data, pos):
    """(tag, start of value, end of value) of the DER element at `pos`."""
    if pos + 2 > len(data):
        raise StandinError("truncated DER")
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or pos + n > len(data):
            raise StandinError("unsupported DER length")
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    if pos + length > len(data):
        raise StandinError("truncated DER")
    return tag, pos, pos + length


def spki_der(cert_der):
    """The DER SubjectPublicKeyInfo of an X.509 certificate (RFC 5280 field order)."""
    tag, s, _ = _der_tlv(cert_der, 0)
    if tag != 0x30:
        raise StandinError("not a DER certificate")
    tag, tbs, tbs_end = _der_tlv(cert_der, s)
    if tag != 0x30:
        raise StandinError("not a DER certificate (tbsCertificate)")
    pos = tbs
    fields = []
    while pos < tbs_end and len(fields) < 7:
        t, vs, ve = _der_tlv(cert_der, pos)
        fields.append((t, pos, ve))
        pos = ve
    if fields and fields[0][0] == 0xA0:  # explicit version
        fields = fields[1:]
    # serial, signature, issuer, validity, subject, subjectPublicKeyInfo
    if len(fields) < 6 or fields[5][0] != 0x30:
        raise StandinError("certificate has no SubjectPublicKeyInfo where expected")
    _, start, end = fields[5]
    return cert_der[start:end]


def ca_cert_hash(cert_pem):
    """kubeadm's discovery pin: sha256 of the CA certificate's DER SubjectPublicKeyInfo."""
    ders = pem_blocks(cert_pem, "CERTIFICATE")
    if not ders:
        raise StandinError("no PEM CERTIFICATE found")
    return "sha256:" + hashlib.sha256(spki_der(ders[0])).hexdigest()


def check_key_pair(cert_path, key_path, what):
    """Let OpenSSL (via ssl) prove the key belongs to the certificate."""
    for p in (cert_path, key_path):
        if not exists(p):
            raise StandinError(f"{what}: {p} is missing (kubeha places it before kubeadm runs)")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(root(cert_path), root(key_path))
    except (ssl.SSLError, OSError) as e:
        raise StandinError(f"{what}: {cert_path} and {key_path} are not a valid certificate/key pair ({e.__class__.__name__})")


# -- tokens, admin credential, sealed certs ----------------------------------------------------

def check_token(token, what="token"):
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        raise StandinError(f"{what} does not match the bootstrap token format [a-z0-9]{{6}}.[a-z0-9]{{16}}")


def admin_token(ca_key_bytes):
    """Bearer credential of admin.conf, derived from the cluster CA key: every control plane holding
    the CA key can mint it, as every control plane holding ca.key can sign an admin client cert with
    the real kubeadm. (Stand-in simplification: a client certificate would need X.509 signing.)"""
    return hmac.new(ca_key_bytes, b"kubeha-standin-admin-v1", hashlib.sha256).hexdigest()


def _keystream(key, nonce, n):
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hmac.new(key, nonce + counter.to_bytes(8, "big"), hashlib.sha256).digest()
        counter += 1
    return bytes(out[:n])


def seal(cert_key_hex, plaintext):
    """Encrypt-then-MAC with keys derived from the 32-byte certificate key (HMAC-SHA256 keystream).
    Stand-in simplification of kubeadm's AES-GCM kubeadm-certs Secret: same contract (the right key
    opens it, a wrong key fails authentication), different cipher, since Python has no AES."""
    key = bytes.fromhex(cert_key_hex)
    enc = hmac.new(key, b"enc", hashlib.sha256).digest()
    mac = hmac.new(key, b"mac", hashlib.sha256).digest()
    nonce = os.urandom(16)
    ct = bytes(a ^ b for a, b in zip(plaintext, _keystream(enc, nonce, len(plaintext))))
    tag = hmac.new(mac, nonce + ct, hashlib.sha256).digest()
    return {"nonce": base64.b64encode(nonce).decode(), "data": base64.b64encode(ct).decode(),
            "mac": base64.b64encode(tag).decode()}


def unseal(cert_key_hex, box):
    key = bytes.fromhex(cert_key_hex)
    enc = hmac.new(key, b"enc", hashlib.sha256).digest()
    mac = hmac.new(key, b"mac", hashlib.sha256).digest()
    nonce = base64.b64decode(box["nonce"])
    ct = base64.b64decode(box["data"])
    want = hmac.new(mac, nonce + ct, hashlib.sha256).digest()
    if not hmac.compare_digest(want, base64.b64decode(box["mac"])):
        raise StandinError("error decoding secret data with provided key: message authentication failed "
                           "(wrong certificate key?)")
    return bytes(a ^ b for a, b in zip(ct, _keystream(enc, nonce, len(ct))))


def jws_detached(token, payload):
    """kubeadm's cluster-info signature: a detached HS256 JWS keyed by the token secret."""
    token_id, secret = token.split(".")
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": token_id}, separators=(",", ":")).encode()).rstrip(b"=")
    body = base64.urlsafe_b64encode(payload.encode()).rstrip(b"=")
    sig = base64.urlsafe_b64encode(hmac.new(secret.encode(), header + b"." + body, hashlib.sha256).digest()).rstrip(b"=")
    return (header + b".." + sig).decode()


def jws_verify(token, payload, detached):
    token_id, secret = token.split(".")
    parts = detached.split(".")
    if len(parts) != 3 or parts[1] != "":
        return False
    expected = jws_detached(token, payload)
    return hmac.compare_digest(expected.encode(), detached.encode())


# -- durations ---------------------------------------------------------------------------------

_DUR_RE = re.compile(r"^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def parse_duration(text, what="duration"):
    """Seconds in a Go duration string ("24h", "1h30m", "0")."""
    if not isinstance(text, str):
        raise StandinError(f"{what}: expected a duration string like \"24h\", got {text!r}")
    if text == "0":
        return 0.0
    rest = text
    total = 0.0
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    if not rest:
        raise StandinError(f"{what}: empty duration")
    while rest:
        m = _DUR_RE.match(rest)
        if not m:
            raise StandinError(f"{what}: invalid duration {text!r} (Go syntax, e.g. \"24h\" or \"1h30m\")")
        total += float(m.group(1)) * units[m.group(2)]
        rest = rest[m.end():]
    return total


def rfc3339(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


# -- kubeconfig --------------------------------------------------------------------------------

def kubeconfig_text(server, ca_pem, user, token, cluster_name, why):
    doc = {
        "apiVersion": "v1",
        "clusters": [{"cluster": {"certificate-authority-data": base64.b64encode(ca_pem.encode()).decode(),
                                  "server": server}, "name": cluster_name}],
        "contexts": [{"context": {"cluster": cluster_name, "user": user}, "name": f"{user}@{cluster_name}"}],
        "current-context": f"{user}@{cluster_name}",
        "kind": "Config",
        "preferences": {},
        "users": [{"name": user, "user": {"token": token}}],
    }
    head = ("# STAND-IN kubeconfig written by the kubeadm stand-in (kubeha test tree), not by Kubernetes.\n"
            f"# {why}\n")
    return head + standin_yaml.dump(doc)


class ClientCert:
    """A kubeconfig's client certificate and key (PEM). Passed where a bearer token goes: https()
    loads it into the TLS context instead of sending an Authorization header."""

    def __init__(self, cert_pem, key_pem):
        self.cert_pem = cert_pem
        self.key_pem = key_pem

    def load_into(self, ctx):
        # ssl loads client keys from files only: a private 0700 directory, removed at once.
        d = tempfile.mkdtemp(prefix="kubeha-standin-")
        try:
            cert, key = os.path.join(d, "client.crt"), os.path.join(d, "client.key")
            for path, data in ((cert, self.cert_pem), (key, self.key_pem)):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
            ctx.load_cert_chain(cert, key)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def __repr__(self):
        return "ClientCert(<redacted>)"


def load_kubeconfig(path, rooted=True):
    """The parsed kubeconfig and its current context's (cluster, user) entries, with clientcmd's errors."""
    try:
        with open(root(path) if rooted else path, encoding="utf-8") as f:
            doc = standin_yaml.load(f.read(), path)
    except OSError as e:
        raise StandinError(f"cannot read kubeconfig {path}: {e.strerror}")
    if not isinstance(doc, dict) or doc.get("kind") != "Config":
        raise StandinError(f"{path}: not a kubeconfig (kind: Config)")
    ctx_name = doc.get("current-context")
    ctx = next((c.get("context") for c in doc.get("contexts") or [] if c.get("name") == ctx_name), None)
    if not ctx:
        raise StandinError(f"failed to find CurrentContext in Contexts of the kubeconfig file {path}")
    cluster = next((c.get("cluster") for c in doc.get("clusters") or [] if c.get("name") == ctx.get("cluster")), None)
    user = next((u.get("user") for u in doc.get("users") or [] if u.get("name") == ctx.get("user")), None)
    if not cluster:
        raise StandinError(f"failed to find the given CurrentContext Cluster in Clusters of the kubeconfig file {path}")
    return doc, cluster, user


def read_kubeconfig(path, rooted=True):
    """(server, ca_pem, credential) of the current context: the credential is a bearer token (str)
    or a ClientCert. Paths given on a command line are used as given (rooted=False); default paths
    like /etc/kubernetes/admin.conf go through root()."""
    _, cluster, user = load_kubeconfig(path, rooted)
    if user is None:
        raise StandinError(f"{path}: the current context refers to a missing user")
    server = cluster.get("server")
    ca_data = cluster.get("certificate-authority-data")
    if not isinstance(server, str) or not server.startswith("https://"):
        raise StandinError(f"{path}: cluster server must be an https:// URL")
    if not isinstance(ca_data, str):
        raise StandinError(f"{path}: certificate-authority-data is required by the stand-ins")
    token = user.get("token")
    if isinstance(token, str) and token:
        return server, base64.b64decode(ca_data).decode(), token
    cert, key = user.get("client-certificate-data"), user.get("client-key-data")
    if isinstance(cert, str) and isinstance(key, str) and cert and key:
        return server, base64.b64decode(ca_data).decode(), ClientCert(base64.b64decode(cert), base64.b64decode(key))
    raise StandinError(f"{path}: the stand-ins authenticate with a bearer token (users[].user.token) or embedded "
                       "client-certificate-data + client-key-data")


# -- HTTPS -------------------------------------------------------------------------------------

def insecure_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def ca_context(ca_pem, check_hostname=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=ca_pem)
    ctx.check_hostname = check_hostname
    return ctx


class HttpError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status = status
        self.body = body


def https(method, url, ctx, body=None, token=None, timeout=5.0, content_type=None):
    """(status, parsed JSON or text). Raises HttpError on status >= 400, OSError/ssl errors on transport.
    `content_type` overrides application/json (a PATCH names its patch type)."""
    data = None
    headers = {"Accept": "application/json", "User-Agent": "kubeha-standin"}
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = content_type or "application/json"
    if isinstance(token, ClientCert):
        token.load_into(ctx)
    elif token:
        headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=timeout) as resp:
            raw = resp.read().decode()
            status = resp.status
    except urllib.error.HTTPError as e:
        raise HttpError(e.code, e.read().decode(errors="replace"))
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, Exception):
            raise reason
        raise OSError(str(reason))
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def split_host_port(endpoint, default_port=None, what="endpoint"):
    m = re.match(r"^\[?([^\]]+?)\]?(?::(\d+))?$", endpoint or "")
    if not m or (m.group(2) is None and default_port is None):
        raise StandinError(f"{what} {endpoint!r} must be host:port")
    port = int(m.group(2)) if m.group(2) else default_port
    if not 0 < port < 65536:
        raise StandinError(f"{what} {endpoint!r}: port out of range")
    return m.group(1), port


# -- services ----------------------------------------------------------------------------------

def _pidfile(unit):
    return root(f"/run/kubeha-standin/{unit}.pid")


def unit_text(description, argv, restart_sec=1):
    return ("# STAND-IN unit written by the kubeadm stand-in (kubeha test tree), not Kubernetes.\n"
            "[Unit]\n"
            f"Description={description}\n"
            "Wants=network-online.target\nAfter=network-online.target\n\n"
            "[Service]\n"
            f"ExecStart={' '.join(argv)}\n"
            f"Restart=always\nRestartSec={restart_sec}\n\n"
            "[Install]\nWantedBy=multi-user.target\n")


def _run(argv):
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        raise StandinError(f"{' '.join(argv)} failed (exit {r.returncode}): {r.stderr.strip()[-400:]}")


def start_process_unit(unit, argv):
    """Test-only replacement for `systemctl restart`: a detached child with a pid file."""
    stop_process_unit(unit)
    os.makedirs(os.path.dirname(_pidfile(unit)), exist_ok=True)
    logdir = root("/var/log/kubeha-standin")
    os.makedirs(logdir, exist_ok=True)
    log = open(os.path.join(logdir, unit + ".log"), "ab")
    prog = argv[0]
    if prog.startswith("/usr/bin/"):
        prog = os.path.join(BIN_DIR, os.path.basename(prog))
    proc = subprocess.Popen([sys.executable, prog] + argv[1:], stdin=subprocess.DEVNULL, stdout=log,
                            stderr=log, start_new_session=True, close_fds=True)
    with open(_pidfile(unit), "w") as f:
        f.write(str(proc.pid))
    return proc.pid


def stop_process_unit(unit):
    try:
        with open(_pidfile(unit)) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            time.sleep(0.1)
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    break
            except ChildProcessError:
                pass
            os.kill(pid, 0)
        else:
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.unlink(_pidfile(unit))
    except OSError:
        pass


def install_and_start_unit(unit, description, argv):
    if no_systemd():
        start_process_unit(unit, argv)
        return
    write_file(f"/etc/systemd/system/{unit}", unit_text(description, argv), 0o644)
    _run(["systemctl", "daemon-reload"])
    _run(["systemctl", "enable", unit])
    _run(["systemctl", "restart", unit])


def restart_unit(unit, argv_for_tests):
    """`systemctl restart UNIT` (unit shipped by the bundle); in test mode run `argv_for_tests`."""
    if no_systemd():
        start_process_unit(unit, argv_for_tests)
        return
    _run(["systemctl", "restart", unit])


def stop_unit(unit, remove=False):
    if no_systemd():
        stop_process_unit(unit)
        return
    subprocess.run(["systemctl", "stop", unit], capture_output=True)
    if remove:
        subprocess.run(["systemctl", "disable", unit], capture_output=True)
        try:
            os.unlink(root(f"/etc/systemd/system/{unit}"))
        except OSError:
            pass
        subprocess.run(["systemctl", "daemon-reload"], capture_output=True)


def port_free(host, port):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def stop_on_signals(stop):
    """SIGTERM and SIGINT set the Event `stop`, from a thread of their own: a handler runs between two
    bytecodes of the main thread, which may be inside `stop.wait()` holding the Event's lock at that
    moment, and Event.set() taking that same lock there deadlocks (seen: a kubelet stand-in that
    never exited after SIGTERM). The thread waits until the main thread lets go of the lock."""
    def handler(*_):
        threading.Thread(target=stop.set, daemon=True).start()
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
