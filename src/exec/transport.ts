/**
 * The transport interface every remote action goes through, and the parts shared by SSH and local
 * execution: sudo wrapping, uploads by content, batch hashing, round-trip counting and StepErrors
 * with secrets redacted. Only `src/exec` touches processes and sockets.
 */
import { spawn } from "node:child_process";
import { posix } from "node:path";
import { redactedTail, stepError } from "../util/redact.ts";
import { shq } from "../util/shell.ts";

export { shq };

export interface RunOptions {
  /** Run as root: `sudo -n` unless the login user already is root. */
  sudo?: boolean;
  /** Bytes written to the command's stdin (then EOF). Use it for secrets: stdin is never shown. */
  stdin?: string | Buffer;
  /** Kill the command after this many ms. Default 10 minutes. */
  timeoutMs?: number;
  /** Values to mask in the command and output when they appear in an error. */
  secrets?: readonly string[];
  /** Called with each stdout chunk as it arrives (long-running watchers); stdout is still collected. */
  onStdout?: (chunk: string) => void;
  /** Ends the command early; `run` then resolves with what it printed so far and exit code 143. */
  signal?: AbortSignal;
}

/** The streaming/abort part of RunOptions, handed to the raw spawners. */
export type StreamOptions = Pick<RunOptions, "onStdout" | "signal">;

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** One file to write on a host. `RenderedFile` from src/render/types.ts fits. */
export interface FileUpload {
  path: string;
  content: string | Buffer;
  /** Octal mode, e.g. 0o644. */
  mode: number;
}

/** How kubeha talks to one machine. One instance per host for the whole run. */
export interface Transport {
  /** Host name used in messages and errors. */
  readonly host: string;
  /** Commands sent so far (every `run`, `put`, `putMany`, `hashes` is one). */
  readonly roundTrips: number;
  /** True once the connection is gone for good (SSH); local transports never close. */
  readonly closed?: boolean;
  /** Runs a shell command. Never throws for a non-zero exit; throws StepError for transport trouble. */
  run(cmd: string, opts?: RunOptions): Promise<RunResult>;
  /** Like `run` but a non-zero exit is a StepError naming the command, exit code and stderr tail. */
  mustRun(cmd: string, opts?: RunOptions & { hint?: string }): Promise<RunResult>;
  /** Writes one file atomically (temp file + rename) with `mode`. Root-owned unless `sudo: false`. */
  put(path: string, content: string | Buffer, mode: number, opts?: { sudo?: boolean }): Promise<void>;
  /** Writes many files in ONE round trip, each atomically. */
  putMany(files: readonly FileUpload[], opts?: { sudo?: boolean }): Promise<void>;
  /** sha256 (hex) of each path in ONE round trip; undefined for a missing file. */
  hashes(paths: readonly string[], opts?: { sudo?: boolean }): Promise<Map<string, string | undefined>>;
  close(): Promise<void>;
}


const DEFAULT_TIMEOUT_MS = 10 * 60_000;

function assertPath(p: string): void {
  if (!posix.isAbsolute(p) || /[\n\0]/.test(p)) throw new Error(`not an absolute path without newlines: ${JSON.stringify(p)}`);
}

/** The `sh -s` script that writes `files` atomically; content travels base64 in the script (stdin). */
export function uploadScript(files: readonly FileUpload[]): string {
  // mktemp creates 0600 files whatever the umask; 022 is for directories mkdir -p creates.
  const lines = ["set -e", "umask 022", "t=", `trap '[ -z "$t" ] || rm -f -- "$t"' EXIT`];
  files.forEach((f, i) => {
    assertPath(f.path);
    const dir = posix.dirname(f.path);
    const eof = `KUBEHA_EOF_${i}`;
    const b64 = Buffer.from(f.content).toString("base64").replace(/.{1,76}/g, "$&\n");
    lines.push(
      `mkdir -p -- ${shq(dir)}`,
      `t=$(mktemp -- ${shq(`${dir}/.kubeha.XXXXXX`)})`,
      `base64 -d > "$t" <<'${eof}'`,
      b64 + eof,
      `chmod ${f.mode.toString(8).padStart(4, "0")} "$t"`,
      `mv -f -- "$t" ${shq(f.path)}`,
      "t=",
    );
  });
  return lines.join("\n") + "\n";
}

/**
 * The command that prints `<index> <sha256|-|!>` per path: `-` only when the file really does not
 * exist, `!` when it cannot be read or reached (a permission problem must not look like "missing").
 */
export function hashScript(paths: readonly string[]): string {
  paths.forEach(assertPath);
  return (
    `i=0; for p in ${paths.map(shq).join(" ")}; do i=$((i+1)); ` +
    `if [ -f "$p" ]; then h=$(sha256sum < "$p") && echo "$i \${h%% *}" || echo "$i !"; ` +
    `elif e=$(LC_ALL=C stat -- "$p" 2>&1); then echo "$i !"; ` +
    `else case $e in *"No such file"*|*"Not a directory"*) echo "$i -";; *) echo "$i !";; esac; fi; done`
  );
}

/** Parses `hashScript` output. */
export function parseHashes(paths: readonly string[], stdout: string): { hashes: Map<string, string | undefined>; unreadable: string[] } {
  const hashes = new Map<string, string | undefined>();
  const unreadable: string[] = [];
  for (const line of stdout.split("\n")) {
    const m = /^(\d+) (\S+)$/.exec(line.trim());
    if (!m) continue;
    const p = paths[Number(m[1]) - 1];
    if (p === undefined) continue;
    if (m[2] === "!") unreadable.push(p);
    else hashes.set(p, m[2] === "-" ? undefined : m[2]);
  }
  return { hashes, unreadable };
}

const SUDO_PASSWORD = /sudo: (a password is required|a terminal is required)|is not in the sudoers file|not allowed to execute/;

/**
 * Shared behaviour of both transports; subclasses only start a process (`spawnRaw`).
 * The command given to `spawnRaw` is already wrapped for sudo.
 */
export abstract class ShellTransport implements Transport {
  #roundTrips = 0;

  constructor(
    readonly host: string,
    /** Login user: sudo is skipped for root. */
    readonly user: string,
  ) {}

  get roundTrips(): number {
    return this.#roundTrips;
  }

  /** `connectionLost`: the link died while the command ran (why, in words); its outcome is unknown. */
  protected abstract spawnRaw(cmd: string, stdin: string | Buffer | undefined, timeoutMs: number, stream?: StreamOptions): Promise<RunResult & { timedOut?: boolean; connectionLost?: string }>;

  abstract close(): Promise<void>;

  /** `cmd` as actually sent: `sudo -n sh -c '...'` when sudo is needed. */
  wrap(cmd: string, sudo: boolean | undefined): string {
    return sudo && this.user !== "root" ? `sudo -n -- sh -c ${shq(cmd)}` : cmd;
  }

  async run(cmd: string, opts: RunOptions = {}): Promise<RunResult> {
    this.#roundTrips++;
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const { timedOut, connectionLost, ...r } = await this.spawnRaw(this.wrap(cmd, opts.sudo), opts.stdin, timeoutMs, { onStdout: opts.onStdout, signal: opts.signal });
    if (connectionLost !== undefined) {
      throw stepError(
        `lost the connection to ${this.host} during a command (${connectionLost})`,
        { host: this.host, command: cmd, stderrTail: redactedTail(r.stderr, opts.secrets) },
        `${this.host} stopped answering (powered off, rebooted or cut off?): bring it back and re-run; the command may or may not have finished there, and the next run starts from what the host shows`,
        opts.secrets,
      );
    }
    if (timedOut) {
      throw stepError(
        `command timed out after ${Math.round(timeoutMs / 1000)} s on ${this.host}`,
        { host: this.host, command: cmd, stderrTail: redactedTail(r.stderr, opts.secrets) },
        "check that the host is not overloaded and the command can finish; it may still be running there",
        opts.secrets,
      );
    }
    if (opts.sudo && this.user !== "root" && r.code !== 0 && SUDO_PASSWORD.test(r.stderr)) {
      throw stepError(
        `sudo refused on ${this.host} for user ${this.user}`,
        { host: this.host, command: cmd, exitCode: r.code, stderrTail: redactedTail(r.stderr, opts.secrets) },
        `give ${this.user} passwordless sudo on ${this.host} (e.g. "${this.user} ALL=(ALL) NOPASSWD:ALL" in /etc/sudoers.d/kubeha) or connect as root`,
        opts.secrets,
      );
    }
    return r;
  }

  async mustRun(cmd: string, opts: RunOptions & { hint?: string } = {}): Promise<RunResult> {
    const r = await this.run(cmd, opts);
    if (r.code !== 0) {
      throw stepError(
        `command failed on ${this.host} (exit ${r.code})`,
        { host: this.host, command: cmd, exitCode: r.code, stderrTail: redactedTail(r.stderr || r.stdout, opts.secrets) },
        opts.hint ?? "read the stderr above; run the command on the host by hand to investigate",
        opts.secrets,
      );
    }
    return r;
  }

  async put(path: string, content: string | Buffer, mode: number, opts: { sudo?: boolean } = {}): Promise<void> {
    await this.putMany([{ path, content, mode }], opts);
  }

  async putMany(files: readonly FileUpload[], opts: { sudo?: boolean } = {}): Promise<void> {
    if (files.length === 0) return;
    const names = files.map((f) => f.path).join(" ");
    const r = await this.run("sh -s", { sudo: opts.sudo ?? true, stdin: uploadScript(files) });
    if (r.code !== 0) {
      throw stepError(
        `writing ${names} failed on ${this.host} (exit ${r.code})`,
        { host: this.host, command: `upload ${names}`, exitCode: r.code, stderrTail: redactedTail(r.stderr) },
        "check free space and that the parent directories are writable (sudo)",
      );
    }
  }

  async hashes(paths: readonly string[], opts: { sudo?: boolean } = {}): Promise<Map<string, string | undefined>> {
    if (paths.length === 0) return new Map();
    const cmd = hashScript(paths);
    const r = await this.run(cmd, { sudo: opts.sudo ?? true });
    const { hashes, unreadable } = parseHashes(paths, r.stdout);
    if (r.code !== 0 || unreadable.length || hashes.size !== paths.length) {
      throw stepError(
        unreadable.length ? `cannot read ${unreadable.join(", ")} on ${this.host}` : `hashing files failed on ${this.host} (exit ${r.code})`,
        { host: this.host, command: "sha256sum " + paths.join(" "), exitCode: r.code, stderrTail: redactedTail(r.stderr) },
        "the files must be readable by root (sudo) and sha256sum must be installed (coreutils)",
      );
    }
    return hashes;
  }
}

/**
 * Runs commands on the machine kubeha runs on (the operator's machine, or tests). `host` is only a
 * label; `user` decides whether sudo is used.
 */
export class LocalTransport extends ShellTransport {
  constructor(host = "local", user = process.getuid?.() === 0 ? "root" : (process.env.USER ?? "user")) {
    super(host, user);
  }

  protected spawnRaw(cmd: string, stdin: string | Buffer | undefined, timeoutMs: number, stream: StreamOptions = {}): Promise<RunResult & { timedOut?: boolean }> {
    return new Promise((resolve, reject) => {
      const child = spawn("sh", ["-c", cmd], { stdio: ["pipe", "pipe", "pipe"] });
      const abort = () => child.kill("SIGTERM");
      if (stream.signal?.aborted) abort();
      stream.signal?.addEventListener("abort", abort, { once: true });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, timeoutMs);
      child.stdout.on("data", (b: Buffer) => {
        out.push(b);
        stream.onStdout?.(b.toString("utf8"));
      });
      child.stderr.on("data", (b: Buffer) => err.push(b));
      // A command that exits without reading its stdin closes the pipe: not an error.
      child.stdin.on("error", () => {});
      child.on("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        stream.signal?.removeEventListener("abort", abort);
        resolve({
          code: code ?? (signal ? 128 + 9 : 1),
          stdout: Buffer.concat(out).toString("utf8"),
          stderr: Buffer.concat(err).toString("utf8"),
          timedOut,
        });
      });
      child.stdin.end(stdin ?? "");
    });
  }

  async close(): Promise<void> {}
}
