#!/usr/bin/env bash
# kubeha install script for host lb02 (roles: lb) of cluster seed-001-binary.
# What `kubeha apply` does on this host (the same plan, the same commands), written out so a
# person can read it and run it by hand.
#
# Run as root on lb02 from the folder `kubeha render` wrote for it: the files beside this
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
log() { printf '[kubeha lb02] %s\n' "$*"; }
die() { printf '[kubeha lb02] error: %s\n' "$*" >&2; exit 1; }

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
if ! [ "$(hostname)" = lb02 ]; then
  step 'set hostname lb02'
  (
    hostnamectl set-hostname lb02 2>/dev/null || { hostname lb02 && echo lb02 > /etc/hostname; }
  ) || die 'set hostname lb02 failed'
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
place /etc/sysctl.d/90-kubeha-lb.conf 0644 root:root systemd-sysctl.service
if changed /etc/sysctl.d/90-kubeha-lb.conf; then sysctl -e -q -p /etc/sysctl.d/90-kubeha-lb.conf; fi

# --- packages: Packages: sources, signing keys, Debian packages, the Kubernetes binaries.
apt_install ca-certificates curl haproxy keepalived socat

# --- lb/haproxy: HAProxy (TCP) in front of the API servers.
place /etc/haproxy/haproxy.cfg 0644 root:root haproxy.service
place /etc/systemd/system/haproxy.service.d/10-kubeha.conf 0644 root:root haproxy.service
if changed /etc/systemd/system/haproxy.service.d/10-kubeha.conf; then systemctl daemon-reload; fi
if changed /etc/systemd/system/haproxy.service.d/10-kubeha.conf; then systemctl restart haproxy.service; elif changed /etc/haproxy/haproxy.cfg; then systemctl reload-or-restart haproxy.service; fi
systemctl enable haproxy >/dev/null 2>&1
systemctl is-active -q haproxy || systemctl start haproxy

# --- lb/keepalived: keepalived: the VRRP virtual IP.
place /etc/keepalived/keepalived.conf 0644 root:root keepalived.service
place /etc/keepalived/kubeha-check-haproxy.sh 0755 root:root
place /etc/systemd/system/keepalived.service.d/10-kubeha.conf 0644 root:root keepalived.service
if changed /etc/systemd/system/keepalived.service.d/10-kubeha.conf; then systemctl daemon-reload; fi
if changed /etc/systemd/system/keepalived.service.d/10-kubeha.conf; then systemctl restart keepalived.service; elif changed /etc/keepalived/keepalived.conf; then systemctl reload-or-restart keepalived.service; fi
systemctl enable keepalived >/dev/null 2>&1
systemctl is-active -q keepalived || systemctl start keepalived

log "done: lb02 has its part of cluster seed-001-binary"
