/**
 * install.sh: the readable equivalent of what `kubeha apply` does on one host, in order, as a
 * bash script a person can run by hand. It copies the files `kubeha render` wrote beside it
 * (DIR/<host>/<absolute path>) to their absolute paths, or uses them in place when they are
 * already there (e.g. uploaded by `kubeha apply`). Idempotent: unchanged files are not
 * rewritten, units restart only when one of their files changed, init/join run once.
 * Secrets stay in their 0600 files: the script only names paths.
 */
import type { Cluster, Host } from "../spec/model.ts";
import { endpointHostPort, firstControlPlane } from "../spec/model.ts";
import type { RenderedFile } from "./types.ts";
import { PATHS } from "./paths.ts";
import { isKubernetesNode } from "./kubeadm.ts";
import { runsHaproxy } from "./haproxy.ts";
import { runsKeepalived } from "./keepalived.ts";
import { runsExternalEtcd } from "./etcd.ts";
import { debianPackages, KUBERNETES_PACKAGES, crioRepository } from "./packages.ts";
import { cniActions } from "./cni.ts";
import { needsSuperAdminSwap } from "./kubevip.ts";

/** Single-quotes a value for bash. */
export function shq(s: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Units in the order they are (re)started: runtime before kubelet, haproxy before keepalived. */
const UNIT_ORDER = [
  "systemd-sysctl.service",
  "containerd.service",
  "crio.service",
  "etcd.service",
  "haproxy.service",
  "keepalived.service",
];

const APT_FILES: string[] = [PATHS.aptProxy, PATHS.kubernetesAptSource, PATHS.kubernetesAptPin, PATHS.crioAptSource];

function placeLine(f: RenderedFile): string {
  const mode = f.mode.toString(8).padStart(4, "0");
  return ["place", shq(f.path), mode, f.owner ?? "root:root", ...(f.restarts ?? [])].join(" ");
}

/** The install script for one host, given every file rendered for it. */
export function renderInstallScript(c: Cluster, h: Host, files: RenderedFile[]): string {
  const k8s = isKubernetesNode(h);
  const first = k8s && firstControlPlane(c).name === h.name;
  const cp = h.roles.includes("control-plane");
  const ep = endpointHostPort(c);
  const bundle = c.packages.source === "bundle";
  const proxy = c.packages.proxy ? ` --proxy ${shq(c.packages.proxy)}` : "";
  const others = files.filter((f) => !APT_FILES.includes(f.path) && f.path !== PATHS.installScript);
  const aptFiles = files.filter((f) => APT_FILES.includes(f.path));
  const units = new Set(files.flatMap((f) => f.restarts ?? []));
  const S: string[] = [];
  const add = (...l: string[]) => S.push(...l);

  const order = [
    ...(c.etcd.mode === "external" ? ["the etcd hosts"] : []),
    ...(c.endpoint.mode === "haproxy-keepalived" || c.endpoint.mode === "haproxy" ? ["the LB hosts"] : []),
    `the first control plane (${firstControlPlane(c).name})`,
    "the other control planes one at a time",
    "the workers",
  ];
  add(
    "#!/usr/bin/env bash",
    `# kubeha install script for host ${h.name} (roles: ${h.roles.join(", ")}) of cluster ${c.name}.`,
    "# What `kubeha apply` does on this host, written out so a person can read it and run it by hand.",
    "#",
    `# Run as root on ${h.name} from the folder \`kubeha render\` wrote for it: the files beside this`,
    "# script (./etc/..., ./root/...) are copied to the same absolute paths. Files already in place",
    "# (uploaded by `kubeha apply`) are used as they are. Safe to run again: unchanged files are left",
    "# alone, services restart only when one of their files changed, init/join run only once.",
    `# Order across hosts: ${order.join(", then ")}.`,
    "set -euo pipefail",
    "",
    'ROOT="$(cd "$(dirname "$0")" && pwd)"',
    "CHANGED_UNITS=()",
    "CHANGED_PATHS=()",
    `log() { printf '[kubeha ${h.name}] %s\\n' "$*"; }`,
    `die() { printf '[kubeha ${h.name}] error: %s\\n' "$*" >&2; exit 1; }`,
    "",
    "# place PATH MODE OWNER [UNIT...]: install ROOT/PATH at PATH when it differs; remember the units to restart.",
    "place() {",
    '  local dst=$1 mode=$2 owner=$3 src',
    "  shift 3",
    '  src="$ROOT$dst"',
    '  if [ ! -f "$src" ]; then',
    '    [ -f "$dst" ] || die "missing $src: run this script from the folder kubeha render wrote"',
    '    src=$dst',
    "  fi",
    '  if [ "$src" != "$dst" ] && ! cmp -s "$src" "$dst"; then',
    '    install -d -m 0755 "$(dirname "$dst")"',
    '    install -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$src" "$dst"',
    '    CHANGED_UNITS+=("$@")',
    '    CHANGED_PATHS+=("$dst")',
    '    log "updated $dst"',
    "  else",
    '    chmod "$mode" "$dst"',
    '    chown "$owner" "$dst"',
    "  fi",
    "}",
    "",
    "# changed WORD: true when a unit or path of that name changed in this run.",
    "changed() {",
    "  local x",
    '  for x in "${CHANGED_UNITS[@]}" "${CHANGED_PATHS[@]}"; do [ "$x" = "$1" ] && return 0; done',
    "  return 1",
    "}",
    "",
    "# apt_install PKG...: install what is missing, without starting daemons on their package defaults",
    "# (Debian would start a single-node etcd and a default haproxy); kubeha starts them once configured.",
    "POLICY_RC=/usr/sbin/policy-rc.d",
    "apt_install() {",
    "  local p missing=()",
    '  for p in "$@"; do',
    "    # shellcheck disable=SC2016 # ${Status} is dpkg-query's format, not a shell variable",
    '    dpkg-query -W -f=\'${Status}\' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")',
    "  done",
    '  [ "${#missing[@]}" -eq 0 ] && return 0',
    '  log "installing ${missing[*]}"',
    '  if [ ! -e "$POLICY_RC" ]; then',
    "    printf '#!/bin/sh\\nexit 101\\n' > \"$POLICY_RC\"",
    '    chmod 0755 "$POLICY_RC"',
    "    trap 'rm -f \"$POLICY_RC\"' EXIT",
    "  fi",
    "  apt-get update -q",
    '  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"',
    "}",
    "",
    '[ "$(id -u)" -eq 0 ] || die "run as root"',
    'command -v apt-get >/dev/null || die "kubeha supports Debian-family hosts (apt-get not found)"',
    `if [ "$(hostname)" != ${shq(h.name)} ]; then`,
    `  log "setting the hostname to ${h.name}"`,
    `  hostnamectl set-hostname ${shq(h.name)}`,
    "fi",
    "",
    "# 1. Package sources.",
  );
  for (const f of aptFiles.filter((f) => f.path === PATHS.aptProxy)) add(placeLine(f));
  add("apt_install ca-certificates curl gpg");
  if (k8s && !bundle) {
    add(
      `install -d -m 0755 ${PATHS.aptKeyringDir}`,
      `if [ ! -s ${PATHS.kubernetesKeyring} ]; then`,
      `  curl -fsSL${proxy} ${shq(c.packages.repositoryBase + "Release.key")} | gpg --dearmor -o ${PATHS.kubernetesKeyring}`,
      "fi",
    );
    const crio = c.kubernetes.containerRuntime === "cri-o" ? crioRepository(c) : undefined;
    if (crio) {
      add(
        `if [ ! -s ${PATHS.crioKeyring} ]; then`,
        `  curl -fsSL${proxy} ${shq(crio + "Release.key")} | gpg --dearmor -o ${PATHS.crioKeyring}`,
        "fi",
      );
    }
  }
  for (const f of aptFiles.filter((f) => f.path !== PATHS.aptProxy)) add(placeLine(f));
  add("", "# 2. Packages.", `apt_install ${debianPackages(c, h).join(" ")}`);
  if (k8s && !bundle) add(`apt-mark hold ${KUBERNETES_PACKAGES.join(" ")} >/dev/null`);
  if (k8s && bundle) {
    add(
      "# packages.source: bundle. `kubeha apply` installs the bundle's files (kubeha-bundle.json lists",
      "# each src -> dest, e.g. bin/kubeadm -> /usr/bin/kubeadm) and enables its units; by hand, copy",
      "# them the same way before running this script (see docs/bundle.md).",
      "for b in kubeadm kubelet kubectl; do",
      '  command -v "$b" >/dev/null || die "$b not found: install the offline bundle\'s files first (docs/bundle.md)"',
      "done",
    );
  }

  add("", "# 3. Configuration files.");
  for (const f of others) add(placeLine(f));
  add(
    "",
    "# 4. /etc/hosts: keep kubeha's lines in a marked block, leave the rest of the file alone.",
    "merge_hosts() {",
    "  local tmp",
    "  tmp=$(mktemp)",
    `  { sed '/^# BEGIN kubeha$/,/^# END kubeha$/d' ${PATHS.etcHosts}; echo '# BEGIN kubeha'; grep -v '^#' "$1"; echo '# END kubeha'; } > "$tmp"`,
    `  if ! cmp -s "$tmp" ${PATHS.etcHosts}; then cat "$tmp" > ${PATHS.etcHosts}; log "updated ${PATHS.etcHosts}"; fi`,
    '  rm -f "$tmp"',
    "}",
    `merge_hosts ${PATHS.hostsFragment}`,
  );

  if (k8s) {
    add(
      "",
      "# 5. Host preparation for Kubernetes: no swap, kernel modules, sysctls.",
      "swapoff -a",
      "sed -i -E 's@^([^#].*[[:space:]]swap[[:space:]].*)$@# kubeha: \\1@' /etc/fstab",
      "for m in overlay br_netfilter; do",
      '  if ! grep -q "^$m " /proc/modules && [ ! -d "/sys/module/$m" ]; then',
      '    modprobe "$m" || log "warning: could not load kernel module $m (containers cannot; real hosts must)"',
      "  fi",
      "done",
    );
  }
  if (units.size > 0) {
    add(
      "",
      "# 6. Services: reload systemd, enable, restart those whose files changed (in dependency order).",
      "systemctl daemon-reload",
    );
    for (const u of UNIT_ORDER.filter((u) => units.has(u))) {
      if (u === "systemd-sysctl.service") {
        add(`if changed ${u}; then sysctl --system >/dev/null; fi`);
        continue;
      }
      if (u === "etcd.service") add(`install -d -m 0700 -o etcd -g etcd ${shq(c.etcd.dataDir)}`);
      // reload-or-restart: a changed haproxy.cfg or keepalived.conf is reloaded in place; a restart
      // would stop haproxy (flipping the track file) or keepalived and move the VIP for nothing.
      add(`systemctl enable ${u} >/dev/null 2>&1`, `if changed ${u}; then systemctl reload-or-restart ${u}; else systemctl start ${u}; fi`);
    }
  }
  if (runsHaproxy(c, h)) {
    add(
      "for _ in $(seq 1 50); do",
      `  if (exec 3<>/dev/tcp/127.0.0.1/${c.endpoint.port}) 2>/dev/null; then break; fi`,
      "  sleep 0.2",
      "done",
      `(exec 3<>/dev/tcp/127.0.0.1/${c.endpoint.port}) 2>/dev/null || die "haproxy does not listen on :${c.endpoint.port}; see journalctl -u haproxy"`,
    );
  }
  if (runsKeepalived(c, h)) add(`log "keepalived runs; the VIP ${c.endpoint.address} is on the highest-priority healthy LB host"`);
  if (runsExternalEtcd(c, h)) add(`log "etcd member ${h.name} started; the cluster forms once a quorum of members runs"`);

  if (k8s) {
    add("", "# 7. kubelet (crash-loops until kubeadm writes its configuration: expected).", "systemctl enable kubelet >/dev/null 2>&1");
    add(
      "",
      `# wait_endpoint: the API must answer through ${ep} (bounded: 10 minutes).`,
      "wait_endpoint() {",
      "  for _ in $(seq 1 120); do",
      `    if curl -ksf --max-time 3 -o /dev/null https://${ep}/readyz; then return 0; fi`,
      "    sleep 5",
      "  done",
      `  die "the API does not answer at https://${ep}/readyz"`,
      "}",
    );
  }
  if (first) {
    const swap = needsSuperAdminSwap(c, h);
    add("", "# 8. kubeadm init (once), then the pod network.", `if [ ! -f ${PATHS.adminConf} ]; then`);
    if (swap) {
      add(
        "  # kube-vip needs cluster-admin before admin.conf has it (1.29+): super-admin.conf during init only.",
        "  steady=$(mktemp)",
        `  cp ${PATHS.kubeVipManifest} "$steady"`,
        `  cp ${PATHS.kubeVipDuringInit} ${PATHS.kubeVipManifest}`,
        `  kubeadm init --config ${PATHS.kubeadmInit} --upload-certs`,
        "  # Steady state: kube-vip mounts admin.conf (the kubelet restarts the static pod).",
        `  cp "$steady" ${PATHS.kubeVipManifest}`,
        '  rm -f "$steady"',
      );
    } else {
      add(`  kubeadm init --config ${PATHS.kubeadmInit} --upload-certs`);
    }
    add("fi");
    add(`export KUBECONFIG=${PATHS.adminConf}`, "wait_endpoint");
    for (const a of cniActions(c)) add(`# ${a.description}`, `${a.command} || die ${shq(`${a.description} failed: ${a.hint.replaceAll("`", "")}`)}`);
    add(`log "control plane initialized; join the other control planes one at a time (certificates stay uploaded for 2 hours)"`);
  } else if (k8s) {
    const hairpinFix = cp && c.endpoint.mode === "external" && !c.endpoint.hairpin && c.endpoint.dnsName;
    add("", `# 8. kubeadm join (once) as a ${cp ? "control plane" : "worker"}.`, `if [ ! -f ${PATHS.kubeletConf} ]; then`);
    if (hairpinFix) {
      const init = firstControlPlane(c);
      add(
        "  # The load balancer cannot hairpin and this node has no API server yet: discover through the",
        `  # first control plane (${init.name}), then resolve ${c.endpoint.dnsName} to 127.0.0.1 again.`,
        "  tmp_hosts=$(mktemp)",
        `  grep -v ' ${c.endpoint.dnsName}$' ${PATHS.hostsFragment} > "$tmp_hosts"`,
        `  echo ${shq(`${init.internalAddress} ${c.endpoint.dnsName}`)} >> "$tmp_hosts"`,
        '  merge_hosts "$tmp_hosts"',
        '  rm -f "$tmp_hosts"',
      );
    }
    add("  wait_endpoint", `  kubeadm join --config ${PATHS.kubeadmJoin}`);
    if (hairpinFix) add(`  merge_hosts ${PATHS.hostsFragment}`);
    add("fi", `log "${h.name} is part of cluster ${c.name}"`);
  }
  if (!k8s) add("", `log "done: ${h.name} is configured"`);
  return S.join("\n") + "\n";
}
