/**
 * What `kubeha reset` undoes on one host, derived from that host's plan (src/plan/host.ts), so the
 * list of files, units and packages is never written a second time. Pure.
 *
 * Every action carries a read-only shell test (`pending`) that holds while there is work left: the
 * dry run evaluates only those, a real reset runs each action whose test holds, and a second reset
 * finds nothing pending (idempotent).
 */
import type { Cluster, Host } from "../spec/model.ts";
import type { Step } from "./host.ts";
import { HOSTS_BLOCK, planFiles } from "./host.ts";
import { PATHS } from "../render/paths.ts";
import { shq } from "../util/shell.ts";
import { binaryBootstrap, hasVip, isKubernetesNode, runsExternalEtcd, runsKeepalived, vipPrefix } from "../spec/topology.ts";

export interface ResetAction {
  /** Imperative, lower-case, as plan shows it: "stop and disable haproxy". */
  description: string;
  /** Read-only shell test: exits 0 while the action still has work. */
  pending: string;
  /** The change (runs with `set -e`). */
  script: string;
  /** The dry run's test when `pending` depends on earlier actions having run (a directory left empty). */
  dryRunPending?: string;
}

export interface ResetOptions {
  /** Purge the Debian packages of the plan's packages steps (and the offline bundle's files). */
  purgePackages: boolean;
  /** Destination paths of the offline bundle's files (spec.packages.source: bundle), from its manifest. */
  bundleFiles?: readonly string[];
}

/**
 * Packages a host's plan installs that are common tools, not parts of the cluster: other software
 * on the host may have come to rely on them since kubeha installed them, so it never purges them.
 * Every other package is purged only when the host's record says kubeha installed it
 * (PATHS.installedPackages).
 */
export const KEPT_PACKAGES: readonly string[] = ["ca-certificates", "curl", "gpg"];

/** kubeadm's own directories (it creates them; `kubeadm reset` empties but keeps them). */
const KUBEADM_DIRS = [PATHS.manifestsDir, PATHS.stackedEtcdPkiDir, `${PATHS.kubernetesDir}/pki`, PATHS.kubernetesDir, PATHS.kubeletDir, PATHS.cniNetDir];

/** Directories never pruned, even when empty and owned by no package. */
const NEVER_PRUNED = new Set(["/", "/etc", "/usr", "/usr/lib", "/usr/bin", "/usr/local", "/usr/local/bin", "/var", "/var/lib", "/lib", "/opt", "/root", "/run"]);

const { begin: BEGIN, end: END } = HOSTS_BLOCK;

function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let d = path.slice(0, path.lastIndexOf("/")); d && !NEVER_PRUNED.has(d); d = d.slice(0, d.lastIndexOf("/"))) out.push(d);
  return out;
}

const isSystemdPath = (p: string) => /^\/(etc|lib|usr\/lib)\/systemd\//.test(p);

/** The units the plan starts (files steps' `ensure`), plus the kubelet on Kubernetes nodes. */
export function resetUnits(h: Host, steps: readonly Step[]): string[] {
  const units = new Set(steps.flatMap((s) => (s.kind === "files" ? s.ensure : [])));
  if (isKubernetesNode(h)) units.add("kubelet");
  return [...units].map((u) => u.replace(/\.service$/, "")).sort();
}

/** Files the plan places: its files steps, and the files its packages-phase run steps create (signing keys). */
export function resetFiles(steps: readonly Step[]): string[] {
  const placed = planFiles(steps).map((f) => f.path);
  const created = steps.flatMap((s) => (s.kind === "run" && s.phase === "packages" && s.unless?.kind === "exists" ? [s.unless.path] : []));
  return [...new Set([...placed, ...created])].sort();
}

/** The Debian packages a purge removes: the plan's packages steps minus KEPT_PACKAGES. */
export function resetPackages(steps: readonly Step[]): string[] {
  const all = new Set(steps.flatMap((s) => (s.kind === "packages" ? s.packages : [])));
  return [...all].filter((p) => !KEPT_PACKAGES.includes(p)).sort();
}

/**
 * What reset asks dpkg about a package, in two meanings that differ on purpose for a package
 * "removed, configuration left" (dpkg status `deinstall ok config-files`):
 * - `known`: dpkg has it in any state but not-installed. A purge still has work there (the
 *   configuration files it left), so it counts.
 * - `installed`: fully installed (status ends in ` installed`). A runtime removed with its
 *   configuration left no longer owns its data: the data is orphaned, so it does not count.
 * A package dpkg never heard of is neither.
 */
export type DpkgMeaning = "known" | "installed";

/** Read-only shell test, true when the package (`pkgWord`, a shell word: quoted name or "$var") is `meaning`. */
export function dpkgHas(pkgWord: string, meaning: DpkgMeaning): string {
  const status = `dpkg-query -W -f='\${Status}\\n' ${pkgWord} 2>/dev/null`;
  return meaning === "known" ? `${status} | grep -qv not-installed` : `${status} | grep -q ' installed$'`;
}

/**
 * Shell that prints, one per line, the packages of `pkgs` that kubeha's record on the host
 * (PATHS.installedPackages) names and that dpkg still knows: the ones a purge removes.
 */
const recordedInstalled = (pkgs: readonly string[]) =>
  `for p in ${pkgs.map(shq).join(" ")}; do grep -qxF "$p" ${PATHS.installedPackages} 2>/dev/null && ${dpkgHas('"$p"', "known")} && echo "$p"; done`;

/** The actions that undo what the host's plan did, in the order they run. */
export function planReset(c: Cluster, h: Host, steps: readonly Step[], o: ResetOptions): ResetAction[] {
  const A: ResetAction[] = [];
  const add = (description: string, pending: string, script: string) => A.push({ description, pending, script });
  const files = resetFiles(steps);
  const purge = o.purgePackages ? resetPackages(steps) : [];
  const bundle = o.purgePackages && steps.some((s) => s.kind === "bundle") ? [...(o.bundleFiles ?? [])].sort() : [];

  // kubeadm first: it stops the kubelet and its static pods, and removes what it made.
  if (steps.some((s) => s.kind === "run" && /^kubeadm (init|join)/.test(s.description)))
    add(
      "kubeadm reset -f",
      `command -v kubeadm && { [ -e ${PATHS.kubeletConf} ] || [ -n "$(ls -A ${PATHS.manifestsDir} ${PATHS.kubeletDir} 2>/dev/null)" ]; }`,
      "kubeadm reset -f",
    );
  // kubeadm leaves the pod network's configuration (its own reset output says so); kubeha chose the network.
  if (isKubernetesNode(h))
    add(`delete the pod network configuration in ${PATHS.cniNetDir}`, `[ -n "$(ls -A ${PATHS.cniNetDir} 2>/dev/null)" ]`, `find ${PATHS.cniNetDir} -mindepth 1 -delete`);
  for (const u of resetUnits(h, steps))
    add(`stop and disable ${u}`, `systemctl is-active -q ${shq(u)} || systemctl is-enabled -q ${shq(u)}`, `systemctl stop ${shq(u)}; systemctl disable -q ${shq(u)} 2>/dev/null || true`);
  // binary mode has no `kubeadm reset`: what it would empty on a node the kubelet made itself, once
  // stopped: the kubeconfig and client certificate TLS bootstrap got (a new apply bootstraps again),
  // and its pods' state, with what is mounted there unmounted first (secret and token volumes).
  if (binaryBootstrap(c) && isKubernetesNode(h)) {
    const dir = PATHS.kubeletDir;
    const mounts = `awk -v d=${shq(`${dir}/`)} 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r`;
    add(
      `delete the kubelet's state in ${dir} and the kubeconfig TLS bootstrap wrote (${PATHS.kubeletConf})`,
      `[ -e ${PATHS.kubeletConf} ] || [ -n "$(ls -A ${dir} 2>/dev/null)" ]`,
      [`for m in $(${mounts}); do umount "$m"; done`, `rm -f ${PATHS.kubeletConf}`, `if [ -d ${dir} ]; then find ${dir} -mindepth 1 -delete; fi`].join("\n"),
    );
  }
  // keepalived gives the VIP up when it stops cleanly; a killed one leaves it on the interface.
  if (hasVip(c) && runsKeepalived(c, h)) {
    const addr = `${c.endpoint.address}/${vipPrefix(c)}`;
    add(`release the VIP ${addr} from ${h.interface}`, `ip -o addr show dev ${shq(h.interface)} | grep -q ${shq(` ${addr} `)}`, `${PATHS.ipCommand} addr del ${shq(addr)} dev ${shq(h.interface)}`);
  }
  if (runsExternalEtcd(c, h)) {
    const dir = c.etcd.dataDir;
    add(`delete the etcd data in ${dir}`, `[ -n "$(ls -A ${shq(dir)} 2>/dev/null)" ]`, `find ${shq(dir)} -mindepth 1 -delete`);
  }
  add(`remove kubeha's block from ${PATHS.etcHosts}`, `grep -qx ${shq(BEGIN)} ${PATHS.etcHosts}`, [
    "tmp=$(mktemp)",
    `sed '/^${BEGIN}$/,/^${END}$/d' ${PATHS.etcHosts} > "$tmp"`,
    `cat "$tmp" > ${PATHS.etcHosts}`,
    'rm -f "$tmp"',
  ].join("\n"));
  if (purge.length) {
    const env = "DEBIAN_FRONTEND=noninteractive";
    add(
      `apt-get purge what kubeha installed of ${purge.join(" ")}`,
      `[ -n "$(${recordedInstalled(purge)})" ]`,
      [
        `pkgs=$(${recordedInstalled(purge)})`,
        `${env} apt-get purge -y -q --allow-change-held-packages $pkgs`,
        `${env} apt-get autoremove --purge -y -q`,
      ].join("\n"),
    );
    add(`remove ${PATHS.installedPackages}`, `[ -e ${PATHS.installedPackages} ] && [ -z "$(${recordedInstalled(purge)})" ]`, `rm -f ${PATHS.installedPackages}`);
    // A runtime's data goes with the runtime, once it was purged (not when it was there before).
    const runtimeRoots: Array<[string, string]> = [
      ...(purge.includes("containerd") ? ([[PATHS.containerdRoot, "containerd"], [PATHS.containerdOpt, "containerd"]] as Array<[string, string]>) : []),
      ...(purge.includes("cri-o") ? ([[PATHS.crioRoot, "cri-o"]] as Array<[string, string]>) : []),
    ];
    for (const [d, pkg] of runtimeRoots) {
      const gone = `! ${dpkgHas(shq(pkg), "installed")}`;
      A.push({
        description: `delete the container runtime's data in ${d}`,
        pending: `[ -e ${shq(d)} ] && ${gone}`,
        script: `rm -rf ${shq(d)}`,
        dryRunPending: `[ -e ${shq(d)} ] && { ${gone} || grep -qxF ${pkg} ${PATHS.installedPackages} 2>/dev/null; }`,
      });
    }
  }
  // After the purge: a file that still belongs to a package (one that was there before kubeha, or
  // with no --purge-packages) stays, or the package would lack a file dpkg believes it has.
  for (const f of files) {
    const exists = `[ -e ${shq(f)} -o -L ${shq(f)} ]`;
    A.push({
      description: `remove ${f}`,
      pending: `${exists} && ! dpkg -S ${shq(f)} >/dev/null 2>&1`,
      script: `rm -f ${shq(f)}${isSystemdPath(f) ? " && systemctl daemon-reload" : ""}`,
      // The dry run comes before the purge: a file of a package kubeha installed goes with it.
      ...(purge.length ? { dryRunPending: `${exists} && { ! dpkg -S ${shq(f)} >/dev/null 2>&1 || [ -n "$(${recordedInstalled(purge)})" ]; }` } : {}),
    });
  }
  for (const f of bundle) add(`remove ${f} (offline bundle)`, `[ -e ${shq(f)} ]`, `rm -f ${shq(f)}${isSystemdPath(f) ? " && systemctl daemon-reload" : ""}`);
  // Directories left empty that no package owns, deepest first.
  const kubeadmDirs = isKubernetesNode(h) ? [...KUBEADM_DIRS, ...KUBEADM_DIRS.flatMap(ancestors)] : [];
  const record = purge.length ? [PATHS.installedPackages] : [];
  const dirs = [...new Set([...files, ...bundle, ...record].flatMap(ancestors).concat(kubeadmDirs))].sort((a, b) => b.split("/").length - a.split("/").length || (a < b ? -1 : 1));
  for (const d of dirs) {
    const ours = `[ -d ${shq(d)} ] && ! dpkg -S ${shq(d)} >/dev/null 2>&1`;
    A.push({ description: `remove the directory ${d} once empty`, pending: `${ours} && [ -z "$(ls -A ${shq(d)})" ]`, script: `rmdir ${shq(d)}`, dryRunPending: ours });
  }
  return A;
}

/** Marker lines the reset script prints (parsed by src/ops/reset.ts). */
export const RESET_MARK = { pending: "@@pending", done: "@@done", failed: "@@failed" } as const;

/**
 * One script for one round trip: each action whose test holds is reported (`@@pending N`) and, unless
 * `checkOnly`, run (`@@done N`); the first failure stops it (`@@failed N RC`, exit 1).
 */
export function resetScript(actions: readonly ResetAction[], checkOnly: boolean): string {
  const lines = ["export LC_ALL=C"];
  actions.forEach((a, n) => {
    // Not in an `if` condition: there the shell ignores `set -e`, also inside the subshell.
    const run = checkOnly ? "" : ` ( set -e\n${a.script}\n ) >&2; rc=$?; if [ $rc -eq 0 ]; then echo "${RESET_MARK.done} ${n}"; else echo "${RESET_MARK.failed} ${n} $rc"; exit 1; fi;`;
    lines.push(`if ( ${checkOnly && a.dryRunPending ? a.dryRunPending : a.pending}\n) >/dev/null 2>&1; then echo "${RESET_MARK.pending} ${n}";${run} fi`);
  });
  lines.push("exit 0");
  return lines.join("\n");
}
