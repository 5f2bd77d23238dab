/**
 * One plan per host: the ordered steps that give a host its part of the cluster. Pure.
 *
 * Two executors read the same steps, so they cannot drift apart:
 * - `kubeha apply` runs them over SSH (src/phases/steps.ts), each apply phase taking the steps
 *   tagged with its id, and decides from the facts gathered in one round trip whether a guarded
 *   step still has work to do; `kubeha plan` is the same run with every change recorded.
 * - `install.sh` is generated from them (src/render/install-script.ts): the same files, the same
 *   shell text for every command, the same guards written as shell tests.
 * What is not per-host stays in the phases: the order across hosts, the bootstrap token and the
 * certificate upload for joins, etcd `member add`, verification (see CLUSTER_ACTIONS).
 */
import type { Cluster, Host } from "../spec/model.ts";
import { endpointHostPort, firstControlPlane } from "../spec/model.ts";
import type { RenderedFile, Secrets } from "../render/types.ts";
import { PATHS } from "../render/paths.ts";
import { shq } from "../util/shell.ts";
import { EXIT, InternalError, KubehaError } from "../errors.ts";
import { renderPackages, debianPackages, imagePackages, KUBERNETES_PACKAGES, crioRepository } from "../render/packages.ts";
import { renderSysctl } from "../render/sysctl.ts";
import { renderHosts } from "../render/hosts.ts";
import { renderContainerd } from "../render/containerd.ts";
import { renderCrio } from "../render/crio.ts";
import { renderHaproxy } from "../render/haproxy.ts";
import { renderKeepalived } from "../render/keepalived.ts";
import { renderEtcd, initialCluster } from "../render/etcd.ts";
import { isKubernetesNode, noHairpin, runsExternalEtcd, runsHaproxy, runsKeepalived } from "../spec/topology.ts";
import { renderKubeVip, needsSuperAdminSwap } from "../render/kubevip.ts";
import { renderKubeadm } from "../render/kubeadm.ts";
import { renderCni, cniActions } from "../render/cni.ts";
import { binaryUnits, renderBinary } from "../render/binary/index.ts";
import { runtimeUnit } from "../render/binary/node.ts";
import { controlPlaneLabels } from "../render/binary/addons.ts";
import { binaryBootstrap } from "../spec/topology.ts";

/** A yes/no question about a host, answered from its facts by apply and by a shell test in install.sh. */
export type Check =
  /** The file exists and is not empty. */
  | { kind: "exists"; path: string }
  /** The hostname is `name`. */
  | { kind: "hostname"; name: string }
  /** No swap is active. */
  | { kind: "swap-off" }
  /** A read-only command succeeds (asked when the step comes up, not from facts). */
  | { kind: "command"; script: string };

/** The apply phases that run per-host steps, in the order apply runs them. */
export const STEP_PHASES = [
  "os",
  "packages",
  "runtime",
  "lb/haproxy",
  "lb/keepalived",
  "etcd",
  "control-plane/init",
  "control-plane/endpoint",
  "control-plane/join",
  "workers",
  "cni",
] as const;
export type StepPhase = (typeof STEP_PHASES)[number];

interface StepBase {
  phase: StepPhase;
}

/**
 * Place files (upload by content hash, only what differs), then: daemon-reload when a unit file
 * changed, sysctls applied when a sysctl file changed, the units named in changed files'
 * `restarts` restarted or reloaded (see `unitTriggers`), and the `ensure` units enabled and
 * started when not running.
 */
export interface FilesStep extends StepBase {
  kind: "files";
  files: RenderedFile[];
  ensure: string[];
}

/** Debian packages; `quiet` daemons are stopped right after their install until kubeha configured them. */
export interface PackagesStep extends StepBase {
  kind: "packages";
  packages: string[];
  /** Packages held at the installed version (`apt-mark hold`). */
  hold: string[];
  quiet: string[];
}

/** The offline bundle's binaries and units (spec.packages.source: bundle), from the operator machine. */
export interface BundleStep extends StepBase {
  kind: "bundle";
  /** The commands the rest of the plan runs from the bundle (install.sh checks they are there). */
  binaries: string[];
}

/**
 * A shell command that changes the host. It runs when one of the `onChange` files changed in this
 * run, or when `unless` is given and does not hold, or when it has neither. A check that held
 * before is taken to hold for the rest of the run once the step ran. When an `onChange` command
 * fails its files are removed, so the next run writes them again and retries it.
 */
export interface RunStep extends StepBase {
  kind: "run";
  /** Imperative, lower-case: "kubeadm init --upload-certs". The action's name in plan and install.sh. */
  description: string;
  script: string;
  unless?: Check;
  onChange?: string[];
  timeoutMs?: number;
  hint?: string;
}

/** A bounded wait that changes nothing (skipped by a dry run). */
export interface WaitStep extends StepBase {
  kind: "wait";
  description: string;
  script: string;
  timeoutMs: number;
  hint: string;
  /** Only when a later guarded step of the same phase still has work (e.g. wait before a join). */
  before?: Check;
  /** Only when one of these files changed in this run (e.g. wait for a rollout after an apply). */
  onChange?: string[];
}

export type Step = FilesStep | PackagesStep | BundleStep | RunStep | WaitStep;

/** Per-host inputs that depend on the cluster's current state (facts); their defaults describe a new cluster. */
export interface PlanInputs {
  secrets: Secrets;
  /** Certificates, keys and kubeconfigs for a host (from the PKI module). */
  pkiFiles?: (host: string) => RenderedFile[];
  /**
   * The shared control-plane certificates are placed on every control plane by `pkiFiles`
   * (Ignition configs): joins then carry no certificate key, so they work whenever the host
   * boots, not only within the 2 h the uploaded copy lives. Default false (apply uploads).
   */
  sharedCertsPlaced?: boolean;
  /**
   * The host's packages come with its image (Ignition configs: an image-based system without
   * apt). The packages phase then only checks that the image carries every package this host
   * needs, and fails naming the missing ones; no apt source, key or install. Default false.
   */
  packagesFromImage?: boolean;
  /** The first-start settings of an external etcd member (default: a new cluster of every member). */
  etcdInitial?: (host: Host) => { state: "new" | "existing"; cluster: string } | undefined;
  /**
   * The control planes in HAProxy's backend (default: every control plane). Apply passes
   * `apiBackends` (src/plan/backends.ts): a control plane that has not joined a running cluster
   * yet enters only once its API server answers.
   */
  apiBackends?: readonly Host[];
}

/**
 * Actions apply takes that belong to no single host's plan (they coordinate hosts), named as
 * apply reports them. install.sh does not repeat them: `kubeadm init --upload-certs` creates the
 * token and uploads the certificates that joins by hand use within their lifetime.
 */
export const CLUSTER_ACTIONS = [/^create bootstrap token /, /^upload the shared certificates/, /^delete bootstrap token /, /^etcdctl member add /, /^etcdctl member remove /];

const MINUTES = 60_000;

/** `curl` of `url` until it answers 2xx, `tries` times `sleepS` apart at most; else names `what` and fails. */
export function readyzWaitScript(url: string, o: { tries: number; curlMaxS: number; sleepS: number; what: string }): string {
  return `for _ in $(seq 1 ${o.tries}); do curl -ksf --max-time ${o.curlMaxS} -o /dev/null ${shq(url)} && exit 0; sleep ${o.sleepS}; done; echo "${o.what} does not answer at ${url}" >&2; exit 1`;
}

/** `curl` through the control-plane endpoint until /readyz answers, bounded (10 minutes). */
export function waitForApiScript(c: Cluster): string {
  return readyzWaitScript(`https://${endpointHostPort(c)}/readyz`, { tries: 120, curlMaxS: 3, sleepS: 5, what: "the API" });
}

/** The lines around kubeha's block in /etc/hosts (written by mergeHostsScript, removed by reset). */
export const HOSTS_BLOCK = { begin: "# BEGIN kubeha", end: "# END kubeha" } as const;

/**
 * Replaces kubeha's marked block of /etc/hosts with the fragment's lines; the rest stays the
 * user's. `fragment` is a shell word (already quoted).
 */
export function mergeHostsScript(fragment: string = PATHS.hostsFragment): string {
  const { begin, end } = HOSTS_BLOCK;
  return [
    "tmp=$(mktemp)",
    `{ sed '/^${begin}$/,/^${end}$/d' ${PATHS.etcHosts}; echo '${begin}'; grep -v '^#' ${fragment}; echo '${end}'; } > "$tmp"`,
    `cmp -s "$tmp" ${PATHS.etcHosts} || cat "$tmp" > ${PATHS.etcHosts}`,
    'rm -f "$tmp"',
  ].join("\n");
}

function kubeadmInitScript(c: Cluster, h: Host): string {
  const init = `kubeadm init --config ${PATHS.kubeadmInit} --upload-certs --skip-token-print --skip-certificate-key-print`;
  if (!needsSuperAdminSwap(c, h)) return init;
  // kube-vip must hold the VIP before admin.conf is bound to cluster-admin (1.29+): during init
  // only, it runs with super-admin.conf; the steady manifest (admin.conf) comes back either way.
  return [
    `cp ${PATHS.kubeVipManifest} ${PATHS.kubeVipSteady}`,
    `cp ${PATHS.kubeVipDuringInit} ${PATHS.kubeVipManifest}`,
    `rc=0; ${init} || rc=$?`,
    `cp ${PATHS.kubeVipSteady} ${PATHS.kubeVipManifest}`,
    `rm -f ${PATHS.kubeVipSteady}`,
    "exit $rc",
  ].join("\n");
}

function kubeadmJoinScript(c: Cluster, h: Host): string {
  const join = `kubeadm join --config ${PATHS.kubeadmJoin}`;
  const e = c.endpoint;
  if (!(h.roles.includes("control-plane") && noHairpin(c) && e.dnsName)) return join;
  // The load balancer cannot hairpin and this node has no API server yet: discover through the
  // first control plane, then resolve the endpoint name to 127.0.0.1 again.
  const init = firstControlPlane(c);
  return [
    "frag=$(mktemp)",
    `grep -v ' ${e.dnsName}$' ${PATHS.hostsFragment} > "$frag"`,
    `echo ${shq(`${init.internalAddress} ${e.dnsName}`)} >> "$frag"`,
    mergeHostsScript('"$frag"'),
    `rc=0; ${join} || rc=$?`,
    mergeHostsScript(),
    'rm -f "$frag"',
    "exit $rc",
  ].join("\n");
}

/** The steps of one host, in the order apply and install.sh take them. */
export function planHost(c: Cluster, h: Host, inputs: PlanInputs): Step[] {
  const S: Step[] = [];
  const files = (phase: StepPhase, fs: RenderedFile[], ensure: string[] = []) => {
    if (fs.length || ensure.length) S.push({ kind: "files", phase, files: fs, ensure });
  };
  const run = (phase: StepPhase, description: string, script: string, more: Partial<RunStep> = {}) =>
    S.push({ kind: "run", phase, description, script, ...more });
  const k8s = isKubernetesNode(h);
  const first = k8s && firstControlPlane(c).name === h.name;
  const cp = h.roles.includes("control-plane");
  const pki = inputs.pkiFiles?.(h.name) ?? [];
  const placed: RenderedFile[] = [];

  // os: hostname, /etc/hosts block, kernel settings, swap.
  run("os", `set hostname ${h.name}`, `hostnamectl set-hostname ${shq(h.name)} 2>/dev/null || { hostname ${shq(h.name)} && echo ${shq(h.name)} > /etc/hostname; }`, {
    unless: { kind: "hostname", name: h.name },
  });
  files("os", renderHosts(c, h));
  run("os", `update the kubeha block in ${PATHS.etcHosts}`, mergeHostsScript(), { onChange: [PATHS.hostsFragment] });
  const sysctl = renderSysctl(c, h);
  files("os", sysctl);
  if (sysctl.some((f) => f.path === PATHS.modulesLoad))
    run("os", "load kernel modules overlay, br_netfilter", `for m in overlay br_netfilter; do [ -d /sys/module/$m ] || modprobe $m || echo "warning: cannot load kernel module $m" >&2; done`, {
      onChange: [PATHS.modulesLoad],
    });
  if (k8s)
    run("os", "turn swap off now and in /etc/fstab", `swapoff -a && sed -i.kubeha-bak -E 's|^([^#].*[[:space:]]swap[[:space:]].*)$|# \\1 # disabled by kubeha|' /etc/fstab`, {
      unless: { kind: "swap-off" },
    });

  // packages: sources, signing keys, Debian packages, the Kubernetes binaries.
  if (inputs.packagesFromImage) {
    const need = imagePackages(c, h);
    run("packages", `check that the image carries ${need.map((p) => p.pkg).join(", ")}`, imageCheckScript(need), {
      hint: "this host's packages come with its image (Ignition): build or choose an image that has them; nothing is installed at boot",
    });
  } else planAptPackages(c, h, S, run);
  if (k8s && c.packages.source === "bundle")
    S.push({ kind: "bundle", phase: "packages", binaries: binaryBootstrap(c) ? [...binaryUnits(c, h), "kubectl"] : [...KUBERNETES_PACKAGES] });

  // runtime
  if (k8s) files("runtime", [...renderContainerd(c, h), ...renderCrio(c, h)], [runtimeUnit(c)]);

  // load balancer
  if (runsHaproxy(c, h)) files("lb/haproxy", renderHaproxy(c, h, inputs.secrets, inputs.apiBackends), ["haproxy"]);
  if (runsKeepalived(c, h)) files("lb/keepalived", renderKeepalived(c, h, inputs.secrets), ["keepalived"]);

  // external etcd
  if (runsExternalEtcd(c, h)) {
    const initial = inputs.etcdInitial?.(h) ?? { state: "new" as const, cluster: initialCluster(c) };
    const etcdPki = withPkiOwners(pki.filter((f) => f.path.startsWith(PATHS.etcdPkiDir + "/")));
    placed.push(...etcdPki);
    files("etcd", [...renderEtcd(c, h, initial), ...etcdPki], ["etcd"]);
  }

  // binary: kubeha's own units, configuration, certificates and kubeconfigs; the kubelet joins
  // through TLS bootstrap once the first control plane has applied the bootstrap objects.
  if (k8s && binaryBootstrap(c)) {
    const phase: StepPhase = first ? "control-plane/init" : cp ? "control-plane/join" : "workers";
    const kube = pki.filter((f) => f.path.startsWith(PATHS.kubernetesDir + "/"));
    placed.push(...kube);
    files(phase, renderBinary(c, h, inputs.secrets, kube), binaryUnits(c, h));
    if (first) {
      S.push({
        kind: "wait",
        phase: "control-plane/endpoint",
        description: `wait for the API through ${endpointHostPort(c)}`,
        script: waitForApiScript(c),
        timeoutMs: 11 * MINUTES,
        hint: `check the load balancer (kubeha status) and \`journalctl -u kube-apiserver\` on ${h.name}`,
      });
      const kubeconfig = c.kubernetes.minor >= 29 ? PATHS.superAdminConf : PATHS.adminConf;
      const kc = `--kubeconfig ${kubeconfig}`;
      // Applied when its file changed, or when its objects are not all there (someone deleted one).
      const applyManifest = (what: string, manifest: string, hint: string) =>
        run("control-plane/endpoint", `kubectl apply ${what}`, `kubectl ${kc} apply -f ${manifest}`, {
          onChange: [manifest],
          unless: { kind: "command", script: `kubectl ${kc} get -f ${manifest}` },
          hint: `the objects are in the file; check ${hint} and the API server's journal`,
        });
      applyManifest("the TLS bootstrap token and RBAC bindings", PATHS.tlsBootstrapManifest, "`kubectl get --raw /readyz`");
      applyManifest("CoreDNS (kubeadm's addon objects)", PATHS.corednsManifest, "`kubectl -n kube-system get deploy coredns`");
      // NodeRestriction forbids a kubelet to give itself a node-role label: kubeha sets them, as kubeadm does.
      const labels = controlPlaneLabels(c, kubeconfig);
      run("cni", "label the control-plane nodes (node-role.kubernetes.io/control-plane)", labels.script, {
        unless: { kind: "command", script: labels.check },
        timeoutMs: 3 * MINUTES,
        hint: "a Node that never registered: see `journalctl -u kubelet` on it (TLS bootstrap: `kubectl get csr`)",
      });
    }
  }

  // kubeadm: configuration, certificates, kubeconfigs and static pods, then init or join once.
  if (k8s && !binaryBootstrap(c)) {
    const phase: StepPhase = first ? "control-plane/init" : cp ? "control-plane/join" : "workers";
    const kube = pki.filter((f) => f.path.startsWith(PATHS.kubernetesDir + "/"));
    placed.push(...kube);
    files(phase, [...renderKubeadm(c, h, inputs.secrets, { sharedCertsPlaced: inputs.sharedCertsPlaced ?? false }), ...renderKubeVip(c, h), ...kube]);
    if (first) {
      // kubelet.conf, not admin.conf: kubeha places its own admin.conf before init.
      run(phase, "kubeadm init --upload-certs", kubeadmInitScript(c, h), {
        unless: { kind: "exists", path: PATHS.kubeletConf },
        timeoutMs: 10 * MINUTES,
        hint: `see \`journalctl -u kubelet\` on ${h.name}; a failed init is cleaned with \`kubeadm reset -f\``,
      });
      S.push({
        kind: "wait",
        phase: "control-plane/endpoint",
        description: `wait for the API through ${endpointHostPort(c)}`,
        script: waitForApiScript(c),
        timeoutMs: 11 * MINUTES,
        hint: "check the load balancer (kubeha status) and the first control plane's API server",
      });
    } else {
      const joined: Check = { kind: "exists", path: PATHS.kubeletConf };
      S.push({
        kind: "wait",
        phase,
        description: `wait for the API through ${endpointHostPort(c)}`,
        script: waitForApiScript(c),
        timeoutMs: 11 * MINUTES,
        hint: "check the load balancer (kubeha status) and the first control plane's API server",
        before: joined,
      });
      run(phase, cp ? "kubeadm join --control-plane" : "kubeadm join", kubeadmJoinScript(c, h), {
        unless: joined,
        timeoutMs: 10 * MINUTES,
        hint: `after fixing the cause, \`kubeadm reset -f\` on ${h.name} and re-run apply`,
      });
    }
  }

  // pod network, from the first control plane with the admin kubeconfig.
  if (first) {
    const cni = renderCni(c, h);
    files("cni", cni);
    // Applied when a manifest changed or an object of it is missing; the waits only read, and run
    // on every apply, so a network that never came up is reported again.
    for (const a of cniActions(c)) {
      if (a.wait) S.push({ kind: "wait", phase: "cni", description: a.description, script: a.command, timeoutMs: a.timeoutMs ?? 5 * MINUTES, hint: a.hint });
      else
        run("cni", a.description, a.command, {
          onChange: cni.map((f) => f.path),
          ...(a.check ? { unless: { kind: "command" as const, script: a.check } } : {}),
          hint: a.hint,
          ...(a.timeoutMs ? { timeoutMs: a.timeoutMs } : {}),
        });
    }
  }
  const lost = pki.filter((f) => !placed.some((p) => p.path === f.path));
  if (lost.length) throw new InternalError(`no step of ${h.name}'s plan places ${lost.map((f) => f.path).join(", ")}`);
  return S;
}

/** The packages phase on an apt host: sources, signing keys, Debian packages (held where kubeha pins them). */
function planAptPackages(c: Cluster, h: Host, S: Step[], run: (phase: StepPhase, description: string, script: string, more?: Partial<RunStep>) => void): void {
  const k8s = isKubernetesNode(h);
  const proxy = c.packages.proxy ? ` --proxy ${shq(c.packages.proxy)}` : "";
  const sources = renderPackages(c, h);
  if (sources.length) S.push({ kind: "files", phase: "packages", files: sources, ensure: [] });
  const dearmor = (url: string, keyring: string) =>
    `install -d -m 0755 ${PATHS.aptKeyringDir} && curl -fsSL${proxy} ${shq(url)} | gpg --batch --yes --dearmor -o ${keyring}`;
  const keyHint = "the host needs HTTPS access to the package repository (or set spec.packages.proxy / a mirror)";
  const crio = sources.some((f) => f.path === PATHS.crioAptSource) ? crioRepository(c) : undefined;
  if (crio || sources.some((f) => f.path === PATHS.kubernetesAptSource))
    S.push({ kind: "packages", phase: "packages", packages: ["ca-certificates", "curl", "gpg"], hold: [], quiet: [] });
  if (sources.some((f) => f.path === PATHS.kubernetesAptSource))
    run("packages", `fetch the signing key of ${c.packages.repositoryBase}`, dearmor(c.packages.repositoryBase + "Release.key", PATHS.kubernetesKeyring), {
      unless: { kind: "exists", path: PATHS.kubernetesKeyring },
      hint: keyHint,
    });
  if (crio)
    run("packages", `fetch the signing key of ${crio}`, dearmor(crio + "Release.key", PATHS.crioKeyring), {
      unless: { kind: "exists", path: PATHS.crioKeyring },
      hint: keyHint,
    });
  const pkgs = debianPackages(c, h);
  S.push({
    kind: "packages",
    phase: "packages",
    packages: pkgs,
    hold: k8s && c.packages.source !== "bundle" ? [...KUBERNETES_PACKAGES] : [],
    quiet: pkgs.filter((p) => ["haproxy", "keepalived", "etcd-server"].includes(p)).map((p) => (p === "etcd-server" ? "etcd" : p)),
  });
}

/**
 * Fails, naming each missing package and the command looked for, when the image lacks one
 * (`command -v`: an image-based system has no package database kubeha could ask).
 */
export function imageCheckScript(need: readonly { pkg: string; command: string }[]): string {
  return [
    "missing=''",
    `for pc in ${need.map((p) => shq(`${p.pkg}:${p.command}`)).join(" ")}; do`,
    '  command -v "${pc#*:}" >/dev/null 2>&1 || missing="$missing ${pc%%:*} (command ${pc#*:})"',
    "done",
    '[ -z "$missing" ] && exit 0',
    'echo "the image lacks package(s):$missing; a host configured by Ignition installs nothing, its packages come with the image" >&2',
    "exit 1",
  ].join("\n");
}

/** A systemd unit file or drop-in: a change to it takes a restart, a reload does not apply it. */
export function isUnitFile(path: string): boolean {
  return path.startsWith("/etc/systemd/") || path.startsWith("/lib/systemd/");
}

/** The files that make a unit restart or reload when they change (see `unitTriggers`). */
export interface UnitTrigger {
  unit: string;
  /** Unit files and drop-ins naming the unit: when one changed, the unit is restarted. */
  unitFiles: string[];
  /** Configuration naming the unit: when only these changed, it is reloaded (`reload-or-restart`). */
  configFiles: string[];
}

/**
 * Which changed files restart and which reload each unit they name, first mention first. A
 * changed configuration of a running service is a reload: HAProxy's master starts a new worker
 * that takes the listening sockets over (`-x`), so no connection attempt is refused; keepalived re-reads its configuration on SIGHUP and keeps its VRRP state, so the
 * VIP stays where it is. `reload-or-restart` starts a unit that is not running, and restarts one
 * that cannot reload (etcd). A restart only when the unit's own file changed: a reload would not
 * apply it. Apply runs this on the files that changed; install.sh writes it as shell tests.
 */
export function unitTriggers(files: readonly RenderedFile[]): UnitTrigger[] {
  const out = new Map<string, UnitTrigger>();
  for (const f of files) {
    for (const unit of f.restarts ?? []) {
      if (unit === "systemd-sysctl.service") continue;
      let t = out.get(unit);
      if (!t) out.set(unit, (t = { unit, unitFiles: [], configFiles: [] }));
      (isUnitFile(f.path) ? t.unitFiles : t.configFiles).push(f.path);
    }
  }
  return [...out.values()];
}

/** Every file of a host's plan, sorted by path (what `kubeha render` writes for it besides install.sh). */
export function planFiles(steps: readonly Step[]): RenderedFile[] {
  return steps.flatMap((s) => (s.kind === "files" ? s.files : [])).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Every path a host's checks ask about (facts gather them in their one round trip). */
export function checkedPaths(steps: readonly Step[]): string[] {
  const paths = new Set<string>();
  for (const s of steps) {
    for (const c of [s.kind === "run" ? s.unless : s.kind === "wait" ? s.before : undefined]) if (c?.kind === "exists") paths.add(c.path);
  }
  return [...paths].sort();
}

/** A check as a shell test (true when it holds). */
export function checkShell(c: Check): string {
  switch (c.kind) {
    case "exists":
      return `[ -s ${shq(c.path)} ]`;
    case "hostname":
      return `[ "$(hostname)" = ${shq(c.name)} ]`;
    case "swap-off":
      return '[ "$(tail -n +2 /proc/swaps | wc -l)" -eq 0 ]';
    case "command":
      return `{ ${c.script}; } >/dev/null 2>&1`;
  }
}

/** PKI files with the owner their daemon needs: external etcd runs as user etcd and must read its keys. */
export function withPkiOwners<F extends RenderedFile>(files: readonly F[]): F[] {
  return files.map((f) => (f.path.startsWith(PATHS.etcdPkiDir + "/") ? { ...f, owner: f.owner ?? "etcd:etcd" } : f));
}
