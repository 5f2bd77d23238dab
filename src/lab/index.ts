/**
 * The kubeha lab: Debian bookworm machines booted with systemd-nspawn on a bridge, with a
 * caching package proxy, so kubeha can be proven on real systemd machines on one host.
 * This file carries out the plan from plan.ts; lab-notes.md records why each step is needed.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, openSync, closeSync, writeFileSync, promises as fs } from "node:fs";
import net from "node:net";
import path from "node:path";
import { KubehaError, UsageError } from "../errors.ts";
import { ensureBase } from "./base.ts";
import {
  alive,
  cgroupDirs,
  cgroupPids,
  checkHost,
  killCgroups,
  mountsUnder,
  run,
  sleep,
  subnetUsers,
  unmountAll,
  waitFor,
  type RunResult,
} from "./host.ts";
import {
  PATHS,
  checkLabName,
  labCgroup,
  machineFiles,
  planLab,
  renderClusterYaml,
  renderKnownHosts,
  replaceKnownHosts,
  renderLauncher,
  renderProxyConfig,
  type BundleInfo,
  type LabOptions,
  type LabPlan,
  type MachineRole,
} from "./plan.ts";
import { knownLabs, readState, readStateSync, writeState, type LabState, type MachineState } from "./state.ts";
import { findRealKubectl, shipRealKubectl } from "./kubectl.ts";
import { HOST_ETCD, shipRealEtcd } from "./etcd-image.ts";
import { applyIgnition, IGNITION_BIN, renderLabIgnition } from "./ignition.ts";
import { fingerprint } from "../exec/known-hosts.ts";

export { planLab, renderClusterYaml, labClusterFile } from "./plan.ts";
export type { LabOptions, LabPlan } from "./plan.ts";
export { knownLabs } from "./state.ts";

/** What `labUp` made, for the user and for tests that drive the lab. */
export interface LabInfo {
  name: string;
  machines: Array<{ name: string; address: string; role: MachineRole }>;
  bridge: string;
  bridgeAddress: string;
  subnet: string;
  vip: string;
  /** apt-cacher-ng on the bridge, `http://<bridge>:3142` (not started with `provision: ignition`). */
  proxyUrl: string;
  /** `ignition`: the machines came up from their Ignition configs (`dir`/ignition/<host>.ign). */
  provision: "ssh" | "ignition";
  dir: string;
  clusterFile: string;
  sshKey: string;
  knownHosts: string;
}

export interface UpOptions extends LabOptions {
  /** Install missing host packages with apt-get. */
  installDeps?: boolean;
  /** Progress lines ("Booting 5 machines"). */
  progress?: (line: string) => void;
  /** Resolve relative paths against this directory (default: process.cwd()). */
  cwd?: string;
  /** Seconds to wait for every machine to reach `running`. Default 90. */
  bootTimeoutSeconds?: number;
}

const MARKER = ".kubeha-lab";
const SIGRTMIN_PLUS_4 = 38; // systemd: power off

function infoOf(s: LabState): LabInfo {
  return {
    name: s.name,
    machines: s.machines.map((m) => ({ name: m.name, address: m.address, role: m.role })),
    bridge: s.bridge,
    bridgeAddress: s.bridgeAddress,
    subnet: s.subnet,
    vip: s.vip,
    proxyUrl: s.proxyUrl,
    provision: s.provision ?? "ssh",
    dir: s.dir,
    clusterFile: path.join(s.dir, "cluster.yaml"),
    sshKey: path.join(s.dir, "id_ed25519"),
    knownHosts: path.join(s.dir, "known_hosts"),
  };
}

/** Signs that lab `name` (or its debris) exists on this host. Empty: nothing there. */
export async function labLeftovers(name: string): Promise<string[]> {
  checkLabName(name);
  const found: string[] = [];
  const cg = labCgroup(name);
  for (const d of cgroupDirs(cg)) if (existsSync(d)) found.push(`cgroup ${d}`);
  const bridge = `kh-${name}`;
  if ((await run("ip", ["link", "show", "dev", bridge], { check: false })).code === 0) found.push(`bridge ${bridge}`);
  for (const m of await mountsUnder(path.join(PATHS.machines, name))) found.push(`mount ${m}`);
  for (const d of [path.join(PATHS.machines, name), path.join(PATHS.run, name)]) if (existsSync(d)) found.push(`directory ${d}`);
  for (const p of await nspawnProcesses(bridge)) found.push(`process ${p} (systemd-nspawn on ${bridge})`);
  return found;
}

/** systemd-nspawn processes attached to a bridge, found by command line (survive lost cgroups). */
async function nspawnProcesses(bridge: string): Promise<number[]> {
  const pids: number[] = [];
  for (const e of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    const cmd = await fs.readFile(`/proc/${e}/cmdline`, "utf8").catch(() => "");
    const argv = cmd.split("\0");
    if (argv[0]?.endsWith("systemd-nspawn") && argv.includes(`--network-bridge=${bridge}`)) pids.push(Number(e));
  }
  return pids;
}

/**
 * Host-side veths of a previous run of lab `name` that the kernel has not freed yet. After `lab
 * down` the kernel frees a machine's network namespace (and its veth) asynchronously, sometimes
 * minutes later on a busy host; nspawn then fails with "File exists". nspawn names them
 * `vb-<machine>` or, when too long, `vb-<first 8 characters>` + a hash.
 */
async function staleVeths(name: string): Promise<string[]> {
  const prefix = `vb-${`${name}-`.slice(0, 8)}`;
  const r = await run("ip", ["-o", "link", "show"], { check: false });
  return r.stdout
    .split("\n")
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? "")
    .filter((n) => n.startsWith(prefix));
}

/**
 * Before `m` boots again (a power-on after `lab stop --hard`, `lab recreate`): waits until the
 * kernel has freed the veth of its previous boot, as labUp does for a whole lab. The kill returns
 * once the machine's processes are gone, but its network namespace (and the veth with it) is torn
 * down later, asynchronously; nspawn started meanwhile fails with "Failed to add new veth
 * interfaces (...): File exists" (seen once in CI, in replace.test's recreate of master1). A
 * short machine name gives the veth's exact name; a long one is hashed, and then the lab's veths
 * are counted against its machines that are running.
 */
async function ownVethFreed(s: LabState, m: MachineState): Promise<void> {
  const exact = `vb-${m.unit}`;
  // Linux interface names hold at most 15 characters; nspawn hashes a longer one.
  const named = exact.length <= 15;
  const running = s.machines.filter((o) => o !== m && alive(o.launcherPid)).length;
  await untilVethsFreed(
    s.name,
    (veths) => (named ? veths.filter((v) => v === exact) : veths.length > running ? veths : []),
    (stale) =>
      new KubehaError(
        `the network interface of ${m.name}'s previous boot is still there after 3 minutes (lab "${s.name}": ${stale.join(", ")} for ${running} other running machine(s))`,
        named ? `delete it (\`ip link del ${exact}\`) and start ${m.name} again` : `delete the one whose peer is gone (\`ip -d link show\`) and start ${m.name} again`,
      ),
  );
}

/**
 * Waits (polling every 200 ms, at most 3 minutes) until `stale` picks none of lab `name`'s
 * host-side veths; `waiting` hears the first stale set, `tooLong` makes the error after that.
 */
async function untilVethsFreed(
  name: string,
  stale: (veths: string[]) => string[],
  tooLong: (stale: string[]) => KubehaError,
  waiting?: (stale: string[]) => void,
): Promise<void> {
  for (let i = 0; ; i++) {
    const left = stale(await staleVeths(name));
    if (!left.length) return;
    if (i === 0) waiting?.(left);
    if (i >= 900) throw tooLong(left);
    await sleep(200);
  }
}

const INOTIFY_INSTANCES = "/proc/sys/fs/inotify/max_user_instances";

/**
 * Each booted machine's systemd takes several inotify instances from root's per-user limit
 * (Debian: 128); past ~35 machines the next ones die with "Too many open files". Raised (never
 * lowered) to leave room for this lab on top of what is already running.
 */
async function ensureInotifyInstances(machines: number, progress: (s: string) => void): Promise<void> {
  const now = Number((await fs.readFile(INOTIFY_INSTANCES, "utf8").catch(() => "0")).trim());
  let others = 0;
  for (const name of await knownLabs()) others += (await readState(name).catch(() => undefined))?.machines.length ?? 0;
  const target = 128 + 8 * (machines + others);
  if (!now || now >= target) return;
  await fs.writeFile(INOTIFY_INSTANCES, String(target));
  progress(`raised fs.inotify.max_user_instances from ${now} to ${target} (systemd in each machine needs some)`);
}

// ---------------------------------------------------------------- up

/**
 * Boots a lab: base image (cached), bridge, package proxy, machines; writes cluster.yaml,
 * the lab's SSH key and known_hosts. Tears down what it made when any step fails.
 */
export async function labUp(opts: UpOptions = {}): Promise<LabInfo> {
  const progress = opts.progress ?? (() => undefined);
  const plan = planLab(opts, opts.cwd ?? process.cwd());
  await checkHost({ installDeps: opts.installDeps, progress });
  const left = await labLeftovers(plan.name);
  if (left.length) {
    throw new KubehaError(
      `lab "${plan.name}" is already up (or was not torn down): ${left.slice(0, 3).join("; ")}`,
      `run \`kubeha lab down --name ${plan.name}\` first`,
    );
  }
  await ensureInotifyInstances(plan.machines.length, progress);
  await untilVethsFreed(
    plan.name,
    (veths) => veths,
    (veths) =>
      new KubehaError(
        `network interfaces of an earlier lab "${plan.name}" are still there after 3 minutes: ${veths.join(", ")}`,
        `delete them (\`ip link del ${veths[0]}\`) or bring the lab up under another name`,
      ),
    (veths) => progress(`waiting for the kernel to free ${veths.length} network interface(s) of an earlier run (${veths.join(", ")})`),
  );
  const users = await subnetUsers(plan.subnet);
  if (users.length) {
    const owner = await labUsingSubnet(plan.subnet);
    throw new KubehaError(
      `address range ${plan.subnet} is already in use on this host: ${users.join("; ")}`,
      owner
        ? `lab "${owner}" uses it: \`kubeha lab down --name ${owner}\`, or pick another range with --subnet`
        : "pick a free /24 inside 198.18.0.0/15 with --subnet",
    );
  }
  const bundle = opts.bundle ? await readBundle(path.resolve(opts.cwd ?? process.cwd(), opts.bundle)) : undefined;

  const ignition = plan.provision === "ignition";
  const base = await ensureBase({ progress, provision: plan.provision });
  const t0 = Date.now();
  const state: LabState = {
    version: 1,
    name: plan.name,
    subnet: plan.subnet,
    bridge: plan.bridge,
    bridgeAddress: plan.bridgeAddress,
    vip: plan.vip,
    proxyUrl: plan.proxyUrl,
    ...(plan.provision === "ignition" ? { provision: "ignition" as const } : {}),
    dir: plan.dir,
    cgroup: plan.cgroup,
    baseRootfs: base.rootfs,
    machines: plan.machines.map((m) => {
      const d = path.join(plan.machinesDir, m.name);
      return { ...m, root: path.join(d, "root"), upper: path.join(d, "upper"), work: path.join(d, "work") };
    }),
    partitions: [],
    rpFilter: {},
  };
  try {
    await writeState(state);
    progress(`Creating bridge ${plan.bridge} ${plan.bridgeAddress}/${plan.prefix}`);
    await createBridge(plan);
    await prepareOutputDir(plan);
    if (!ignition) {
      progress(`Starting the package proxy on ${plan.proxyUrl} (apt-cacher-ng, Debian mirror only)`);
      state.proxyPid = await startProxy(plan, base.mirrors);
      await writeState(state);
    }
    const clientKey = path.join(plan.dir, "id_ed25519");
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `kubeha-lab-${plan.name}`, "-f", clientKey]);
    const pub = await fs.readFile(clientKey + ".pub", "utf8");
    progress(`Preparing ${state.machines.length} machines (overlay on base ${base.hash}, own machine-id and host keys)`);
    const hostKeys = await Promise.all(state.machines.map((m) => prepareMachine(plan, state, m, pub)));
    await fs.writeFile(
      path.join(plan.dir, "known_hosts"),
      renderKnownHosts(state.machines.map((m, i) => ({ address: m.address, publicKeys: hostKeys[i]! }))),
    );
    let bundleInfo: BundleInfo | undefined;
    if (ignition) {
      // The configs come first: the machines configure themselves at their first boot.
      bundleInfo = await copyBundle(plan, bundle!, { realKubectl: false, progress });
      await fs.writeFile(path.join(plan.dir, "cluster.yaml"), renderClusterYaml(plan, bundleInfo, pub));
      const configs = await renderLabIgnition(path.join(plan.dir, "cluster.yaml"), path.join(plan.dir, "ignition"));
      progress(`Running the real Ignition (fetch-offline, files) with each machine's config against its root (${IGNITION_BIN})`);
      await Promise.all(state.machines.map((m) => applyIgnition(m, configs.get(m.name)!, path.join(plan.runDir, "ignition", m.name))));
    }
    progress(`Booting ${state.machines.length} machines with systemd-nspawn`);
    for (const m of state.machines) m.launcherPid = await launch(plan.name, state, m);
    await writeState(state);
    const timeout = (opts.bootTimeoutSeconds ?? 90) * 1000;
    await Promise.all(
      state.machines.map(async (m) => {
        const st = await waitRunning(state, m, timeout);
        progress(`  ${m.name.padEnd(8)} ${m.address.padEnd(15)} ${st} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      }),
    );
    if (!ignition) {
      if (bundle) bundleInfo = await copyBundle(plan, bundle, { realKubectl: true, progress });
      await fs.writeFile(path.join(plan.dir, "cluster.yaml"), renderClusterYaml(plan, bundleInfo));
    }
    progress(`Lab "${plan.name}" up in ${((Date.now() - t0) / 1000).toFixed(1)} s (base ${base.built ? "built" : "cached"})`);
    return infoOf(state);
  } catch (e) {
    progress(`Lab "${plan.name}" failed to come up; removing what was made`);
    await labDown(plan.name).catch(() => undefined);
    throw e;
  }
}

/**
 * The bundle copied beside cluster.yaml. `realKubectl`: the operator machine's real static kubectl
 * replaces the stand-in when there is one (not for Ignition configs, which would carry its 50 MB).
 */
async function copyBundle(plan: LabPlan, bundle: { dir: string; kubernetesVersion: string }, o: { realKubectl: boolean; progress: (s: string) => void }): Promise<BundleInfo> {
  await fs.cp(bundle.dir, path.join(plan.dir, "bundle"), { recursive: true });
  if (o.realKubectl) {
    const kubectl = await findRealKubectl(Number(bundle.kubernetesVersion.split(".")[1]));
    if (kubectl && (await shipRealKubectl(path.join(plan.dir, "bundle"), kubectl))) {
      o.progress(`Bundle: the real kubectl ${kubectl.version} (${kubectl.path}) replaces the kubectl stand-in`);
    }
  }
  if (plan.etcd === "stacked") {
    const v = await shipRealEtcd(path.join(plan.dir, "bundle"));
    o.progress(`Bundle: the real etcd ${v} (${HOST_ETCD}) is the etcd static pod's image`);
  }
  return { path: "./bundle", kubernetesVersion: bundle.kubernetesVersion };
}

async function labUsingSubnet(subnet: string): Promise<string | undefined> {
  for (const n of await knownLabs()) if ((await readState(n))?.subnet === subnet) return n;
  return undefined;
}

async function readBundle(dir: string): Promise<{ dir: string; kubernetesVersion: string }> {
  const manifest = path.join(dir, "kubeha-bundle.json");
  let m: { kubernetesVersion?: unknown };
  try {
    m = JSON.parse(await fs.readFile(manifest, "utf8")) as { kubernetesVersion?: unknown };
  } catch (e) {
    throw new KubehaError(
      `no offline bundle at ${dir} (${(e as NodeJS.ErrnoException).code === "ENOENT" ? "kubeha-bundle.json missing" : (e as Error).message})`,
      "pass --bundle DIR pointing at a directory with kubeha-bundle.json (see docs/bundle.md)",
    );
  }
  if (typeof m.kubernetesVersion !== "string") {
    throw new KubehaError(`${manifest}: kubernetesVersion missing`, "see docs/bundle.md for the manifest format");
  }
  return { dir, kubernetesVersion: m.kubernetesVersion };
}

/** The output directory holds only what the lab writes; a marker lets `down` remove it safely. */
async function prepareOutputDir(plan: LabPlan): Promise<void> {
  if (existsSync(plan.dir) && !existsSync(path.join(plan.dir, MARKER))) {
    const ents = await fs.readdir(plan.dir);
    if (ents.length) {
      throw new KubehaError(`${plan.dir} exists and was not made by kubeha lab`, "move it away or pick another --name");
    }
  }
  await fs.rm(plan.dir, { recursive: true, force: true });
  await fs.mkdir(plan.dir, { recursive: true });
  await fs.writeFile(path.join(plan.dir, MARKER), `kubeha lab ${plan.name}: removed by \`kubeha lab down\`\n`);
}

async function createBridge(plan: LabPlan): Promise<void> {
  const ip = (...a: string[]) => run("ip", a, { what: `ip ${a.join(" ")}` });
  await ip("link", "add", plan.bridge, "address", plan.bridgeMac, "type", "bridge", "stp_state", "0", "forward_delay", "0");
  await ip("addr", "add", `${plan.bridgeAddress}/${plan.prefix}`, "dev", plan.bridge);
  await ip("link", "set", plan.bridge, "up");
  // The machines have no route out: never forward what arrives on the lab bridge.
  await fs.writeFile(`/proc/sys/net/ipv4/conf/${plan.bridge}/forwarding`, "0").catch(() => undefined);
}

async function startProxy(plan: LabPlan, mirrors: { debian: string; security?: string }): Promise<number> {
  const dir = path.join(plan.runDir, "proxy");
  const logDir = path.join(dir, "log");
  const cacheDir = path.join(PATHS.proxyCache, plan.name);
  await fs.mkdir(logDir, { recursive: true });
  await fs.mkdir(cacheDir, { recursive: true });
  await run("chown", ["-R", "apt-cacher-ng:apt-cacher-ng", logDir, cacheDir], { check: false });
  await fs.writeFile(
    path.join(dir, "acng.conf"),
    renderProxyConfig({ plan, mirrors, cacheDir, logDir, pidFile: path.join(logDir, "pid") }),
  );
  for (const d of cgroupDirs(plan.cgroup, "proxy")) await fs.mkdir(d, { recursive: true });
  const script = [
    ...cgroupDirs(plan.cgroup, "proxy").map((d) => `echo $$ > ${d}/cgroup.procs`),
    // Drop root: the proxy parses requests from the machines.
    `exec setpriv --reuid=apt-cacher-ng --regid=apt-cacher-ng --init-groups /usr/sbin/apt-cacher-ng -c ${dir}`,
  ].join("\n");
  const pid = spawnDetached(script, path.join(dir, "proxy.log"));
  const ok = await waitFor(
    async () => ((await portOpen(plan.bridgeAddress, 3142)) ? true : alive(pid) ? undefined : false),
    10_000,
  );
  if (!ok) {
    const log = await fs.readFile(path.join(dir, "proxy.log"), "utf8").catch(() => "");
    throw new KubehaError(
      `apt-cacher-ng did not start on ${plan.bridgeAddress}:3142${log ? `: ${log.trim().split("\n").slice(-3).join(" / ")}` : ""}`,
      "is another apt-cacher-ng listening on 0.0.0.0:3142? stop it (`service apt-cacher-ng stop`)",
    );
  }
  return pid;
}

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, timeout: 500 });
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
    s.once("timeout", () => (s.destroy(), resolve(false)));
  });
}

/** Starts `bash -c script` in its own session so it outlives the kubeha process. */
function spawnDetached(script: string, log: string): number {
  const fd = openSync(log, "a");
  try {
    const child = spawn("/bin/bash", ["-c", script], { detached: true, stdio: ["ignore", fd, fd] });
    child.unref();
    return child.pid!;
  } finally {
    closeSync(fd);
  }
}

/** Overlay root, identity files and host keys of one machine. Returns its public host keys. */
async function prepareMachine(plan: LabPlan, state: LabState, m: MachineState, clientPub: string): Promise<string[]> {
  const keys = await freshRoot(plan, state, m, clientPub);
  await fs.writeFile(path.join(plan.runDir, `${m.name}.launch.sh`), renderLauncher(plan, m, m.root), { mode: 0o755 });
  return keys;
}

/** A never-booted root for `m`: an empty overlay on the base, own machine-id and new host keys. */
async function freshRoot(plan: Pick<LabPlan, "prefix"> & { provision?: LabPlan["provision"] }, state: LabState, m: MachineState, clientPub: string): Promise<string[]> {
  for (const d of [m.upper, m.work, m.root]) await fs.mkdir(d, { recursive: true });
  await run("mount", [
    "-t", "overlay", "overlay", "-o", `lowerdir=${state.baseRootfs},upperdir=${m.upper},workdir=${m.work}`, m.root,
  ], { what: `mount overlay for ${m.name}` });
  const machineId = randomBytes(16).toString("hex");
  for (const f of machineFiles(plan, m, machineId, clientPub)) {
    const p = path.join(m.root, f.path);
    await fs.mkdir(path.dirname(p), { recursive: true });
    await fs.writeFile(p, f.content, { mode: f.mode });
    await fs.chmod(p, f.mode);
  }
  await fs.chmod(path.join(m.root, "root/.ssh"), 0o700);
  const keys: string[] = [];
  for (const type of ["ed25519", "ecdsa"]) {
    const f = path.join(m.root, `etc/ssh/ssh_host_${type}_key`);
    await run("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", `root@${m.name}`, "-f", f]);
    keys.push(await fs.readFile(f + ".pub", "utf8"));
  }
  return keys;
}

async function launch(name: string, state: LabState, m: MachineState): Promise<number> {
  for (const d of cgroupDirs(state.cgroup, m.name)) await fs.mkdir(d, { recursive: true });
  const runDir = path.join(PATHS.run, name);
  return spawnDetached(`exec /bin/bash ${path.join(runDir, `${m.name}.launch.sh`)}`, path.join(runDir, `${m.name}.console.log`));
}

/** PID (on the host) of the machine's systemd, or undefined when it is not running. */
async function guestInit(state: LabState, m: MachineState): Promise<number | undefined> {
  for (const pid of await cgroupPids(cgroupDirs(state.cgroup, m.name))) {
    const status = await fs.readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
    const ns = /^NSpid:\s+(.+)$/m.exec(status)?.[1]?.trim().split(/\s+/);
    if (ns && ns.length > 1 && ns[ns.length - 1] === "1") return pid;
  }
  return undefined;
}

const GUEST_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8", "TERM=dumb"];

async function execIn(pid: number, argv: string[], timeoutMs: number, input?: string): Promise<RunResult> {
  return run("nsenter", ["-t", String(pid), "-a", "--", "/usr/bin/env", "-i", ...GUEST_ENV, ...argv], {
    check: false,
    timeoutMs,
    ...(input !== undefined ? { input } : {}),
  });
}

/** Waits until the machine's systemd reports `running` (or `degraded`, with the failed units named). */
async function waitRunning(state: LabState, m: MachineState, timeoutMs: number): Promise<string> {
  let last = "not started";
  const st = await waitFor(async () => {
    if (!alive(m.launcherPid)) throw await bootFailure(state, m, "systemd-nspawn exited");
    const pid = await guestInit(state, m);
    if (!pid) return undefined;
    const r = await execIn(pid, ["systemctl", "is-system-running"], 5000);
    last = r.stdout.trim() || last;
    return last === "running" || last === "degraded" ? last : undefined;
  }, timeoutMs, 150);
  if (!st) throw await bootFailure(state, m, `not running after ${timeoutMs / 1000} s (state: ${last})`);
  if (st === "degraded") {
    const pid = await guestInit(state, m);
    const failed = pid ? (await execIn(pid, ["systemctl", "--failed", "--no-legend", "--plain"], 5000)).stdout.trim() : "";
    return `degraded (failed: ${failed.split("\n").map((l) => l.split(/\s+/)[0]).join(", ")})`;
  }
  return st;
}

async function bootFailure(state: LabState, m: MachineState, why: string): Promise<KubehaError> {
  const log = path.join(PATHS.run, state.name, `${m.name}.console.log`);
  const tail = (await fs.readFile(log, "utf8").catch(() => "")).trim().split("\n").slice(-8).join("\n    ");
  return new KubehaError(`machine ${m.name} of lab "${state.name}": ${why}${tail ? `\n    ${tail}` : ""}`, `full console log: ${log}`);
}

// ---------------------------------------------------------------- down

/**
 * Removes lab `name` completely: every process in its cgroups (machines, proxy), systemd-nspawn
 * processes on its bridge, overlay mounts, machine layers, the bridge, runtime state and the
 * output directory. Works from the state file, and from the naming conventions when the state
 * is missing or corrupt. Returns what was still left (empty on success).
 */
export async function labDown(name: string, opts: { progress?: (s: string) => void } = {}): Promise<string[]> {
  checkLabName(name);
  const progress = opts.progress ?? (() => undefined);
  const state = await readState(name);
  const bridge = state?.bridge ?? `kh-${name}`;
  const cg = state?.cgroup ?? labCgroup(name);
  // Launchers first so no machine restarts, then everything in the lab's cgroups at once.
  for (const m of state?.machines ?? []) if (m.launcherPid && alive(m.launcherPid)) process.kill(m.launcherPid, "SIGKILL");
  progress(`Stopping the machines and the proxy of lab "${name}"`);
  await killCgroups(cgroupDirs(cg));
  for (const p of await nspawnProcesses(bridge)) {
    try {
      process.kill(p, "SIGKILL");
    } catch {
      // gone
    }
  }
  await waitFor(async () => ((await nspawnProcesses(bridge)).length ? undefined : true), 5000);
  const machinesDir = path.join(PATHS.machines, name);
  progress("Unmounting and removing machine layers");
  await unmountAll(machinesDir);
  await fs.rm(machinesDir, { recursive: true, force: true });
  if ((await run("ip", ["link", "show", "dev", bridge], { check: false })).code === 0) {
    progress(`Removing bridge ${bridge}`);
    await run("ip", ["link", "del", bridge], { check: false });
  }
  await fs.rm(path.join(PATHS.run, name), { recursive: true, force: true });
  if (state && existsSync(path.join(state.dir, MARKER))) await fs.rm(state.dir, { recursive: true, force: true });
  const left = await labLeftovers(name);
  if (left.length) progress(`Still left: ${left.join("; ")}`);
  return left;
}

// ---------------------------------------------------------------- status, exec, stop/start

export interface MachineStatus {
  name: string;
  role: MachineRole;
  address: string;
  /** `stopped`, or systemd's `is-system-running` answer (`running`, `degraded`, `starting`...). */
  state: string;
  /** Host PID of the machine's systemd. */
  pid?: number;
}

export interface LabStatus {
  info: LabInfo;
  machines: MachineStatus[];
  proxy: "running" | "stopped";
  partitions: Array<[string, string]>;
}

async function mustState(name: string): Promise<LabState> {
  checkLabName(name);
  const s = await readState(name);
  if (!s) {
    const left = await labLeftovers(name).catch(() => []);
    throw new KubehaError(
      `lab "${name}" is not up${left.length ? " (but debris of it was found)" : ""}`,
      left.length ? `clean it with \`kubeha lab down --name ${name}\`` : `start it with \`kubeha lab up --name ${name}\``,
    );
  }
  return s;
}

function mustMachine(s: LabState, machine: string): MachineState {
  const m = s.machines.find((x) => x.name === machine);
  if (!m) {
    throw new UsageError(`lab "${s.name}" has no machine "${machine}"`, `machines: ${s.machines.map((x) => x.name).join(", ")}`);
  }
  return m;
}

/** Machines of lab `name` with their systemd state. */
export async function labStatus(name: string): Promise<LabStatus> {
  const s = await mustState(name);
  const machines = await Promise.all(
    s.machines.map(async (m): Promise<MachineStatus> => {
      const pid = alive(m.launcherPid) ? await guestInit(s, m) : undefined;
      const st = pid ? (await execIn(pid, ["systemctl", "is-system-running"], 5000)).stdout.trim() || "unknown" : "stopped";
      return { name: m.name, role: m.role, address: m.address, state: st, ...(pid ? { pid } : {}) };
    }),
  );
  return { info: infoOf(s), machines, proxy: alive(s.proxyPid) ? "running" : "stopped", partitions: s.partitions };
}

/** The lab's LabInfo (paths, addresses) from its state. */
export async function labInfo(name: string): Promise<LabInfo> {
  return infoOf(await mustState(name));
}

/**
 * Runs `argv` as root inside a machine (nsenter into all its namespaces; no SSH involved).
 * Never throws on a non-zero exit: the caller reads `code`.
 */
export async function labExec(
  name: string,
  machine: string,
  argv: string[],
  opts: { timeoutMs?: number; input?: string } = {},
): Promise<RunResult> {
  if (!argv.length) throw new UsageError("nothing to run", "e.g. kubeha lab exec master1 -- systemctl status");
  const s = await mustState(name);
  const m = mustMachine(s, machine);
  const pid = alive(m.launcherPid) ? await guestInit(s, m) : undefined;
  if (!pid) throw new KubehaError(`machine ${machine} of lab "${name}" is stopped`, `start it with \`kubeha lab start ${machine}\``);
  return execIn(pid, argv, opts.timeoutMs ?? 120_000, opts.input);
}

/** Argument list for an interactive `ssh` into a machine with the lab's key and known_hosts. */
export async function labSshArgs(name: string, machine: string): Promise<string[]> {
  const s = await mustState(name);
  const m = mustMachine(s, machine);
  const i = infoOf(s);
  return [
    "-i", i.sshKey, "-o", "IdentitiesOnly=yes", "-o", `UserKnownHostsFile=${i.knownHosts}`,
    "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=5", `root@${m.address}`,
  ];
}

/**
 * Powers one machine off. Default: a clean poweroff (systemd stops its units). `hard`: pulls the
 * plug: the machine's whole process tree is killed at once and its link disappears.
 */
export async function labStop(name: string, machine: string, opts: { hard?: boolean; timeoutMs?: number } = {}): Promise<void> {
  const s = (opts.hard ? pullPlug(name, machine) : undefined) ?? (await mustState(name));
  const m = mustMachine(s, machine);
  if (!opts.hard && alive(m.launcherPid)) {
    const pid = await guestInit(s, m);
    if (pid) process.kill(pid, SIGRTMIN_PLUS_4);
    await waitFor(async () => (alive(m.launcherPid) ? undefined : true), opts.timeoutMs ?? 20_000);
  }
  if (m.launcherPid && alive(m.launcherPid)) process.kill(m.launcherPid, "SIGKILL");
  await killCgroups(cgroupDirs(s.cgroup, m.name));
  delete m.launcherPid;
  delete s.rpFilter[m.name];
  await writeState(s);
}

/**
 * The plug, pulled before labStop first yields: every process of the machine is killed at once
 * (cgroup.kill), so a caller timing a power loss (the drill) has it the moment it asks, not once
 * its event loop came round to the state file and the launcher. Without this the drill's VRRP
 * capture (bench/drill.ts --vrrp-anatomy) saw the "dead" VIP holder still advertise up to 76 ms
 * after the call. Returns the state it read, for labStop to go on with; an unknown lab or machine
 * (undefined) is left to labStop's own error. killCgroups there finishes what cgroup.kill cannot
 * (a hierarchy without it).
 */
function pullPlug(name: string, machine: string): LabState | undefined {
  checkLabName(name);
  const s = readStateSync(name);
  if (!s?.machines.some((m) => m.name === machine)) return undefined;
  for (const d of cgroupDirs(s.cgroup, machine)) {
    try {
      writeFileSync(path.join(d, "cgroup.kill"), "1");
    } catch {
      // no cgroup.kill in this hierarchy (cgroup v1), or the machine is already off
    }
  }
  return s;
}

/** Boots a stopped machine again (same disk, same address) and waits until it is running. */
export async function labStart(name: string, machine: string, opts: { timeoutMs?: number } = {}): Promise<string> {
  const s = await mustState(name);
  const m = mustMachine(s, machine);
  if (alive(m.launcherPid) && (await guestInit(s, m))) return "running";
  await killCgroups(cgroupDirs(s.cgroup, m.name));
  await ownVethFreed(s, m);
  m.launcherPid = await launch(name, s, m);
  await writeState(s);
  const st = await waitRunning(s, m, opts.timeoutMs ?? 60_000);
  // A fresh boot has a fresh network namespace: cut links again.
  for (const [a, b] of s.partitions) if (a === machine || b === machine) await cut(s, a, b);
  await writeState(s);
  return st;
}

// ---------------------------------------------------------------- recreate

/** What `labRecreate` did: the machine's state after boot and its new host key fingerprints. */
export interface RecreateResult {
  state: string;
  /** `SHA256:...` of each new host key, as `ssh-keygen -l` prints them. */
  fingerprints: string[];
  /** Lines of the lab's known_hosts that held the old keys (removed unless `keepOldHostKeys`). */
  removedKnownHosts: number;
}

/**
 * A dead machine replaced by a fresh one: the plug is pulled, its disk is thrown away, and a
 * never-booted copy of the base (same name and address, new machine-id and SSH host keys) boots
 * in its place. The lab's known_hosts then pins the new keys, as an operator does after reading
 * them on the new machine's console; `keepOldHostKeys` leaves the old ones, to see what a client
 * that was not told does (OpenSSH and kubeha refuse a changed host key). In an Ignition lab the new
 * machine boots from its Ignition config (the real Ignition writes it into the fresh root first).
 */
export async function labRecreate(
  name: string,
  machine: string,
  opts: {
    keepOldHostKeys?: boolean;
    timeoutMs?: number;
    /** Ignition lab: the config the new machine boots from. Default: the lab's `ignition/<machine>.ign`. */
    ignitionConfig?: string;
  } = {},
): Promise<RecreateResult> {
  const s0 = await mustState(name);
  mustMachine(s0, machine);
  await labStop(name, machine, { hard: true });
  const s = await mustState(name);
  const m = mustMachine(s, machine);
  await unmountAll(path.dirname(m.root));
  if ((await mountsUnder(m.root)).length) throw new KubehaError(`the disk of ${machine} (${m.root}) is still mounted`, `see \`findmnt -R ${m.root}\``);
  for (const d of [m.upper, m.work]) await fs.rm(d, { recursive: true, force: true });
  const clientPub = await fs.readFile(path.join(s.dir, "id_ed25519.pub"), "utf8");
  const keys = await freshRoot({ prefix: 24, ...(s.provision ? { provision: s.provision } : {}) }, s, m, clientPub);
  if (s.provision === "ignition") {
    await applyIgnition(m, opts.ignitionConfig ?? path.join(s.dir, "ignition", `${machine}.ign`), path.join(PATHS.run, name, "ignition", `${machine}-recreate`));
  } else if (opts.ignitionConfig) {
    throw new UsageError(`lab "${name}" was not brought up with --provision ignition`, "an Ignition config only applies to an Ignition lab");
  }
  const khPath = path.join(s.dir, "known_hosts");
  const kh = replaceKnownHosts(await fs.readFile(khPath, "utf8").catch(() => ""), m.address, keys);
  if (!opts.keepOldHostKeys) await fs.writeFile(khPath, kh.text, { mode: 0o600 });
  const state = await labStart(name, machine, opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {});
  const fingerprints = keys.map((k) => fingerprint(Buffer.from(k.trim().split(/\s+/)[1] ?? "", "base64")));
  return { state, fingerprints, removedKnownHosts: opts.keepOldHostKeys ? 0 : kh.removed };
}

// ---------------------------------------------------------------- partitions

const RULE_PREF = "90";

async function inNetns(s: LabState, m: MachineState, argv: string[]): Promise<RunResult> {
  const pid = await guestInit(s, m);
  if (!pid) throw new KubehaError(`machine ${m.name} is stopped`, `start it with \`kubeha lab start ${m.name}\``);
  // Host tools in the machine's network namespace only: the machine need not have them.
  return run("nsenter", ["-t", String(pid), "-n", "--", ...argv], { what: `${argv.join(" ")} in ${m.name}`, timeoutMs: 10_000 });
}

async function cut(s: LabState, a: string, b: string): Promise<void> {
  for (const [x, y] of [[a, b], [b, a]] as const) {
    const mx = mustMachine(s, x);
    const my = mustMachine(s, y);
    if (!alive(mx.launcherPid)) continue;
    // Blackhole both directions by policy rule; reverse-path filtering then also drops
    // multicast (VRRP) from the peer, which no unicast route would catch.
    for (const dir of ["to", "from"]) {
      await inNetns(s, mx, ["ip", "rule", "add", "pref", RULE_PREF, dir, `${my.address}/32`, "blackhole"]);
    }
    const rp = (await inNetns(s, mx, ["sh", "-c", "cat /proc/sys/net/ipv4/conf/all/rp_filter /proc/sys/net/ipv4/conf/host0/rp_filter"])).stdout
      .trim()
      .split("\n");
    if (s.rpFilter[x] === undefined) s.rpFilter[x] = rp[1] ?? "0";
    if (rp.every((v) => v.trim() === "0")) {
      await inNetns(s, mx, ["sh", "-c", "echo 2 > /proc/sys/net/ipv4/conf/host0/rp_filter"]);
    }
  }
}

/** Cuts all traffic between machines `a` and `b` (both directions, unicast and VRRP multicast). */
export async function labPartition(name: string, a: string, b: string): Promise<void> {
  const s = await mustState(name);
  if (a === b) throw new UsageError(`cannot partition ${a} from itself`, "name two different machines");
  mustMachine(s, a);
  mustMachine(s, b);
  if (s.partitions.some(([x, y]) => (x === a && y === b) || (x === b && y === a))) return;
  await cut(s, a, b);
  s.partitions.push([a, b]);
  await writeState(s);
}

/** Removes every partition of lab `name`. */
export async function labHeal(name: string): Promise<void> {
  const s = await mustState(name);
  for (const m of s.machines) {
    if (!alive(m.launcherPid) || !(await guestInit(s, m))) continue;
    for (let i = 0; i < 200; i++) {
      const r = await run("nsenter", ["-t", String(await guestInit(s, m)), "-n", "--", "ip", "rule", "del", "pref", RULE_PREF], {
        check: false,
      });
      if (r.code !== 0) break;
    }
    const rp = s.rpFilter[m.name];
    if (rp !== undefined) await inNetns(s, m, ["sh", "-c", `echo ${Number(rp)} > /proc/sys/net/ipv4/conf/host0/rp_filter`]);
  }
  s.partitions = [];
  s.rpFilter = {};
  await writeState(s);
}

/** Sleeps used by callers that poll the lab (re-exported so drills need not import host.ts). */
export { sleep };
