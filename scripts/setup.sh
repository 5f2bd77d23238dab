#!/usr/bin/env bash
# Installs everything kubeha's lab and tests need on a fresh Debian/Ubuntu machine (run as root):
# the Debian packages (real haproxy, keepalived, etcd, sshd, systemd-nspawn, debootstrap, ...) and
# the npm dependencies. Safe to run again. Services in these packages are NOT started on this
# machine: the lab runs them inside its own machines.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "setup.sh: run as root (sudo bash scripts/setup.sh)" >&2; exit 1; }

packages=(
  haproxy keepalived etcd-server etcd-client   # the real components, for config checks and PKI tests
  openssh-server openssh-client sudo           # SSH transport tests
  debootstrap systemd-container apt-cacher-ng  # the lab's machines and their package proxy
  ignition policycoreutils                     # ignition-validate, the real Ignition stages (and setfiles, which its files stage runs)
  shellcheck openssl iproute2 curl ca-certificates procps psmisc chromium
  stress-ng                                    # bench/soak.sh keeps a core busy while the suite runs
  tcpdump                                      # bench/drill.ts --vrrp-anatomy reads the VRRP adverts
)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # Keep package scripts from starting haproxy/keepalived/etcd/sshd/apt-cacher-ng on this machine.
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; own_policy=1; fi
  trap '[ $own_policy = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build   # bin/kubeha.mjs runs the compiled dist/
echo "setup.sh: ready"
