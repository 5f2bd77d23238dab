# STAND-IN support code from kubeha's test tree (test/standins): NOT part of Kubernetes.
# kubeadm's static pods for kube-controller-manager and kube-scheduler: the kubeadm stand-in writes them
# with the real kubeadm's command lines (app/phases/controlplane/manifests.go: getControllerManagerCommand,
# getSchedulerCommand; ClusterConfiguration extraArgs override or add flags), and the kubelet stand-in
# runs each pod's container command with the bundle's stand-in binary of that name as a systemd unit
# (<component>-static-pod-standin.service) while the manifest exists: a changed manifest restarts it,
# a removed one (parked by `kubeha drill`) stops it with SIGTERM, as the kubelet stops a container.
"""kube-controller-manager / kube-scheduler static pods of the kubeadm and kubelet stand-ins (stdlib only)."""

import os
import subprocess

import standin_common as common
import standin_yaml
from standin_common import StandinError

COMPONENTS = ("kube-controller-manager", "kube-scheduler")
MANIFESTS = "/etc/kubernetes/manifests"
CONTROLLER_MANAGER_CONF = "/etc/kubernetes/controller-manager.conf"
SCHEDULER_CONF = "/etc/kubernetes/scheduler.conf"


def unit(component):
    return f"{component}-static-pod-standin.service"


def _extra(doc, key):
    import standin_kubeadm_api as api
    return api.extra_args_list(((doc or {}).get(key) or {}).get("extraArgs"))


def command(component, doc, pki):
    """The container command kubeadm writes for `component` from a ClusterConfiguration `doc`."""
    doc = doc or {}
    if component == "kube-controller-manager":
        net = doc.get("networking") or {}
        flags = {
            "authentication-kubeconfig": CONTROLLER_MANAGER_CONF,
            "authorization-kubeconfig": CONTROLLER_MANAGER_CONF,
            "bind-address": "127.0.0.1",
            "client-ca-file": f"{pki}/ca.crt",
            "cluster-name": doc.get("clusterName") or "kubernetes",
            "cluster-signing-cert-file": f"{pki}/ca.crt",
            "cluster-signing-key-file": f"{pki}/ca.key",
            "controllers": "*,bootstrapsigner,tokencleaner",
            "kubeconfig": CONTROLLER_MANAGER_CONF,
            "leader-elect": "true",
            "requestheader-client-ca-file": f"{pki}/front-proxy-ca.crt",
            "root-ca-file": f"{pki}/ca.crt",
            "service-account-private-key-file": f"{pki}/sa.key",
            "use-service-account-credentials": "true",
        }
        if net.get("podSubnet"):
            flags["allocate-node-cidrs"] = "true"
            flags["cluster-cidr"] = net["podSubnet"]
        flags["service-cluster-ip-range"] = net.get("serviceSubnet") or "10.96.0.0/12"
        extra = _extra(doc, "controllerManager")
    else:
        flags = {
            "authentication-kubeconfig": SCHEDULER_CONF,
            "authorization-kubeconfig": SCHEDULER_CONF,
            "bind-address": "127.0.0.1",
            "kubeconfig": SCHEDULER_CONF,
            "leader-elect": "true",
        }
        extra = _extra(doc, "scheduler")
    for name, value in extra:
        flags[name] = value
    return [component] + [f"--{k}={v}" for k, v in sorted(flags.items())]


def manifest_text(component, doc, pki, version):
    repo = (doc or {}).get("imageRepository") or "registry.k8s.io"
    kubeconfig = CONTROLLER_MANAGER_CONF if component == "kube-controller-manager" else SCHEDULER_CONF
    port = 10257 if component == "kube-controller-manager" else 10259
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"labels": {"component": component, "tier": "control-plane"}, "name": component,
                     "namespace": "kube-system"},
        "spec": {
            "containers": [{
                "command": command(component, doc, pki),
                "image": f"{repo}/{component}:v{version}",
                "imagePullPolicy": "IfNotPresent",
                "livenessProbe": {"httpGet": {"host": "127.0.0.1", "path": "/healthz", "port": port, "scheme": "HTTPS"}},
                "name": component,
                "volumeMounts": [{"mountPath": pki, "name": "k8s-certs", "readOnly": True},
                                 {"mountPath": kubeconfig, "name": "kubeconfig", "readOnly": True}],
            }],
            "hostNetwork": True,
            "priorityClassName": "system-node-critical",
            "volumes": [{"hostPath": {"path": pki, "type": "DirectoryOrCreate"}, "name": "k8s-certs"},
                        {"hostPath": {"path": kubeconfig, "type": "FileOrCreate"}, "name": "kubeconfig"}],
        },
    }
    return ("# STAND-IN: written by the kubeadm stand-in (kubeha test tree). The kubelet stand-in runs the\n"
            f"# {component} STAND-IN (/usr/bin/{component}) with this command.\n" + standin_yaml.dump(pod))


def write_manifests(doc, pki, version, log):
    for component in COMPONENTS:
        common.write_file(f"{MANIFESTS}/{component}.yaml", manifest_text(component, doc, pki, version), 0o600)
        log("control-plane", f"Creating static Pod manifest for \"{component}\" (stand-in: the kubelet stand-in runs "
                             f"/usr/bin/{component}, a stand-in)")


def pod_command(text, component, where):
    """The container command of `component`'s static pod in manifest `text`, or None when it is another pod."""
    try:
        pod = standin_yaml.load(text, where)
    except Exception:  # noqa: BLE001 - any parse error: not this pod
        return None
    if not isinstance(pod, dict) or pod.get("kind") != "Pod":
        return None
    meta = pod.get("metadata") or {}
    if meta.get("name") != component or (meta.get("labels") or {}).get("component") != component:
        return None
    containers = (pod.get("spec") or {}).get("containers") or []
    if not containers or not isinstance(containers[0].get("command"), list):
        return None
    return [str(a) for a in containers[0]["command"]]


def find_command(component):
    """The command of the first manifest (any non-hidden file, like the real kubelet) holding the pod."""
    d = common.root(MANIFESTS)
    try:
        names = sorted(os.listdir(d))
    except OSError:
        return None
    for n in names:
        if n.startswith("."):
            continue
        try:
            with open(os.path.join(d, n), encoding="utf-8", errors="replace") as f:
                text = f.read(65536)
        except OSError:
            continue
        if f"component: {component}" in text:
            cmd = pod_command(text, component, f"{MANIFESTS}/{n}")
            if cmd:
                return cmd
    return None


def unit_argv(component, cmd):
    if not cmd or cmd[0] != component:
        raise StandinError(f"container command {cmd[:1]!r}: the stand-in runs only the {component} image's "
                           f"`{component}`")
    return [f"/usr/bin/{component}"] + cmd[1:]


def start(component, cmd):
    """(Re)starts the pod's unit; systemd never gives up on it (the kubelet's CrashLoopBackOff never ends)."""
    argv = unit_argv(component, cmd)
    u = unit(component)
    if common.no_systemd():
        common.start_process_unit(u, argv)
        return
    text = common.unit_text(f"{component} static pod: STAND-IN run by the kubelet STAND-IN (kubeha test tree)", argv, 2)
    text = text.replace("[Unit]\n", "[Unit]\nStartLimitIntervalSec=0\n", 1)
    path = f"/etc/systemd/system/{u}"
    try:
        same = common.read_text(path) == text
    except OSError:
        same = False
    # The same pod (the kubelet itself restarted, or the manifest came back): start it if it is not
    # running, as the real kubelet keeps a running container; a changed pod is recreated.
    common.write_file(path, text, 0o644)
    for verb in (["daemon-reload"], ["start" if same else "restart", u]):
        r = subprocess.run(["systemctl"] + verb, capture_output=True, text=True)
        if r.returncode != 0:
            raise StandinError(f"systemctl {' '.join(verb)} failed: {r.stderr.strip()[-300:]}")


def stop(component, remove=False):
    common.stop_unit(unit(component), remove=remove)


def sync(component, prev, tag, say):
    """Runs/stops/restarts `component`'s static pod on manifest changes (transitions only); returns the state."""
    now = find_command(component)
    if now == prev:
        return prev
    if now is None:
        say(tag, f"static pod {component}: manifest removed, stop {unit(component)}")
        stop(component)
        return now
    try:
        say(tag, f"static pod {component}: manifest {'back' if prev is None else 'changed'}, (re)start {unit(component)}")
        start(component, now)
    except StandinError as e:
        say(tag, f"static pod {component}: cannot start: {e}")
    return now
