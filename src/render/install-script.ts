/**
 * install.sh: the host's plan (src/plan/host.ts) written out as a bash script a person can read
 * and run by hand — the same steps `kubeha apply` executes, in the same order, with the same shell
 * text for every command and the same guards as shell tests. It copies the files `kubeha render`
 * wrote beside it (DIR/<host>/<absolute path>) to their absolute paths, or uses them in place when
 * they are already there (uploaded by `kubeha apply`). Idempotent: unchanged files are not
 * rewritten, units reload (restart when their unit file changed) only when one of their files
 * changed, init/join run once.
 * Secrets stay in their 0600 files: the script only names paths.
 */
import type { Cluster, Host } from "../spec/model.ts";
import { firstControlPlane } from "../spec/model.ts";
import { externalEtcd, managesLb } from "../spec/topology.ts";
import type { RenderedFile } from "./types.ts";
import { PATHS } from "./paths.ts";
import { shq } from "../util/shell.ts";
import { recordInstalledCommand } from "./packages.ts";
import { checkShell, isUnitFile, unitTriggers, type Step } from "../plan/host.ts";

function placeLine(f: RenderedFile): string {
  const mode = f.mode.toString(8).padStart(4, "0");
  return ["place", shq(f.path), mode, f.owner ?? "root:root", ...(f.restarts ?? [])].join(" ");
}

const PRELUDE = [
  "set -euo pipefail",
  "",
  'ROOT="$(cd "$(dirname "$0")" && pwd)"',
  "CHANGED_UNITS=()",
  "CHANGED_PATHS=()",
];

const HELPERS = [
  "# place PATH MODE OWNER [UNIT...]: install ROOT/PATH at PATH when it differs; remember the units to restart.",
  "place() {",
  "  local dst=$1 mode=$2 owner=$3 src",
  "  shift 3",
  '  src="$ROOT$dst"',
  '  if [ ! -f "$src" ]; then',
  '    [ -f "$dst" ] || die "missing $src: run this script from the folder kubeha render wrote"',
  "    src=$dst",
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
  "# changed WORD...: true when a unit or path of one of these names changed in this run.",
  "changed() {",
  "  local x w",
  '  for w in "$@"; do',
  '    for x in "${CHANGED_UNITS[@]}" "${CHANGED_PATHS[@]}"; do [ "$x" = "$w" ] && return 0; done',
  "  done",
  "  return 1",
  "}",
  "",
  "# step DESCRIPTION: says which action of the plan runs now (the same names `kubeha plan` prints).",
  'step() { log "$1"; }',
];

// Only for a plan that installs Debian packages: a host whose packages come with its image (an
// Ignition config) has no apt, and its plan checks the image instead (plan/host.ts).
const APT_HELPERS = [
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
  '  step "apt-get install ${missing[*]}"',
  '  if [ ! -e "$POLICY_RC" ]; then',
  "    printf '#!/bin/sh\\nexit 101\\n' > \"$POLICY_RC\"",
  '    chmod 0755 "$POLICY_RC"',
  "    trap 'rm -f \"$POLICY_RC\"' EXIT",
  "  fi",
  "  dpkg --configure -a",
  "  apt-get update -q",
  '  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"',
  `  ${recordInstalledCommand('"${missing[@]}"')}`,
  "}",
];

/** Shell lines for the unit handling after a files step (apply's `convergeFiles` does the same). */
function unitLines(files: readonly RenderedFile[], ensure: readonly string[]): string[] {
  const L: string[] = [];
  const unitFiles = files.filter((f) => isUnitFile(f.path));
  if (unitFiles.length) L.push(`if changed ${unitFiles.map((f) => shq(f.path)).join(" ")}; then systemctl daemon-reload; fi`);
  const sysctl = files.filter((f) => f.path.startsWith("/etc/sysctl.d/"));
  for (const f of sysctl) L.push(`if changed ${shq(f.path)}; then sysctl -e -q -p ${shq(f.path)}; fi`);
  // A changed unit file restarts its unit; a changed configuration reloads a running service in
  // place (a restart would stop haproxy, flipping the track file, or keepalived, and move the VIP).
  for (const t of unitTriggers(files)) {
    const reload = t.configFiles.length ? `if changed ${t.configFiles.map(shq).join(" ")}; then systemctl reload-or-restart ${t.unit}; fi` : undefined;
    if (!t.unitFiles.length) L.push(reload!);
    else L.push(`if changed ${t.unitFiles.map(shq).join(" ")}; then systemctl restart ${t.unit}; ${reload ? "el" + reload : "fi"}`);
  }
  for (const u of ensure) L.push(`systemctl enable ${shq(u)} >/dev/null 2>&1`, `systemctl is-active -q ${shq(u)} || systemctl start ${shq(u)}`);
  return L;
}

function indent(script: string, by = "  "): string[] {
  return script.split("\n").map((l) => by + l);
}

/** The lines of one step. */
function stepLines(s: Step, c: Cluster): string[] {
  switch (s.kind) {
    case "files":
      return [...s.files.map(placeLine), ...unitLines(s.files, s.ensure)];
    case "packages":
      return [
        `apt_install ${s.packages.join(" ")}`,
        ...(s.hold.length ? [`apt-mark hold ${s.hold.join(" ")} >/dev/null`] : []),
      ];
    case "bundle":
      return [
        "# packages.source: bundle. `kubeha apply` installs the bundle's files (kubeha-bundle.json lists",
        "# each src -> dest, e.g. bin/kubeadm -> /usr/bin/kubeadm, leaving out entries whose \"bootstrap\"",
        "# names the other spec.bootstrap mode) and enables its units; by hand, copy them the same way",
        "# (from spec.packages.bundle) before running this script (docs/bundle.md).",
        "step 'install the offline bundle'",
        `for b in ${s.binaries.join(" ")}; do`,
        '  command -v "$b" >/dev/null || die "$b not found: install the offline bundle\'s files first"',
        "done",
      ];
    case "run":
    case "wait": {
      // The same rule as apply: run when a trigger file changed, or the guard does not hold.
      const conds: string[] = [];
      if (s.onChange) conds.push(`changed ${s.onChange.map(shq).join(" ")}`);
      const guard = s.kind === "run" ? s.unless : s.before;
      if (guard) conds.push(`! ${checkShell(guard)}`);
      const fail = s.kind === "run" && s.onChange ? `{ rm -f ${s.onChange.map(shq).join(" ")}; die ${shq(`${s.description} failed`)}; }` : `die ${shq(`${s.description} failed`)}`;
      const body = [...(s.hint ? [`# If this fails: ${s.hint}`] : []), `step ${shq(s.description)}`, "(", ...indent(s.script), `) || ${fail}`];
      if (!conds.length) return body;
      return [`if ${conds.join(" || ")}; then`, ...indent(body.join("\n")), "fi"];
    }
  }
}

// The same text for every host, joined once (a host's script is its lines joined by newlines).
const PRELUDE_TEXT = PRELUDE.join("\n");
const ROOT_CHECK = '[ "$(id -u)" -eq 0 ] || die "run as root"';
const HELPERS_TEXT = {
  apt: ["", ...HELPERS, "", ...APT_HELPERS, "", ROOT_CHECK, 'command -v apt-get >/dev/null || die "kubeha supports Debian-family hosts (apt-get not found)"'].join("\n"),
  image: ["", ...HELPERS, "", ROOT_CHECK].join("\n"),
};

const SECTION: Record<Step["phase"], string> = {
  os: "Operating system: hostname, /etc/hosts block, kernel settings, swap.",
  packages: "Packages: sources, signing keys, Debian packages, the Kubernetes binaries.",
  runtime: "Container runtime.",
  "lb/haproxy": "HAProxy (TCP) in front of the API servers.",
  "lb/keepalived": "keepalived: the VRRP virtual IP.",
  etcd: "etcd member (external etcd, kubeha's PKI).",
  "control-plane/init": "kubeadm init (once) on the first control plane.",
  "control-plane/endpoint": "The API through the control-plane endpoint.",
  "control-plane/join": "kubeadm join (once) as a control plane.",
  workers: "kubeadm join (once) as a worker.",
  cni: "The pod network.",
};

/** The install script for one host, from its plan. */
export function renderInstallScript(c: Cluster, h: Host, steps: readonly Step[]): string {
  const order = [
    ...(externalEtcd(c) ? ["the etcd hosts"] : []),
    ...(managesLb(c) ? ["the LB hosts"] : []),
    `the first control plane (${firstControlPlane(c).name})`,
    "the other control planes one at a time",
    "the workers",
  ];
  const S: string[] = [
    "#!/usr/bin/env bash",
    `# kubeha install script for host ${h.name} (roles: ${h.roles.join(", ")}) of cluster ${c.name}.`,
    "# What `kubeha apply` does on this host (the same plan, the same commands), written out so a",
    "# person can read it and run it by hand.",
    "#",
    `# Run as root on ${h.name} from the folder \`kubeha render\` wrote for it: the files beside this`,
    "# script (./etc/..., ./root/...) are copied to the same absolute paths. Files already in place",
    "# (uploaded by `kubeha apply`) are used as they are. Safe to run again: unchanged files are left",
    "# alone, services restart only when one of their files changed, init/join run only once.",
    `# Order across hosts: ${order.join(", then ")}.`,
    ...(c.bootstrap === "binary"
      ? [
          "# bootstrap: binary: the kubelets join through TLS bootstrap with the token the first control",
          `# plane applies (${PATHS.tlsBootstrapManifest}); \`kubeha apply\` does not build this mode yet.`,
        ]
      : [
          "# Joins by hand use the token and certificates `kubeadm init --upload-certs` created (valid 24 h",
          "# and 2 h); `kubeha apply` renews them when they are older.",
        ]),
    PRELUDE_TEXT,
    `log() { printf '[kubeha ${h.name}] %s\\n' "$*"; }`,
    `die() { printf '[kubeha ${h.name}] error: %s\\n' "$*" >&2; exit 1; }`,
    HELPERS_TEXT[steps.some((s) => s.kind === "packages") ? "apt" : "image"],
  ];
  let phase: string | undefined;
  for (const s of steps) {
    if (s.phase !== phase) {
      phase = s.phase;
      S.push("", `# --- ${s.phase}: ${SECTION[s.phase]}`);
    }
    for (const l of stepLines(s, c)) S.push(l);
  }
  S.push("", `log "done: ${h.name} has its part of cluster ${c.name}"`);
  return S.join("\n") + "\n";
}
