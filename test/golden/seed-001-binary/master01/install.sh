#!/usr/bin/env bash
# kubeha install script for host master01 (roles: control-plane, etcd) of cluster seed-001-binary.
# What `kubeha apply` does on this host (the same plan, the same commands), written out so a
# person can read it and run it by hand.
#
# Run as root on master01 from the folder `kubeha render` wrote for it: the files beside this
# script (./etc/..., ./root/...) are copied to the same absolute paths. Files already in place
# (uploaded by `kubeha apply`) are used as they are. Safe to run again: unchanged files are left
# alone, services restart only when one of their files changed, init/join run only once.
# Order across hosts: the etcd hosts, then the LB hosts, then the first control plane (master01), then the other control planes one at a time, then the workers.
# bootstrap: binary: the kubelets join through TLS bootstrap with the token the first control
# plane applies (/etc/kubeha/binary/tls-bootstrap.yaml); `kubeha apply` does not build this mode yet.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")" && pwd)"
CHANGED_UNITS=()
CHANGED_PATHS=()
log() { printf '[kubeha master01] %s\n' "$*"; }
die() { printf '[kubeha master01] error: %s\n' "$*" >&2; exit 1; }

# place PATH MODE OWNER [UNIT...]: install ROOT/PATH at PATH when it differs; remember the units to restart.
place() {
  local dst=$1 mode=$2 owner=$3 src
  shift 3
  src="$ROOT$dst"
  if [ ! -f "$src" ]; then
    [ -f "$dst" ] || die "missing $src: run this script from the folder kubeha render wrote"
    src=$dst
  fi
  if [ "$src" != "$dst" ] && ! cmp -s "$src" "$dst"; then
    install -d -m 0755 "$(dirname "$dst")"
    install -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$src" "$dst"
    CHANGED_UNITS+=("$@")
    CHANGED_PATHS+=("$dst")
    log "updated $dst"
  else
    chmod "$mode" "$dst"
    chown "$owner" "$dst"
  fi
}

# changed WORD...: true when a unit or path of one of these names changed in this run.
changed() {
  local x w
  for w in "$@"; do
    for x in "${CHANGED_UNITS[@]}" "${CHANGED_PATHS[@]}"; do [ "$x" = "$w" ] && return 0; done
  done
  return 1
}

# step DESCRIPTION: says which action of the plan runs now (the same names `kubeha plan` prints).
step() { log "$1"; }

# apt_install PKG...: install what is missing, without starting daemons on their package defaults
# (Debian would start a single-node etcd and a default haproxy); kubeha starts them once configured.
POLICY_RC=/usr/sbin/policy-rc.d
apt_install() {
  local p missing=()
  for p in "$@"; do
    # shellcheck disable=SC2016 # ${Status} is dpkg-query's format, not a shell variable
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  step "apt-get install ${missing[*]}"
  if [ ! -e "$POLICY_RC" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$POLICY_RC"
    chmod 0755 "$POLICY_RC"
    trap 'rm -f "$POLICY_RC"' EXIT
  fi
  dpkg --configure -a
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  mkdir -p /var/lib/kubeha && printf '%s\n' "${missing[@]}" >> /var/lib/kubeha/installed-packages && sort -u -o /var/lib/kubeha/installed-packages /var/lib/kubeha/installed-packages
}

[ "$(id -u)" -eq 0 ] || die "run as root"
command -v apt-get >/dev/null || die "kubeha supports Debian-family hosts (apt-get not found)"

# --- os: Operating system: hostname, /etc/hosts block, kernel settings, swap.
if ! [ "$(hostname)" = master01 ]; then
  step 'set hostname master01'
  (
    hostnamectl set-hostname master01 2>/dev/null || { hostname master01 && echo master01 > /etc/hostname; }
  ) || die 'set hostname master01 failed'
fi
place /etc/kubeha/hosts 0644 root:root
if changed /etc/kubeha/hosts; then
  step 'update the kubeha block in /etc/hosts'
  (
    tmp=$(mktemp)
    { sed '/^# BEGIN kubeha$/,/^# END kubeha$/d' /etc/hosts; echo '# BEGIN kubeha'; grep -v '^#' /etc/kubeha/hosts; echo '# END kubeha'; } > "$tmp"
    cmp -s "$tmp" /etc/hosts || cat "$tmp" > /etc/hosts
    rm -f "$tmp"
  ) || { rm -f /etc/kubeha/hosts; die 'update the kubeha block in /etc/hosts failed'; }
fi
place /etc/modules-load.d/kubeha.conf 0644 root:root
place /etc/sysctl.d/90-kubeha-kubernetes.conf 0644 root:root systemd-sysctl.service
if changed /etc/sysctl.d/90-kubeha-kubernetes.conf; then sysctl -e -q -p /etc/sysctl.d/90-kubeha-kubernetes.conf; fi
if changed /etc/modules-load.d/kubeha.conf; then
  step 'load kernel modules overlay, br_netfilter'
  (
    for m in overlay br_netfilter; do [ -d /sys/module/$m ] || modprobe $m || echo "warning: cannot load kernel module $m" >&2; done
  ) || { rm -f /etc/modules-load.d/kubeha.conf; die 'load kernel modules overlay, br_netfilter failed'; }
fi
if ! [ "$(tail -n +2 /proc/swaps | wc -l)" -eq 0 ]; then
  step 'turn swap off now and in /etc/fstab'
  (
    swapoff -a && sed -i.kubeha-bak -E 's|^([^#].*[[:space:]]swap[[:space:]].*)$|# \1 # disabled by kubeha|' /etc/fstab
  ) || die 'turn swap off now and in /etc/fstab failed'
fi

# --- packages: Packages: sources, signing keys, Debian packages, the Kubernetes binaries.
apt_install ca-certificates conntrack containerd curl etcd-client etcd-server ethtool iptables socat
# packages.source: bundle. `kubeha apply` installs the bundle's files (kubeha-bundle.json lists
# each src -> dest, e.g. bin/kubeadm -> /usr/bin/kubeadm, leaving out entries whose "bootstrap"
# names the other spec.bootstrap mode) and enables its units; by hand, copy them the same way
# (from spec.packages.bundle) before running this script (docs/bundle.md).
step 'install the offline bundle'
for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
  command -v "$b" >/dev/null || die "$b not found: install the offline bundle's files first"
done

# --- runtime: Container runtime.
place /etc/containerd/config.toml 0644 root:root containerd.service
place /etc/crictl.yaml 0644 root:root
if changed /etc/containerd/config.toml; then systemctl reload-or-restart containerd.service; fi
systemctl enable containerd >/dev/null 2>&1
systemctl is-active -q containerd || systemctl start containerd

# --- etcd: etcd member (external etcd, kubeha's PKI).
place /etc/default/etcd 0644 root:root etcd.service
place /etc/systemd/system/etcd.service.d/10-kubeha.conf 0644 root:root etcd.service
if changed /etc/systemd/system/etcd.service.d/10-kubeha.conf; then systemctl daemon-reload; fi
if changed /etc/systemd/system/etcd.service.d/10-kubeha.conf; then systemctl restart etcd.service; elif changed /etc/default/etcd; then systemctl reload-or-restart etcd.service; fi
systemctl enable etcd >/dev/null 2>&1
systemctl is-active -q etcd || systemctl start etcd

# --- control-plane/init: kubeadm init (once) on the first control plane.
place /etc/systemd/system/kube-apiserver.service 0644 root:root kube-apiserver
place /etc/systemd/system/kube-controller-manager.service 0644 root:root kube-controller-manager
place /etc/systemd/system/kube-scheduler.service 0644 root:root kube-scheduler
place /etc/kubernetes/audit-policy.yaml 0644 root:root kube-apiserver
place /etc/kubernetes/encryption-config.yaml 0600 root:root kube-apiserver
place /etc/kubernetes/kube-scheduler.yaml 0644 root:root kube-scheduler
place /etc/systemd/system/kubelet.service 0644 root:root kubelet
place /var/lib/kubelet/config.yaml 0644 root:root kubelet
place /etc/systemd/system/kube-proxy.service 0644 root:root kube-proxy
place /var/lib/kube-proxy/config.yaml 0644 root:root kube-proxy
place /etc/kubeha/binary/tls-bootstrap.yaml 0600 root:root
place /etc/kubeha/binary/coredns.yaml 0644 root:root
if changed /etc/systemd/system/kube-apiserver.service /etc/systemd/system/kube-controller-manager.service /etc/systemd/system/kube-scheduler.service /etc/systemd/system/kubelet.service /etc/systemd/system/kube-proxy.service; then systemctl daemon-reload; fi
if changed /etc/systemd/system/kube-apiserver.service; then systemctl restart kube-apiserver; elif changed /etc/kubernetes/audit-policy.yaml /etc/kubernetes/encryption-config.yaml; then systemctl reload-or-restart kube-apiserver; fi
if changed /etc/systemd/system/kube-controller-manager.service; then systemctl restart kube-controller-manager; fi
if changed /etc/systemd/system/kube-scheduler.service; then systemctl restart kube-scheduler; elif changed /etc/kubernetes/kube-scheduler.yaml; then systemctl reload-or-restart kube-scheduler; fi
if changed /etc/systemd/system/kubelet.service; then systemctl restart kubelet; elif changed /var/lib/kubelet/config.yaml; then systemctl reload-or-restart kubelet; fi
if changed /etc/systemd/system/kube-proxy.service; then systemctl restart kube-proxy; elif changed /var/lib/kube-proxy/config.yaml; then systemctl reload-or-restart kube-proxy; fi
systemctl enable kube-apiserver >/dev/null 2>&1
systemctl is-active -q kube-apiserver || systemctl start kube-apiserver
systemctl enable kube-controller-manager >/dev/null 2>&1
systemctl is-active -q kube-controller-manager || systemctl start kube-controller-manager
systemctl enable kube-scheduler >/dev/null 2>&1
systemctl is-active -q kube-scheduler || systemctl start kube-scheduler
systemctl enable kubelet >/dev/null 2>&1
systemctl is-active -q kubelet || systemctl start kubelet
systemctl enable kube-proxy >/dev/null 2>&1
systemctl is-active -q kube-proxy || systemctl start kube-proxy

# --- control-plane/endpoint: The API through the control-plane endpoint.
# If this fails: check the load balancer (kubeha status) and `journalctl -u kube-apiserver` on master01
step 'wait for the API through k8s-api.virtual.local:6443'
(
  for _ in $(seq 1 120); do curl -ksf --max-time 3 -o /dev/null https://k8s-api.virtual.local:6443/readyz && exit 0; sleep 5; done; echo "the API does not answer at https://k8s-api.virtual.local:6443/readyz" >&2; exit 1
) || die 'wait for the API through k8s-api.virtual.local:6443 failed'
if changed /etc/kubeha/binary/tls-bootstrap.yaml || ! { kubectl --kubeconfig /etc/kubernetes/super-admin.conf get -f /etc/kubeha/binary/tls-bootstrap.yaml; } >/dev/null 2>&1; then
  # If this fails: the objects are in the file; check `kubectl get --raw /readyz` and the API server's journal
  step 'kubectl apply the TLS bootstrap token and RBAC bindings'
  (
    kubectl --kubeconfig /etc/kubernetes/super-admin.conf apply -f /etc/kubeha/binary/tls-bootstrap.yaml
  ) || { rm -f /etc/kubeha/binary/tls-bootstrap.yaml; die 'kubectl apply the TLS bootstrap token and RBAC bindings failed'; }
fi
if changed /etc/kubeha/binary/coredns.yaml || ! { kubectl --kubeconfig /etc/kubernetes/super-admin.conf get -f /etc/kubeha/binary/coredns.yaml; } >/dev/null 2>&1; then
  # If this fails: the objects are in the file; check `kubectl -n kube-system get deploy coredns` and the API server's journal
  step 'kubectl apply CoreDNS (kubeadm'\''s addon objects)'
  (
    kubectl --kubeconfig /etc/kubernetes/super-admin.conf apply -f /etc/kubeha/binary/coredns.yaml
  ) || { rm -f /etc/kubeha/binary/coredns.yaml; die 'kubectl apply CoreDNS (kubeadm'\''s addon objects) failed'; }
fi

# --- cni: The pod network.
if ! { test "$(kubectl --kubeconfig /etc/kubernetes/super-admin.conf get node -l node-role.kubernetes.io/control-plane,node.kubernetes.io/exclude-from-external-load-balancers -o name | grep -cxF -e node/master01 -e node/master02 -e node/master03)" -eq 3; } >/dev/null 2>&1; then
  # If this fails: a Node that never registered: see `journalctl -u kubelet` on it (TLS bootstrap: `kubectl get csr`)
  step 'label the control-plane nodes (node-role.kubernetes.io/control-plane)'
  (
    for _ in $(seq 120); do kubectl --kubeconfig /etc/kubernetes/super-admin.conf get node master01 master02 master03 >/dev/null 2>&1 && break; sleep 1; done; kubectl --kubeconfig /etc/kubernetes/super-admin.conf label node master01 master02 master03 node-role.kubernetes.io/control-plane= node.kubernetes.io/exclude-from-external-load-balancers= --overwrite >/dev/null
  ) || die 'label the control-plane nodes (node-role.kubernetes.io/control-plane) failed'
fi
place /etc/kubeha/cni/kube-flannel.yaml 0644 root:root
if changed /etc/kubeha/cni/kube-flannel.yaml || ! { kubectl --kubeconfig /etc/kubernetes/admin.conf get -f /etc/kubeha/cni/kube-flannel.yaml -o name; } >/dev/null 2>&1; then
  # If this fails: see /etc/kubeha/cni/kube-flannel.yaml on the first control plane
  step 'apply flannel (namespace kube-flannel first)'
  (
    kubectl --kubeconfig /etc/kubernetes/admin.conf apply -f /etc/kubeha/cni/kube-flannel.yaml
  ) || { rm -f /etc/kubeha/cni/kube-flannel.yaml; die 'apply flannel (namespace kube-flannel first) failed'; }
fi
# If this fails: see `kubectl -n kube-flannel get pods -o wide` and the pods' logs; the images must be pullable (spec.kubernetes.cni.imageRepository for a mirror)
step 'wait until the flannel DaemonSet is rolled out (at most 300 s)'
(
  kubectl --kubeconfig /etc/kubernetes/admin.conf -n kube-flannel rollout status ds/kube-flannel-ds --timeout=300s
) || die 'wait until the flannel DaemonSet is rolled out (at most 300 s) failed'
# If this fails: a node stays NotReady while it has no CNI configuration in /etc/cni/net.d: see `kubectl describe node` and `journalctl -u kubelet` there
step 'wait until every node is Ready (at most 300 s)'
(
  kubectl --kubeconfig /etc/kubernetes/admin.conf wait --for=condition=Ready node --all --timeout=300s
) || die 'wait until every node is Ready (at most 300 s) failed'

log "done: master01 has its part of cluster seed-001-binary"
