/**
 * Real OpenSSH servers for the transport tests: `sshd -D` on 127.0.0.1 with its own host key,
 * authorized_keys, pid file and a private /run (unshare --mount + tmpfs, see lab-notes "Option 2"),
 * started and stopped by PID. Everything lives under STATE_DIR; `cleanStale()` removes what a
 * killed earlier run left: its sshd processes (by the PIDs recorded there), their sessions, and
 * the test users.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import net from "node:net";
import { join } from "node:path";
import { freePort } from "../helpers/net.ts";
export { freePort };

export const STATE_DIR = "/tmp/kubeha-test-sshd";
/** Users the tests create; nothing else on the machine has these names. */
export const SUDO_USER = "kubeha-t-sudo";
export const NOSUDO_USER = "kubeha-t-nosudo";
const SUDOERS = "/etc/sudoers.d/kubeha-test";

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function procField(pid: number, field: string): string | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\S+)`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m?.[1];
  } catch {
    return undefined;
  }
}

function pids(): number[] {
  return readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number);
}

function killPid(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

function uidOf(user: string): number | undefined {
  try {
    return Number(sh("id", ["-u", user]).trim());
  } catch {
    return undefined;
  }
}

/** Kills a listener sshd and the session processes it forked (they outlive it otherwise). */
function killSshdTree(pid: number): void {
  for (const p of pids()) if (procField(p, "PPid") === String(pid)) killPid(p);
  killPid(pid);
}

/** Removes leftovers of an earlier, killed run. */
export function cleanStale(): void {
  if (existsSync(STATE_DIR)) {
    for (const d of readdirSync(STATE_DIR)) {
      const f = join(STATE_DIR, d, "launcher.pid");
      if (!existsSync(f)) continue;
      const pid = Number(readFileSync(f, "utf8").trim());
      // Only if it still is an sshd started with our config (PIDs get reused).
      let cmd = "";
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      } catch {
        continue;
      }
      if (cmd.includes(STATE_DIR)) killSshdTree(pid);
    }
    rmSync(STATE_DIR, { recursive: true, force: true });
  }
  removeUsers();
}

export interface Sshd {
  name: string;
  port: number;
  dir: string;
  /** The `ssh-ed25519 AAAA...` public host key line. */
  hostKeyPub: string;
  log: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** A client key pair under STATE_DIR, authorized for root and the test users of every sshd. */
export async function clientKey(): Promise<string> {
  await mkdir(STATE_DIR, { recursive: true });
  const key = join(STATE_DIR, "client_ed25519");
  if (!existsSync(key)) sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "kubeha-test", "-f", key]);
  return key;
}

export async function startSshd(name: string, opts: { logLevel?: string; extra?: string[] } = {}): Promise<Sshd> {
  const key = await clientKey();
  const dir = join(STATE_DIR, name);
  await mkdir(dir, { recursive: true });
  const hostKey = join(dir, "host_ed25519");
  if (!existsSync(hostKey)) sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", hostKey]);
  await writeFile(join(dir, "authorized_keys"), await readFile(key + ".pub"));
  const port = await freePort();
  const log = join(dir, "sshd.log");
  const config = join(dir, "sshd_config");
  await writeFile(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      "StrictModes no",
      "UsePAM no",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password",
      "AllowTcpForwarding yes",
      "MaxSessions 10",
      `LogLevel ${opts.logLevel ?? "INFO"}`,
      ...(opts.extra ?? []),
      "",
    ].join("\n"),
  );
  // Own /run: sshd needs /run/sshd, and nothing it or sudo writes there touches the host's /run.
  const proc = spawn(
    "unshare",
    ["--mount", "sh", "-c", `mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -m 0755 /run/sshd && exec /usr/sbin/sshd -D -e -f ${config} -E ${log}`],
    { stdio: "ignore" },
  );
  await writeFile(join(dir, "launcher.pid"), String(proc.pid));
  // Ready when it accepts TCP; bounded.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`sshd ${name} exited (${proc.exitCode}): ${existsSync(log) ? readFileSync(log, "utf8") : ""}`);
    const ok = await new Promise<boolean>((res) => {
      const c = net.connect(port, "127.0.0.1", () => {
        c.end();
        res(true);
      });
      c.on("error", () => res(false));
    });
    if (ok) break;
    if (Date.now() > deadline) {
      killSshdTree(proc.pid!);
      throw new Error(`sshd ${name} did not listen on ${port} within 10 s`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    name,
    port,
    dir,
    log,
    proc,
    hostKeyPub: (await readFile(hostKey + ".pub", "utf8")).split(" ").slice(0, 2).join(" "),
    async stop() {
      if (proc.exitCode === null && proc.pid) {
        const gone = new Promise((r) => proc.once("exit", r));
        killSshdTree(proc.pid);
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Creates the test users: one with passwordless sudo, one without. `*` = no password, not locked. */
export function createUsers(): void {
  removeUsers();
  for (const u of [SUDO_USER, NOSUDO_USER]) sh("useradd", ["-M", "-d", "/nonexistent", "-s", "/bin/sh", "-p", "*", u]);
  execFileSync("sh", ["-c", `umask 0337; printf '%s ALL=(ALL) NOPASSWD:ALL\\n' ${SUDO_USER} > ${SUDOERS}`]);
}

export function removeUsers(): void {
  for (const u of [SUDO_USER, NOSUDO_USER]) {
    const uid = uidOf(u);
    if (uid === undefined) continue;
    for (const p of pids()) if (procField(p, "Uid") === String(uid)) killPid(p);
    sh("userdel", ["-f", u]);
  }
  rmSync(SUDOERS, { force: true });
}
