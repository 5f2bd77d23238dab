# STAND-IN support code from kubeha's test tree (test/standins): NOT part of Kubernetes.
# What the kube-controller-manager and kube-scheduler stand-ins share:
# - their command line, checked like pflag does it against the flag names kubeha's tables record for
#   the bundle's minor (standin_flags.json, generated from src/spec/flag-tables.ts): an unknown flag
#   ends the process with cobra's `Error: unknown flag: --x`, exit 1;
# - the files the flags name: missing or unreadable certificate, key and kubeconfig files are refused
#   at start with the `open PATH: ...` text Go prints;
# - the API server check at start: a kubeconfig whose CA does not verify the server ends the process
#   (`tls: failed to verify certificate: x509: ...`); a server that does not answer yet is waited for;
# - client-go's leader election over a coordination.k8s.io/v1 Lease (lib/standin_leader.py): identity
#   `<hostname>_<uuid>`, acquire retries every retryPeriod with client-go's jitter (x 1..2.2), renewals
#   every retryPeriod, `leaderelection lost` (exit 1) when no renewal succeeded for renewDeadline;
#   on SIGTERM the process exits without releasing the Lease (client-go's ReleaseOnCancel is off for
#   both components), so a successor waits for it to expire;
# - /healthz over HTTPS on --bind-address:--secure-port (a self-signed certificate made with openssl
#   when no --tls-cert-file is given, as the real components generate one in memory).
# The scheduler stand-in schedules nothing: it only holds (or waits for) its Lease. A component may pass
# `lead(api, opts, stop)` to main(): it is started once the Lease is held (or at once with
# --leader-elect=false) and must return when `stop` is set; the controller-manager stand-in runs its
# few controllers (CSR approving and signing, node IPAM) that way.
"""Shared code of the kube-controller-manager and kube-scheduler stand-ins (stdlib only)."""

import http.server
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import standin_common as common
from standin_common import StandinError
from standin_leader import JITTER_FACTOR, Elector

FLAGS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "standin_flags.json")


class Exit(Exception):
    """Print `message` (already in the real component's words) and exit with `code`."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


def flag_table(component, minor):
    """(accepted names, boolean names) for `component` at `minor` from the generated data file."""
    with open(FLAGS_FILE, encoding="utf-8") as f:
        doc = json.load(f)
    comp = doc["components"][component]
    names = comp["minors"].get(str(minor))
    if names is None:
        raise Exit(f"the stand-in has no flag table for {component} 1.{minor} (standin_flags.json has "
                   f"{', '.join(sorted(comp['minors'], key=int))})")
    return set(names), set(doc["boolean"])


def parse_flags(argv, accepted, booleans):
    """pflag's rules: --name=value, --name value, boolean --name; unknown names refused as pflag does."""
    opts = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if not a.startswith("-") or a == "-":
            raise Exit(f"Error: unknown command \"{a}\" for \"{{cmd}}\"")
        if a == "--":
            raise Exit("Error: the stand-in takes no arguments after --")
        name, eq, val = a.lstrip("-").partition("=")
        if a.startswith("--") is False:
            raise Exit(f"Error: unknown shorthand flag: '{name[:1]}' in {a}")
        if name not in accepted:
            raise Exit(f"Error: unknown flag: --{name}")
        if name in booleans:
            if eq and val not in ("true", "false", "1", "0", "t", "f", "TRUE", "FALSE", "True", "False", "T", "F"):
                raise Exit(f"Error: invalid argument \"{val}\" for \"--{name}\" flag: strconv.ParseBool: parsing "
                           f"\"{val}\": invalid syntax")
            opts[name] = (val.lower() not in ("false", "0", "f")) if eq else True
        else:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise Exit(f"Error: flag needs an argument: --{name}")
                val = argv[i]
            opts[name] = val
        i += 1
    return opts


def duration(opts, name, default):
    if name not in opts:
        return default
    try:
        return common.parse_duration(opts[name], f"--{name}")
    except StandinError:
        raise Exit(f"Error: invalid argument \"{opts[name]}\" for \"--{name}\" flag: time: invalid duration "
                   f"\"{opts[name]}\"")


def read_file(path):
    """The bytes of a file a flag names, or Exit with Go's `open PATH: ...` text."""
    try:
        with open(common.root(path), "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise Exit(f"open {path}: no such file or directory")
    except IsADirectoryError:
        raise Exit(f"read {path}: is a directory")
    except PermissionError:
        raise Exit(f"open {path}: permission denied")


def check_cert_file(path, why):
    if not common.pem_blocks(read_file(path).decode(errors="replace"), "CERTIFICATE"):
        raise Exit(f"{why}: {path}: data does not contain any valid RSA or ECDSA certificates")


def check_key_file(path, why):
    text = read_file(path).decode(errors="replace")
    if "PRIVATE KEY-----" not in text:
        raise Exit(f"{why}: {path}: data does not contain a valid RSA or ECDSA private key")


def check_serving_pair(opts):
    cert, key = opts.get("tls-cert-file"), opts.get("tls-private-key-file")
    if bool(cert) != bool(key):
        raise Exit("Error: --tls-cert-file and --tls-private-key-file must be given together")
    if cert:
        check_cert_file(cert, "failed to load TLS cert/key")
        check_key_file(key, "failed to load TLS cert/key")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            ctx.load_cert_chain(common.root(cert), common.root(key))
        except ssl.SSLError:
            raise Exit(f"failed to load TLS cert/key: tls: private key does not match public key ({cert}, {key})")


class Api:
    """The API server as the component reaches it through its kubeconfig."""

    def __init__(self, kubeconfig, timeout):
        read_file(kubeconfig)
        try:
            self.server, ca_pem, self.cred = common.read_kubeconfig(kubeconfig)
            self.ctx = common.ca_context(ca_pem)
        except (StandinError, ssl.SSLError, ValueError) as e:
            raise Exit(f"invalid configuration: {kubeconfig}: {e}")
        self.timeout = timeout

    def call(self, method, path, body=None, content_type=None):
        """(status, JSON). TLS verification failures raise Exit; transport failures OSError."""
        try:
            return common.https(method, self.server + path, self.ctx, body=body, token=self.cred, timeout=self.timeout,
                                content_type=content_type)
        except common.HttpError as e:
            try:
                return e.status, json.loads(e.body)
            except ValueError:
                return e.status, {"message": e.body}
        except ssl.SSLCertVerificationError as e:
            raise Exit(f"Get \"{self.server}{path}\": tls: failed to verify certificate: x509: {e.verify_message} "
                       "(the kubeconfig's CA does not verify the API server)")


def wait_for_apiserver(api, tag, stop):
    """Like the real components at start: wait until /healthz answers (a TLS verification failure ends it)."""
    last = 0.0
    while not stop.is_set():
        try:
            status, _ = api.call("GET", "/healthz")
            if status == 200:
                return True
            err = f"HTTP {status}"
        except OSError as e:
            err = f"{e.__class__.__name__}: {e}"
        if time.monotonic() - last > 10:
            common.say(tag, f"waiting for the API server {api.server}: {err}", sys.stderr)
            last = time.monotonic()
        stop.wait(1.0)
    return False


def run_elected(elector, retry, renew, stop, on_lead=None):
    """client-go's Run: acquire (jittered retries), then renew every `retry`; returns the exit code.
    `on_lead()` is called once the Lease is held (client-go's OnStartedLeading)."""
    common.say(elector.tag, f"attempting to acquire leader lease {elector.lock()}...")
    while not stop.is_set():
        if elector.attempt():
            break
        stop.wait(retry * (1 + random.random() * JITTER_FACTOR))
    if stop.is_set():
        return 0
    common.say(elector.tag, f"successfully acquired lease {elector.lock()} as {elector.identity}" +
               (" (stand-in: it runs nothing while leading, it only holds the Lease)" if on_lead is None else ""))
    if on_lead is not None:
        on_lead()
    last_ok = time.monotonic()
    while not stop.wait(retry):
        if elector.attempt():
            last_ok = time.monotonic()
        elif time.monotonic() - last_ok > renew:
            common.say(elector.tag, f"failed to renew lease {elector.lock()}: timed out waiting for the condition",
                       sys.stderr)
            common.say(elector.tag, "leaderelection lost", sys.stderr)
            return 1
    common.say(elector.tag, "stopped (SIGTERM); the Lease is not released (ReleaseOnCancel is off): it expires")
    return 0


def serve_healthz(bind, port, opts, tag):
    """HTTPS /healthz on bind:port; the serving pair from the flags, else a self-signed one (openssl)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if opts.get("tls-cert-file"):
        ctx.load_cert_chain(common.root(opts["tls-cert-file"]), common.root(opts["tls-private-key-file"]))
    else:
        d = tempfile.mkdtemp(prefix="kubeha-standin-serving-")
        try:
            r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                "-nodes", "-keyout", f"{d}/k", "-out", f"{d}/c", "-days", "365",
                                "-subj", f"/CN={bind}@{int(time.time())}"], capture_output=True)
            if r.returncode != 0:
                raise Exit(f"failed to generate a self-signed serving certificate: {r.stderr.decode()[-200:]}")
            ctx.load_cert_chain(f"{d}/c", f"{d}/k")
        finally:
            shutil.rmtree(d, ignore_errors=True)

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            ok = self.path.split("?")[0].rstrip("/") in ("/healthz", "/livez", "/readyz")
            body = b"ok" if ok else b"404 page not found (stand-in)\n"
            self.send_response(200 if ok else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    class S(http.server.ThreadingHTTPServer):
        daemon_threads = True
        address_family = socket.AF_INET6 if ":" in bind else socket.AF_INET

        def get_request(self):
            sock, addr = super().get_request()
            sock.settimeout(5)
            return ctx.wrap_socket(sock, server_side=True), addr

        def handle_error(self, request, client_address):
            pass

    try:
        srv = S((bind, port), H)
    except OSError as e:
        raise Exit(f"failed to create listener: failed to listen on {bind}:{port}: listen tcp {bind}:{port}: bind: "
                   f"{e.strerror.lower() if e.strerror else e}")
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    common.say(tag, f"serving securely on {bind}:{port} (/healthz)")
    return srv


def main(component, argv, prepare, lead=None):
    """Runs a control-plane stand-in. `prepare(opts)` checks the component's own files and returns
    (kubeconfig path, leader-election settings dict, bind, port); `lead(api, opts, stop)`, if given,
    runs (in a thread) while this instance leads."""
    tag = component
    cmd = component
    try:
        accepted, booleans = flag_table(component, int(common.KUBERNETES_VERSION.split(".")[1]))
        try:
            opts = parse_flags(argv, accepted, booleans)
        except Exit as e:
            raise Exit(str(e).replace("{cmd}", cmd))
        if opts.get("version"):
            print(f"Kubernetes {common.GIT_VERSION} ({component} {common.STANDIN_NOTE})")
            return 0
        if opts.get("help"):
            print(f"{component} STAND-IN ({common.STANDIN_NOTE}). Accepted flags for "
                  f"{common.KUBERNETES_VERSION}:\n" + "\n".join(f"      --{n}" for n in sorted(accepted)))
            return 0
        check_serving_pair(opts)
        kubeconfig, le, bind, port = prepare(opts)
        if le["enabled"]:
            if not le["lease"] > le["renew"]:
                raise Exit("leaseDuration must be greater than renewDeadline")
            if not le["renew"] > JITTER_FACTOR * le["retry"]:
                raise Exit("renewDeadline must be greater than retryPeriod*JitterFactor")
            if le["lock"] != "leases":
                raise Exit(f"the stand-in implements only the \"leases\" resource lock, got {le['lock']!r}")
        api = Api(kubeconfig, timeout=max(1.0, le["renew"] / 2))
        stop = threading.Event()
        common.stop_on_signals(stop)
        serve_healthz(bind, port, opts, tag)
        common.say(tag, f"{component} {common.GIT_VERSION} ({common.STANDIN_NOTE}): API server {api.server}")
        if not wait_for_apiserver(api, tag, stop):
            return 0
        # The controllers get their own client (TLS context): renewals must not share one with them.
        on_lead = None if lead is None else \
            (lambda: threading.Thread(target=lead, args=(Api(kubeconfig, api.timeout), opts, stop), daemon=True).start())
        if not le["enabled"]:
            common.say(tag, "leader election off (--leader-elect=false): running as the only instance")
            if on_lead:
                on_lead()
            stop.wait()
            return 0
        identity = f"{socket.gethostname()}_{uuid.uuid4()}"
        elector = Elector(api, le["namespace"], le["name"], identity, le["lease"], tag)
        return run_elected(elector, le["retry"], le["renew"], stop, on_lead)
    except Exit as e:
        common.say(tag, str(e), sys.stderr)
        return e.code


def leader_election_from_flags(opts, component):
    """client-go's defaults (LeaderElectionConfiguration): 15 s / 10 s / 2 s, lock `leases`."""
    return {
        "enabled": opts.get("leader-elect", True),
        "lease": duration(opts, "leader-elect-lease-duration", 15.0),
        "renew": duration(opts, "leader-elect-renew-deadline", 10.0),
        "retry": duration(opts, "leader-elect-retry-period", 2.0),
        "lock": opts.get("leader-elect-resource-lock", "leases"),
        "name": opts.get("leader-elect-resource-name", component),
        "namespace": opts.get("leader-elect-resource-namespace", "kube-system"),
    }
