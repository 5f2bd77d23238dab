#!/bin/bash
# keepalived check: the local HAProxy frontend accepts connections.
# Rendered by kubeha; `kubeha apply` overwrites local edits. Change the cluster file instead.
# Deliberately local: a check through the apiservers would fail on every LB host at once
# (before `kubeadm init`, or when the control plane is down) and could leave no VIP at all.
# keepalived refuses scripts that others can write (enable_script_security): keep mode 0755.
exec timeout 0.8 bash -c 'exec 3<>/dev/tcp/127.0.0.1/6443' 2>/dev/null
