#!/usr/bin/env bash
# kubeha install script for host w1 (roles: worker) of cluster kvip.
# What `kubeha apply` does on this host (the same plan, the same commands), written out so a
# person can read it and run it by hand.
#
# Run as root on w1 from the folder `kubeha render` wrote for it: the files beside this
# script (./etc/..., ./root/...) are copied to the same absolute paths. Files already in place
# (uploaded by `kubeha apply`) are used as they are. Safe to run again: unchanged files are left
# alone, services restart only when one of their files changed, init/join run only once.
# Order across hosts: the first control plane (cp1), then the other control planes one at a time, then the workers.
# Joins by hand use the token and certificates `kubeadm init --upload-certs` created (valid 24 h
# and 2 h); `kubeha apply` renews them when they are older.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")" && pwd)"
CHANGED_UNITS=()
CHANGED_PATHS=()
log() { printf '[kubeha w1] %s\n' "$*"; }
die() { printf '[kubeha w1] error: %s\n' "$*" >&2; exit 1; }

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
if ! [ "$(hostname)" = w1 ]; then
  step 'set hostname w1'
  (
    hostnamectl set-hostname w1 2>/dev/null || { hostname w1 && echo w1 > /etc/hostname; }
  ) || die 'set hostname w1 failed'
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
place /etc/apt/apt.conf.d/90kubeha-proxy 0644 root:root
apt_install ca-certificates conntrack containerd curl ethtool iptables socat
# packages.source: bundle. `kubeha apply` installs the bundle's files (kubeha-bundle.json lists
# each src -> dest, e.g. bin/kubeadm -> /usr/bin/kubeadm, leaving out entries whose "bootstrap"
# names the other spec.bootstrap mode) and enables its units; by hand, copy them the same way
# (from spec.packages.bundle) before running this script (docs/bundle.md).
step 'install the offline bundle'
for b in kubelet kubeadm kubectl; do
  command -v "$b" >/dev/null || die "$b not found: install the offline bundle's files first"
done

# --- runtime: Container runtime.
place /etc/containerd/config.toml 0644 root:root containerd.service
place /etc/crictl.yaml 0644 root:root
if changed /etc/containerd/config.toml; then systemctl reload-or-restart containerd.service; fi
systemctl enable containerd >/dev/null 2>&1
systemctl is-active -q containerd || systemctl start containerd

# --- workers: kubeadm join (once) as a worker.
place /etc/kubeha/kubeadm/join.yaml 0600 root:root
if ! [ -s /etc/kubernetes/kubelet.conf ]; then
  # If this fails: check the load balancer (kubeha status) and the first control plane's API server
  step 'wait for the API through api.kvip.internal:6443'
  (
    for _ in $(seq 1 120); do curl -ksf --max-time 3 -o /dev/null https://api.kvip.internal:6443/readyz && exit 0; sleep 5; done; echo "the API does not answer at https://api.kvip.internal:6443/readyz" >&2; exit 1
  ) || die 'wait for the API through api.kvip.internal:6443 failed'
fi
if ! [ -s /etc/kubernetes/kubelet.conf ]; then
  # If this fails: after fixing the cause, `kubeadm reset -f` on w1 and re-run apply
  step 'kubeadm join'
  (
    kubeadm join --config /etc/kubeha/kubeadm/join.yaml
  ) || die 'kubeadm join failed'
fi

log "done: w1 has its part of cluster kvip"
