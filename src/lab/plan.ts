/**
 * Pure planning for `kubeha lab`: names, addresses, paths, the cluster file and every file
 * written into a machine. No effects here: `index.ts` and its helpers carry the plan out.
 */
import { createHash } from "node:crypto";
import path from "node:path";
import { stringify } from "yaml";
import type { ClusterFile, HostFile, Role } from "../spec/file.ts";
import { BOOTSTRAPS, type Bootstrap } from "../spec/model.ts";
import { cidrContains, cidrToString, intToIp, parseCidr, type Cidr } from "../util/net.ts";
import { UsageError } from "../errors.ts";

/** The range every lab address comes from (RFC 2544 benchmarking space, never routed). */
export const LAB_RANGE = "198.18.0.0/15";
/** apt-cacher-ng port on the bridge address. */
export const PROXY_PORT = 3142;
/** First host number of a machine in the lab /24; .1 is the bridge, .100 the VIP. */
export const FIRST_MACHINE = 11;
export const VIP_HOST = 100;
export const MAX_MACHINES = VIP_HOST - FIRST_MACHINE;

/** Where state outside the repository lives. One place knows these paths. */
export const PATHS = {
  /** Cached base images, one directory per recipe hash. */
  baseCache: "/var/cache/kubeha/base",
  /** apt-cacher-ng cache per lab name (kept across `lab down`: it is a cache). */
  proxyCache: "/var/cache/kubeha/apt-cacher-ng",
  /** Per-machine overlay layers (upper/work/root). */
  machines: "/var/lib/kubeha/lab",
  /** Runtime state: state.json, launcher scripts, logs, proxy config. */
  run: "/run/kubeha/lab",
  cgroupRoots: ["/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"],
} as const;

export type MachineRole = "master" | "worker" | "lb";

/**
 * How the lab's cluster reaches its API servers: HAProxy + keepalived on the masters (or on `--lbs`
 * machines), or kube-vip static pods on the masters holding the VIP.
 */
export const LAB_ENDPOINTS = ["haproxy-keepalived", "kube-vip"] as const;
export type LabEndpoint = (typeof LAB_ENDPOINTS)[number];

export interface LabOptions {
  /** Lab name: a-z, 0-9 and `-`, starting with a letter, at most 12 characters. Default `lab`. */
  name?: string;
  masters?: number;
  workers?: number;
  lbs?: number;
  /** A /24 inside 198.18.0.0/15. Default: derived from the name. */
  subnet?: string;
  /** Directory that receives cluster.yaml, keys and known_hosts. Default `<cwd>/lab/<name>`. */
  dir?: string;
  /** Give the cluster file an offline bundle made from this directory (the Kubernetes stand-ins). */
  bundle?: string;
  /** Endpoint mode of the lab's cluster file. Default `haproxy-keepalived`. */
  endpoint?: LabEndpoint;
  /**
   * etcd mode of the lab's cluster file. Default `external` (kubeha's etcd on the masters).
   * `stacked`: kubeadm's etcd static pod on each master; with the stand-ins, the bundle then ships
   * the operator machine's real etcd binary as that pod's image.
   */
  etcd?: LabEtcd;
  /**
   * How the machines get their part of the cluster. `ssh` (default): they boot as fresh servers and
   * `kubeha apply` installs them over SSH. `ignition`: before its first boot the real Ignition
   * writes each machine's config (`kubeha render --format ignition`) into its root, and the
   * machines come up into the cluster by themselves on a base that carries the packages.
   */
  provision?: LabProvision;
  /**
   * How the cluster file bootstraps Kubernetes. `kubeadm` (default). `binary`: kubeha's own systemd
   * units, no kubeadm (`spec.bootstrap: binary`, docs/binary.md); needs the bundle and external etcd.
   */
  bootstrap?: Bootstrap;
}

/** etcd modes a lab's cluster file can have. */
export const LAB_ETCD = ["external", "stacked"] as const;
export type LabEtcd = (typeof LAB_ETCD)[number];

export const LAB_PROVISIONS = ["ssh", "ignition"] as const;
export type LabProvision = (typeof LAB_PROVISIONS)[number];

export interface PlannedMachine {
  /** Host name inside the machine (master1, worker2, lb1). */
  name: string;
  role: MachineRole;
  address: string;
  /** systemd-nspawn machine name, unique on the host: `<lab>-<name>`. */
  unit: string;
}

/** The cgroup directory of lab `name` under each cgroup root is LAB_CGROUP_PREFIX + name (state.ts reads names back from it). */
export const LAB_CGROUP_PREFIX = "kubeha-lab-";
export const labCgroup = (name: string): string => `${LAB_CGROUP_PREFIX}${name}`;

export interface LabPlan {
  name: string;
  subnet: string;
  prefix: 24;
  bridge: string;
  bridgeAddress: string;
  /**
   * The bridge's own MAC, set when it is created. A bridge without one takes its lowest port's MAC
   * and changes it when that port leaves: powering a machine off would then change the host's MAC
   * under every other machine, and their packets to the host would be lost until they re-learn it
   * (a 200 ms TCP retransmission on the drill's streams). A real switch's hosts never see that.
   */
  bridgeMac: string;
  vip: string;
  endpoint: LabEndpoint;
  etcd: LabEtcd;
  provision: LabProvision;
  bootstrap: Bootstrap;
  proxyUrl: string;
  machines: PlannedMachine[];
  /** Output directory (cluster.yaml, id_ed25519, known_hosts). */
  dir: string;
  /** cgroup directory name under each cgroup root. */
  cgroup: string;
  runDir: string;
  machinesDir: string;
}

/** A locally administered unicast MAC ("02:6b:68", kh) ending in the address's last three bytes: one per lab subnet. */
export function bridgeMac(address: number): string {
  const bytes = [0x02, 0x6b, 0x68, (address >>> 16) & 0xff, (address >>> 8) & 0xff, address & 0xff];
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}

const NAME_RE = /^[a-z][a-z0-9-]{0,11}$/;

/** Checks a lab name; bridge (`kh-<name>`) and interface names must fit in 15 characters. */
export function checkLabName(name: string): string {
  if (!NAME_RE.test(name) || name.endsWith("-")) {
    throw new UsageError(
      `invalid lab name "${name}"`,
      "use 1-12 characters: lower-case letters, digits and '-', starting with a letter (e.g. --name lab2)",
    );
  }
  return name;
}

/** FNV-1a: a stable, dependency-free hash for the default subnet. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (const c of Buffer.from(s)) {
    h ^= c;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * The lab's /24: `--subnet` when given (checked to be a /24 inside 198.18.0.0/15), else one of
 * the 510 /24s of the range picked by a hash of the name (198.18.0.0/24 and 198.19.255.0/24 are
 * never picked, so hand-written examples there do not collide).
 */
export function labSubnet(name: string, subnet?: string): Cidr {
  const range = parseCidr(LAB_RANGE)!;
  if (subnet !== undefined) {
    const c = parseCidr(subnet);
    if (!c || c.prefix !== 24 || !cidrContains(range, intToIp(c.base))) {
      throw new UsageError(
        `--subnet ${subnet}: must be a /24 inside ${LAB_RANGE}`,
        "for example --subnet 198.18.42.0/24",
      );
    }
    return c;
  }
  const index = 1 + (fnv1a(name) % 510);
  return { base: range.base + index * 256, prefix: 24 };
}

function count(flag: string, v: number | undefined, dflt: number, min: number): number {
  const n = v ?? dflt;
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(`--${flag} ${v}: must be a whole number >= ${min}`, `for example --${flag} ${dflt}`);
  }
  return n;
}

/** Plans a lab: machine names, addresses, bridge, paths. Pure. */
export function planLab(opts: LabOptions, cwd: string): LabPlan {
  const name = checkLabName(opts.name ?? "lab");
  const masters = count("masters", opts.masters, 3, 1);
  const workers = count("workers", opts.workers, 2, 0);
  const lbs = count("lbs", opts.lbs, 0, 0);
  const endpoint = opts.endpoint ?? "haproxy-keepalived";
  if (!(LAB_ENDPOINTS as readonly string[]).includes(endpoint)) {
    throw new UsageError(`--endpoint ${endpoint}: unknown endpoint mode`, `one of: ${LAB_ENDPOINTS.join(", ")}`);
  }
  const etcd = opts.etcd ?? "external";
  if (!(LAB_ETCD as readonly string[]).includes(etcd)) {
    throw new UsageError(`--etcd ${etcd}: unknown etcd mode`, `one of: ${LAB_ETCD.join(", ")}`);
  }
  const provision = opts.provision ?? "ssh";
  if (!(LAB_PROVISIONS as readonly string[]).includes(provision)) {
    throw new UsageError(`--provision ${provision}: unknown provisioning`, `one of: ${LAB_PROVISIONS.join(", ")}`);
  }
  if (provision === "ignition" && !opts.bundle) {
    throw new UsageError("--provision ignition needs --kube-standins", "the machines carry no Kubernetes packages: the stand-in bundle goes in through Ignition");
  }
  const bootstrap = opts.bootstrap ?? "kubeadm";
  if (!(BOOTSTRAPS as readonly string[]).includes(bootstrap)) {
    throw new UsageError(`--bootstrap ${bootstrap}: unknown bootstrap mode`, `one of: ${BOOTSTRAPS.join(", ")}`);
  }
  if (bootstrap === "binary") {
    // The cluster file's own rules (spec validation) would refuse these later; say it before any machine boots.
    if (!opts.bundle) throw new UsageError("--bootstrap binary needs --kube-standins", "binary mode installs kube-apiserver, kube-proxy and the rest from a bundle");
    if (etcd !== "external") throw new UsageError("--bootstrap binary needs --etcd external", "without kubeadm there is no stacked etcd static pod: kubeha's etcd runs on the masters");
    if (endpoint === "kube-vip") throw new UsageError("--bootstrap binary does not go with --endpoint kube-vip", "kube-vip's static pod and kubeconfig come from kubeadm: use haproxy-keepalived");
    if (provision === "ignition") throw new UsageError("--bootstrap binary does not go with --provision ignition yet", "use --provision ssh and `kubeha apply`");
  }
  if (endpoint === "kube-vip" && lbs > 0) {
    throw new UsageError("--lbs does not go with --endpoint kube-vip", "kube-vip runs on the control planes: drop --lbs");
  }
  if (masters + workers + lbs > MAX_MACHINES) {
    throw new UsageError(`a lab holds at most ${MAX_MACHINES} machines, asked for ${masters + workers + lbs}`);
  }
  const net = labSubnet(name, opts.subnet);
  const at = (n: number) => intToIp(net.base + n);
  const machines: PlannedMachine[] = [];
  const add = (role: MachineRole, prefix: string, n: number) => {
    for (let i = 1; i <= n; i++) {
      const host = `${prefix}${i}`;
      machines.push({ name: host, role, address: at(FIRST_MACHINE + machines.length), unit: `${name}-${host}` });
    }
  };
  add("master", "master", masters);
  add("worker", "worker", workers);
  add("lb", "lb", lbs);
  return {
    name,
    subnet: cidrToString(net),
    prefix: 24,
    bridge: `kh-${name}`,
    bridgeAddress: at(1),
    bridgeMac: bridgeMac(net.base + 1),
    vip: at(VIP_HOST),
    endpoint,
    etcd,
    provision,
    bootstrap,
    proxyUrl: `http://${at(1)}:${PROXY_PORT}`,
    machines,
    dir: path.resolve(cwd, opts.dir ?? path.join("lab", name)),
    cgroup: labCgroup(name),
    runDir: path.join(PATHS.run, name),
    machinesDir: path.join(PATHS.machines, name),
  };
}

/**
 * Cluster roles of a lab machine: masters carry HAProxy/keepalived when no LB machines exist (never
 * with kube-vip), and the etcd role with external etcd (stacked etcd runs on every control plane).
 */
export function clusterRoles(role: MachineRole, lbOnMasters: boolean, etcd: LabEtcd = "external"): Role[] {
  if (role === "worker") return ["worker"];
  if (role === "lb") return ["lb"];
  const roles: Role[] = etcd === "external" ? ["control-plane", "etcd"] : ["control-plane"];
  return lbOnMasters ? [...roles, "lb"] : roles;
}

export interface BundleInfo {
  /** Path relative to the cluster file. */
  path: string;
  kubernetesVersion: string;
}

/** The lab's cluster file as an object (type-checked against the cluster file format). */
export function labClusterFile(plan: LabPlan, bundle?: BundleInfo, authorizedKey?: string): ClusterFile {
  const lbOnMasters = plan.endpoint === "haproxy-keepalived" && !plan.machines.some((m) => m.role === "lb");
  const hosts: HostFile[] = plan.machines.map((m) => ({
    name: m.name,
    address: m.address,
    roles: clusterRoles(m.role, lbOnMasters, plan.etcd),
    interface: "host0",
  }));
  const file: ClusterFile = {
    apiVersion: "kubeha.dev/v1alpha1",
    kind: "Cluster",
    metadata: { name: plan.name },
    spec: {
      ssh: { user: "root", keyPath: "./id_ed25519", knownHostsPath: "./known_hosts" },
      hosts,
      controlPlaneEndpoint:
        plan.endpoint === "kube-vip" ? { mode: "kube-vip", vip: plan.vip } : { mode: "haproxy-keepalived", vip: plan.vip, vipPrefix: plan.prefix },
      etcd: { mode: plan.etcd },
      packages: bundle
        ? { source: "bundle", bundle: bundle.path, proxy: plan.proxyUrl }
        : { proxy: plan.proxyUrl },
    },
  };
  if (bundle) file.spec.kubernetes = { version: bundle.kubernetesVersion };
  if (plan.bootstrap !== "kubeadm") file.spec.bootstrap = plan.bootstrap;
  if (plan.provision === "ignition") {
    // No package proxy: the machines carry their packages (IGNITION_BASE_PACKAGES) and install nothing.
    file.spec.packages = bundle ? { source: "bundle", bundle: bundle.path } : {};
    file.spec.provisioning = {
      network: { prefixLength: plan.prefix },
      ...(authorizedKey ? { sshAuthorizedKeys: [authorizedKey.trim()] } : {}),
    };
  }
  return file;
}

/** cluster.yaml text: a header saying where it came from, then the file. Deterministic. */
export function renderClusterYaml(plan: LabPlan, bundle?: BundleInfo, authorizedKey?: string): string {
  const head = [
    `# kubeha lab "${plan.name}": ${plan.machines.length} systemd-nspawn machines on bridge ${plan.bridge} (${plan.subnet}).`,
    plan.provision === "ignition"
      ? "# Written by `kubeha lab up --provision ignition`: each machine came up from its Ignition config (ignition/<host>.ign); next: kubeha status cluster.yaml"
      : `# Written by \`kubeha lab up\`; next: kubeha apply ${path.join("lab", plan.name, "cluster.yaml")}`,
    bundle ? "# Kubernetes binaries come from the stand-in bundle in ./bundle (not real Kubernetes)." : undefined,
  ].filter((l): l is string => l !== undefined);
  return head.join("\n") + "\n" + stringify(labClusterFile(plan, bundle, authorizedKey), { lineWidth: 0 });
}

// ---------------------------------------------------------------- the base image

/** Debian mirrors the base and the proxy use (taken from the host's apt sources). */
export interface Mirrors {
  debian: string;
  security?: string;
}

/** Packages a freshly installed server has. Nothing kubeha installs itself. */
export const BASE_PACKAGES = [
  "systemd", "systemd-sysv", "dbus", "openssh-server", "iproute2", "curl",
  "ca-certificates", "procps", "sudo", "python3",
] as const;

/**
 * What the Ignition lab's base carries on top (`lab up --provision ignition`), as a container OS
 * image carries its packages: nothing can be installed there. Exactly the Debian packages
 * install.sh would otherwise install (render/packages.ts debianPackages) for a host with every
 * role: HAProxy (+ socat for its runtime socket) and keepalived for the LB role, etcd server and
 * client for external etcd, containerd as the runtime, and conntrack/iptables/ethtool that kubeadm's
 * preflight wants on the PATH. The Kubernetes binaries are not here: the stand-in bundle comes in
 * through Ignition.
 */
export const IGNITION_BASE_PACKAGES = [
  "haproxy", "socat", "keepalived", "etcd-server", "etcd-client", "containerd", "conntrack", "iptables", "ethtool",
] as const;

/** Services those packages enable at boot with their defaults; disabled in the Ignition base (install.sh starts them configured). */
export const IGNITION_BASE_DISABLED_UNITS = ["haproxy.service", "keepalived.service", "etcd.service", "containerd.service"] as const;

/** SELinux policy name of the Ignition base: labels nothing, so Ignition's relabel step (setfiles) succeeds. */
export const IGNITION_NULL_SELINUX_POLICY = "kubeha-none";

/** Bump when the customization in base.ts changes: it is part of the cache key. */
export const BASE_SCRIPT_VERSION = 3;

/** Units a fresh server would not run for us inside a lab (timers that hit the network, consoles). */
export const BASE_MASKED_UNITS = [
  "apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer", "e2scrub_all.timer",
  "fstrim.timer", "console-getty.service", "getty@tty1.service", "systemd-journald-audit.socket",
] as const;

export interface BaseRecipe {
  suite: "bookworm";
  variant: "minbase";
  packages: readonly string[];
  mirrors: Mirrors;
  script: number;
  /** Only for the Ignition base (absent in the SSH base, whose cache key stays as it was). */
  flavour?: "ignition";
}

export function baseRecipe(mirrors: Mirrors, provision: LabProvision = "ssh"): BaseRecipe {
  const r: BaseRecipe = { suite: "bookworm", variant: "minbase", packages: BASE_PACKAGES, mirrors, script: BASE_SCRIPT_VERSION };
  return provision === "ignition" ? { ...r, packages: [...BASE_PACKAGES, ...IGNITION_BASE_PACKAGES], flavour: "ignition" } : r;
}

/** Cache key of a base: changes whenever anything that goes into it changes. */
export function recipeHash(r: BaseRecipe): string {
  return createHash("sha256").update(JSON.stringify(r)).digest("hex").slice(0, 16);
}

/**
 * Finds the Debian and security mirrors in the host's apt sources (deb822 `debian.sources`
 * or one-line `sources.list`). Returns undefined when none is found.
 */
export function parseMirrors(deb822: string | undefined, list: string | undefined): Mirrors | undefined {
  const entries: Array<{ uri: string; suites: string[] }> = [];
  for (const para of (deb822 ?? "").split(/\n\s*\n/)) {
    const field = (k: string) => new RegExp(`^${k}:\\s*(.+)$`, "mi").exec(para)?.[1]?.trim().split(/\s+/) ?? [];
    const types = field("Types");
    if (types.length && !types.includes("deb")) continue;
    for (const uri of field("URIs")) entries.push({ uri, suites: field("Suites") });
  }
  for (const line of (list ?? "").split("\n")) {
    const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
    if (m) entries.push({ uri: m[1]!, suites: [m[2]!] });
  }
  const http = entries.filter((e) => /^https?:\/\//.test(e.uri));
  const security = http.find((e) => e.suites.some((s) => s.endsWith("-security")));
  const debian = http.find((e) => e !== security && e.suites.some((s) => !s.endsWith("-security")));
  if (!debian) return undefined;
  const strip = (u: string) => u.replace(/\/+$/, "");
  return { debian: strip(debian.uri), ...(security ? { security: strip(security.uri) } : {}) };
}

/** /etc/apt/sources.list of the base: what the Debian installer writes for these mirrors. */
export function renderSourcesList(m: Mirrors): string {
  const lines = [`deb ${m.debian} bookworm main`, `deb ${m.debian} bookworm-updates main`];
  if (m.security) lines.push(`deb ${m.security} bookworm-security main`);
  return lines.join("\n") + "\n";
}

// ---------------------------------------------------------------- per-machine files

export interface MachineFile {
  path: string;
  content: string;
  mode: number;
}

/** Files written into one machine's own layer (hostname, hosts, network, ssh access). */
export function machineFiles(plan: Pick<LabPlan, "prefix"> & { provision?: LabProvision }, m: PlannedMachine, machineId: string, authorizedKey: string): MachineFile[] {
  if (plan.provision === "ignition") {
    // What an image's first boot gives every machine (its own machine-id; host keys are made by
    // the caller). Hostname, address and SSH keys come from the machine's Ignition config.
    return [
      { path: "/etc/hosts", content: "127.0.0.1\tlocalhost\n\n::1\tlocalhost ip6-localhost ip6-loopback\n", mode: 0o644 },
      { path: "/etc/machine-id", content: `${machineId}\n`, mode: 0o444 },
    ];
  }
  return [
    { path: "/etc/hostname", content: `${m.name}\n`, mode: 0o644 },
    {
      path: "/etc/hosts",
      content: [
        "127.0.0.1\tlocalhost",
        `127.0.1.1\t${m.name}`,
        "",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "ff02::1\tip6-allnodes",
        "ff02::2\tip6-allrouters",
        "",
      ].join("\n"),
      mode: 0o644,
    },
    { path: "/etc/machine-id", content: `${machineId}\n`, mode: 0o444 },
    {
      path: "/etc/systemd/network/10-host0.network",
      content: [
        "# kubeha lab: static address on the lab bridge; no gateway (machines have no route out).",
        "[Match]",
        "Name=host0",
        "",
        "[Network]",
        `Address=${m.address}/${plan.prefix}`,
        "LinkLocalAddressing=no",
        "IPv6AcceptRA=no",
        "",
      ].join("\n"),
      mode: 0o644,
    },
    { path: "/root/.ssh/authorized_keys", content: authorizedKey.trim() + "\n", mode: 0o600 },
  ];
}

/**
 * The lab's known_hosts with `address`'s lines replaced by `publicKeys` (a recreated machine), the
 * other machines' lines kept as they were. Also returns how many old lines were dropped.
 */
export function replaceKnownHosts(text: string, address: string, publicKeys: string[]): { text: string; removed: number } {
  const lines = text.split("\n").filter((l) => l.trim());
  const mine = (l: string) => l.split(/\s+/)[0] === address;
  const kept = lines.filter((l) => !mine(l));
  return { text: kept.map((l) => l + "\n").join("") + renderKnownHosts([{ address, publicKeys }]), removed: lines.length - kept.length };
}

/** One known_hosts line per machine and key: `address key-type key`. */
export function renderKnownHosts(entries: Array<{ address: string; publicKeys: string[] }>): string {
  const lines: string[] = [];
  for (const e of entries) {
    for (const k of e.publicKeys) {
      const [type, key] = k.trim().split(/\s+/);
      lines.push(`${e.address} ${type} ${key}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** apt-cacher-ng configuration: bound to the bridge address, forwarding only to the Debian mirrors. */
export function renderProxyConfig(p: {
  plan: LabPlan;
  mirrors: Mirrors;
  cacheDir: string;
  logDir: string;
  pidFile: string;
}): string {
  const hostPath = (u: string) => u.replace(/^https?:\/\//, "");
  const lines = [
    "# kubeha lab package proxy: only the Debian mirrors, nothing else (ForceManaged).",
    `CacheDir: ${p.cacheDir}`,
    `LogDir: ${p.logDir}`,
    "SupportDir: /usr/lib/apt-cacher-ng",
    `Port: ${PROXY_PORT}`,
    `BindAddress: ${p.plan.bridgeAddress}`,
    `PidFile: ${p.pidFile}`,
    "ForeGround: 1",
    `Remap-debrep: ${hostPath(p.mirrors.debian)} ; ${p.mirrors.debian}/`,
  ];
  if (p.mirrors.security) lines.push(`Remap-secdeb: ${hostPath(p.mirrors.security)} ; ${p.mirrors.security}/`);
  lines.push(
    // Refuse anything not remapped above, and every CONNECT tunnel.
    "ForceManaged: 1",
    "PassThroughPattern: ^kubeha-lab-no-passthrough$",
    "ExThreshold: 4",
    "",
  );
  return lines.join("\n");
}

/**
 * The launcher of one machine: joins the machine's cgroups (so machines do not collide on
 * `/payload`, and `lab down` finds every process), then runs systemd-nspawn, again after a
 * guest reboot (exit 133), a bounded number of times.
 */
export function renderLauncher(plan: LabPlan, m: PlannedMachine, root: string): string {
  const nspawn = [
    "/usr/bin/systemd-nspawn", "--quiet", "--boot", "--register=no", "--keep-unit", "--settings=no",
    "--console=read-only", "--resolv-conf=off", "--link-journal=no", "--timezone=off",
    `--network-bridge=${plan.bridge}`, `--machine=${m.unit}`, "-D", root,
  ];
  return [
    "#!/bin/bash",
    `# kubeha lab ${plan.name}: launcher of ${m.name} (${m.address}). Stopped by \`kubeha lab stop\`/\`down\`.`,
    "set -u",
    ...PATHS.cgroupRoots.map((r) => `echo $$ > ${r}/${plan.cgroup}/${m.name}/cgroup.procs`),
    "for boot in $(seq 1 100); do",
    `  ${nspawn.join(" ")}`,
    "  rc=$?",
    '  echo "kubeha-lab: nspawn exited with $rc (boot $boot)"',
    "  [ $rc -eq 133 ] || exit $rc",
    "done",
    "",
  ].join("\n");
}
