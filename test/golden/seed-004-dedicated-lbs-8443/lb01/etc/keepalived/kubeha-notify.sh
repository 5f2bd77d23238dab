#!/bin/sh
# keepalived notify: record whether this host holds the VIP.
# Rendered by kubeha; `kubeha apply` overwrites local edits. Change the cluster file instead.
# Usage (from keepalived.conf): kubeha-notify.sh MASTER|BACKUP|FAULT|STOP
set -eu
mkdir -p /run/kubeha
case "${1:-}" in
  MASTER) echo 1 > /run/kubeha/vip-holder ;;
  *) echo 0 > /run/kubeha/vip-holder ;;
esac
