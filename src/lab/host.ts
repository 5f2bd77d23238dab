/**
 * The lab's effects on the host: running local commands, preconditions, cgroups, mounts.
 * Everything here acts on this machine only (the lab is local by definition).
 */
import { spawn } from "node:child_process";
import { existsSync, promises as fs } from "node:fs";
import path from "node:path";
import { KubehaError, StepError } from "../errors.ts";
import { cidrsOverlap, parseCidr } from "../util/net.ts";
import { PATHS } from "./plan.ts";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Throw a StepError on a non-zero exit (default true). */
  check?: boolean;
  timeoutMs?: number;
  input?: string;
  env?: NodeJS.ProcessEnv;
  /** What the command is for, used in the error message. */
  what?: string;
}

const tail = (s: string, n = 20) => s.trimEnd().split("\n").slice(-n).join("\n");

/**
 * Runs a local command and collects its output. On timeout the whole process group is killed
 * (nsenter forks a child into the machine; killing only nsenter would leave it running).
 */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      env: opts.env ?? process.env,
      detached: true,
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            try {
              process.kill(-child.pid!, "SIGKILL");
            } catch {
              // already gone
            }
          }, opts.timeoutMs);
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    child.on("error", (err) => {
      if (timer) clearTimeout(timer);
      reject(new KubehaError(`cannot run ${cmd}: ${err.message}`, `is ${cmd} installed?`));
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      const res = { code: code ?? (timedOut ? 124 : 128), stdout, stderr };
      if (timedOut) res.stderr += `\n(timed out after ${opts.timeoutMs} ms${signal ? `, ${signal}` : ""})`;
      if (res.code !== 0 && opts.check !== false) {
        reject(
          new StepError(`${opts.what ?? cmd} failed`, {
            host: "lab host",
            command: [cmd, ...args].join(" "),
            exitCode: res.code,
            stderrTail: tail(res.stderr || res.stdout),
          }),
        );
      } else resolve(res);
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a value other than undefined, at most `timeoutMs`. */
export async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs: number, stepMs = 100): Promise<T | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) return undefined;
    await sleep(stepMs);
  }
}

// ---------------------------------------------------------------- preconditions

export const HOST_PACKAGES = ["debootstrap", "systemd-container", "apt-cacher-ng"] as const;
const HOST_TOOLS: Record<string, string> = {
  "/usr/sbin/debootstrap": "debootstrap",
  "/usr/bin/systemd-nspawn": "systemd-container",
  "/usr/sbin/apt-cacher-ng": "apt-cacher-ng",
};

/** Refuses to run where a lab cannot: not Linux, not root, or tools missing (unless installing them). */
export async function checkHost(opts: { installDeps?: boolean; progress?: (s: string) => void }): Promise<void> {
  if (process.platform !== "linux") {
    throw new KubehaError(`kubeha lab needs Linux (this is ${process.platform})`, "run it on a Debian or Ubuntu machine or VM");
  }
  if (process.getuid?.() !== 0) {
    throw new KubehaError(
      "kubeha lab needs root (it creates bridges, mounts and systemd-nspawn machines)",
      "run it with sudo, e.g. `sudo kubeha lab up`",
    );
  }
  const missing = () => [...new Set(Object.keys(HOST_TOOLS).filter((p) => !existsSync(p)).map((p) => HOST_TOOLS[p]!))];
  let pkgs = missing();
  if (pkgs.length && opts.installDeps) {
    opts.progress?.(`Installing ${pkgs.join(" ")} with apt-get`);
    await run("apt-get", ["install", "-y", "--no-install-recommends", ...pkgs], {
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      what: "apt-get install",
    });
    pkgs = missing();
  }
  if (pkgs.length) {
    throw new KubehaError(
      `missing host packages: ${pkgs.join(", ")}`,
      `install them with \`apt-get install -y ${HOST_PACKAGES.join(" ")}\` or rerun with --install-deps`,
    );
  }
}

/** Addresses and routes on the host that overlap `subnet`, as readable strings. */
export async function subnetUsers(subnet: string): Promise<string[]> {
  const want = parseCidr(subnet)!;
  const found: string[] = [];
  const addrs = JSON.parse((await run("ip", ["-j", "-4", "addr", "show"])).stdout || "[]") as Array<{
    ifname: string;
    addr_info?: Array<{ local: string; prefixlen: number }>;
  }>;
  for (const l of addrs) {
    for (const a of l.addr_info ?? []) {
      const c = parseCidr(`${a.local}/${a.prefixlen}`);
      if (c && cidrsOverlap(c, want)) found.push(`address ${a.local}/${a.prefixlen} on ${l.ifname}`);
    }
  }
  const routes = JSON.parse((await run("ip", ["-j", "-4", "route", "show", "table", "all"])).stdout || "[]") as Array<{
    dst: string;
    dev?: string;
    type?: string;
  }>;
  for (const r of routes) {
    if (r.dst === "default" || r.type === "local" || r.type === "broadcast") continue;
    const c = parseCidr(r.dst.includes("/") ? r.dst : `${r.dst}/32`);
    if (c && cidrsOverlap(c, want)) found.push(`route ${r.dst}${r.dev ? ` dev ${r.dev}` : ""}`);
  }
  return [...new Set(found)];
}

// ---------------------------------------------------------------- cgroups

export function cgroupDirs(group: string, sub?: string): string[] {
  return PATHS.cgroupRoots.map((r) => path.join(r, group, sub ?? ""));
}

async function listDirsDeep(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    let ents;
    try {
      ents = await fs.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of ents) if (e.isDirectory()) await walk(path.join(d, e.name));
    out.push(d);
  };
  await walk(dir);
  return out; // children before parents
}

/** PIDs of every process in a cgroup tree (both hierarchies). */
export async function cgroupPids(dirs: string[]): Promise<number[]> {
  const pids = new Set<number>();
  for (const root of dirs) {
    for (const d of await listDirsDeep(root)) {
      try {
        for (const l of (await fs.readFile(path.join(d, "cgroup.procs"), "utf8")).split("\n")) if (l) pids.add(Number(l));
      } catch {
        // removed meanwhile
      }
    }
  }
  return [...pids];
}

/** Kills every process in the cgroup trees at once and removes the cgroups. Bounded. */
export async function killCgroups(dirs: string[]): Promise<void> {
  for (let i = 0; i < 100; i++) {
    // Freeze-free kill: cgroup.kill (v2) takes the whole tree in one step; SIGKILL the rest.
    for (const d of dirs) await fs.writeFile(path.join(d, "cgroup.kill"), "1").catch(() => undefined);
    const pids = await cgroupPids(dirs);
    if (pids.length === 0) break;
    for (const p of pids) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        // gone
      }
    }
    await sleep(50);
  }
  for (const root of dirs) {
    for (const d of await listDirsDeep(root)) {
      for (let i = 0; i < 50; i++) {
        try {
          await fs.rmdir(d);
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === "ENOENT") break;
          await sleep(50);
        }
      }
    }
  }
}

// ---------------------------------------------------------------- mounts

/** Mount points at or below `prefix`, deepest first. */
export async function mountsUnder(prefix: string): Promise<string[]> {
  const info = await fs.readFile("/proc/self/mountinfo", "utf8");
  const unescape = (s: string) => s.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const points = info
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((p): p is string => !!p)
    .map(unescape)
    .filter((p) => p === prefix || p.startsWith(prefix + "/"));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

export async function unmountAll(prefix: string): Promise<void> {
  for (let i = 0; i < 10; i++) {
    const points = await mountsUnder(prefix);
    if (!points.length) return;
    for (const p of points) {
      const r = await run("umount", [p], { check: false });
      if (r.code !== 0) await run("umount", ["-l", p], { check: false });
    }
  }
  const left = await mountsUnder(prefix);
  if (left.length) throw new KubehaError(`cannot unmount ${left.join(", ")}`, "check `fuser -vm` for processes using it");
}

export function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
