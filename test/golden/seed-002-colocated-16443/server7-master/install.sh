#!/usr/bin/env bash
# kubeha install script for host server7-master (roles: control-plane, lb) of cluster seed-002.
# What `kubeha apply` does on this host, written out so a person can read it and run it by hand.
#
# Run as root on server7-master from the folder `kubeha render` wrote for it: the files beside this
# script (./etc/..., ./root/...) are copied to the same absolute paths. Files already in place
# (uploaded by `kubeha apply`) are used as they are. Safe to run again: unchanged files are left
# alone, services restart only when one of their files changed, init/join run only once.
# Order across hosts: the LB hosts, then the first control plane (server7-master), then the other control planes one at a time, then the workers.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")" && pwd)"
CHANGED_UNITS=()
CHANGED_PATHS=()
log() { printf '[kubeha server7-master] %s\n' "$*"; }
die() { printf '[kubeha server7-master] error: %s\n' "$*" >&2; exit 1; }

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

# changed WORD: true when a unit or path of that name changed in this run.
changed() {
  local x
  for x in "${CHANGED_UNITS[@]}" "${CHANGED_PATHS[@]}"; do [ "$x" = "$1" ] && return 0; done
  return 1
}

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
  log "installing ${missing[*]}"
  if [ ! -e "$POLICY_RC" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$POLICY_RC"
    chmod 0755 "$POLICY_RC"
    trap 'rm -f "$POLICY_RC"' EXIT
  fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

[ "$(id -u)" -eq 0 ] || die "run as root"
command -v apt-get >/dev/null || die "kubeha supports Debian-family hosts (apt-get not found)"
if [ "$(hostname)" != server7-master ]; then
  log "setting the hostname to server7-master"
  hostnamectl set-hostname server7-master
fi

# 1. Package sources.
apt_install ca-certificates curl gpg
install -d -m 0755 /etc/apt/keyrings
if [ ! -s /etc/apt/keyrings/kubernetes-apt-keyring.gpg ]; then
  curl -fsSL https://pkgs.k8s.io/core:/stable:/v1.34/deb/Release.key | gpg --dearmor -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg
fi
place /etc/apt/preferences.d/kubeha-kubernetes 0644 root:root
place /etc/apt/sources.list.d/kubernetes.list 0644 root:root

# 2. Packages.
apt_install ca-certificates conntrack containerd curl ethtool gpg haproxy iptables keepalived kubeadm kubectl kubelet socat
apt-mark hold kubelet kubeadm kubectl >/dev/null

# 3. Configuration files.
place /etc/containerd/config.toml 0644 root:root containerd.service
place /etc/crictl.yaml 0644 root:root
place /etc/haproxy/haproxy.cfg 0600 root:root haproxy.service
place /etc/keepalived/keepalived.conf 0644 root:root keepalived.service
place /etc/keepalived/kubeha-check-haproxy.sh 0755 root:root
place /etc/keepalived/kubeha-notify.sh 0755 root:root
place /etc/kubeha/cni/calico-installation.yaml 0644 root:root
place /etc/kubeha/cni/tigera-operator.yaml 0644 root:root
place /etc/kubeha/hosts 0644 root:root
place /etc/kubeha/kubeadm/init.yaml 0600 root:root
place /etc/modules-load.d/kubeha.conf 0644 root:root
place /etc/sysctl.d/90-kubeha-kubernetes.conf 0644 root:root systemd-sysctl.service
place /etc/sysctl.d/90-kubeha-lb.conf 0644 root:root systemd-sysctl.service
place /etc/systemd/system/haproxy.service.d/10-kubeha.conf 0644 root:root haproxy.service
place /etc/systemd/system/keepalived.service.d/10-kubeha.conf 0644 root:root keepalived.service

# 4. /etc/hosts: keep kubeha's lines in a marked block, leave the rest of the file alone.
merge_hosts() {
  local tmp
  tmp=$(mktemp)
  { sed '/^# BEGIN kubeha$/,/^# END kubeha$/d' /etc/hosts; echo '# BEGIN kubeha'; grep -v '^#' "$1"; echo '# END kubeha'; } > "$tmp"
  if ! cmp -s "$tmp" /etc/hosts; then cat "$tmp" > /etc/hosts; log "updated /etc/hosts"; fi
  rm -f "$tmp"
}
merge_hosts /etc/kubeha/hosts

# 5. Host preparation for Kubernetes: no swap, kernel modules, sysctls.
swapoff -a
sed -i -E 's@^([^#].*[[:space:]]swap[[:space:]].*)$@# kubeha: \1@' /etc/fstab
for m in overlay br_netfilter; do
  if ! grep -q "^$m " /proc/modules && [ ! -d "/sys/module/$m" ]; then
    modprobe "$m" || log "warning: could not load kernel module $m (containers cannot; real hosts must)"
  fi
done

# 6. Services: reload systemd, enable, restart those whose files changed (in dependency order).
systemctl daemon-reload
if changed systemd-sysctl.service; then sysctl --system >/dev/null; fi
systemctl enable containerd.service >/dev/null 2>&1
if changed containerd.service; then systemctl reload-or-restart containerd.service; else systemctl start containerd.service; fi
systemctl enable haproxy.service >/dev/null 2>&1
if changed haproxy.service; then systemctl reload-or-restart haproxy.service; else systemctl start haproxy.service; fi
systemctl enable keepalived.service >/dev/null 2>&1
if changed keepalived.service; then systemctl reload-or-restart keepalived.service; else systemctl start keepalived.service; fi
for _ in $(seq 1 50); do
  if (exec 3<>/dev/tcp/127.0.0.1/16443) 2>/dev/null; then break; fi
  sleep 0.2
done
(exec 3<>/dev/tcp/127.0.0.1/16443) 2>/dev/null || die "haproxy does not listen on :16443; see journalctl -u haproxy"
log "keepalived runs; the VIP 198.18.2.199 is on the highest-priority healthy LB host"

# 7. kubelet (crash-loops until kubeadm writes its configuration: expected).
systemctl enable kubelet >/dev/null 2>&1

# wait_endpoint: the API must answer through vip:16443 (bounded: 10 minutes).
wait_endpoint() {
  for _ in $(seq 1 120); do
    if curl -ksf --max-time 3 -o /dev/null https://vip:16443/readyz; then return 0; fi
    sleep 5
  done
  die "the API does not answer at https://vip:16443/readyz"
}

# 8. kubeadm init (once), then the pod network.
if [ ! -f /etc/kubernetes/admin.conf ]; then
  kubeadm init --config /etc/kubeha/kubeadm/init.yaml --upload-certs
fi
export KUBECONFIG=/etc/kubernetes/admin.conf
wait_endpoint
# apply the tigera-operator (namespace tigera-operator first)
kubectl --kubeconfig /etc/kubernetes/admin.conf apply -f /etc/kubeha/cni/tigera-operator.yaml || die 'apply the tigera-operator (namespace tigera-operator first) failed: see /etc/kubeha/cni/tigera-operator.yaml on the first control plane'
# wait until the operator's CRDs are established (at most 120 s)
kubectl --kubeconfig /etc/kubernetes/admin.conf wait --for=condition=established --timeout=120s crd/installations.operator.tigera.io crd/apiservers.operator.tigera.io || die 'wait until the operator'\''s CRDs are established (at most 120 s) failed: see kubectl get crd | grep tigera'
# apply calico's Installation and APIServer
kubectl --kubeconfig /etc/kubernetes/admin.conf apply -f /etc/kubeha/cni/calico-installation.yaml || die 'apply calico'\''s Installation and APIServer failed: see /etc/kubeha/cni/calico-installation.yaml on the first control plane'
# wait until every node is Ready (at most 300 s)
kubectl --kubeconfig /etc/kubernetes/admin.conf wait --for=condition=Ready node --all --timeout=300s || die 'wait until every node is Ready (at most 300 s) failed: a node stays NotReady while it has no CNI configuration in /etc/cni/net.d: see kubectl describe node and journalctl -u kubelet there'
log "control plane initialized; join the other control planes one at a time (certificates stay uploaded for 2 hours)"
