/** Runs the kubeha CLI as a user would (a child process), capturing output for assertions. */
import { spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));
export const BIN = `${REPO}bin/kubeha.mjs`;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Every CLI output of the test run, so a final test can scan it for leaked secrets. */
export const cliOutputs: string[] = [];

export function kubeha(args: string[], opts: { cwd?: string; input?: string; timeoutMs?: number; env?: Record<string, string> } = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? REPO,
    input: opts.input ?? "",
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 120_000,
    env: { ...process.env, ...opts.env, NO_COLOR: "1" },
  });
  const res = { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  cliOutputs.push(res.stdout, res.stderr);
  return res;
}

/**
 * The CLI in the background: `onLine` sees each line of stderr (progress; the default) or of
 * stdout (`lines: "stdout"`: `-o json` events) as it arrives, so a test can act in the middle of
 * a run. Resolves once the process ended and every promise `onLine` returned has settled;
 * `endedAt` is when the process ended.
 */
export function kubehaLive(
  args: string[],
  opts: { cwd: string; timeoutMs: number; lines?: "stderr" | "stdout" },
  onLine: (line: string) => unknown,
): Promise<CliResult & { endedAt: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
    let stdout = "";
    let stderr = "";
    const pending: unknown[] = [];
    const watched = opts.lines ?? "stderr";
    createInterface({ input: child.stdout }).on("line", (line) => {
      stdout += line + "\n";
      if (watched === "stdout") pending.push(onLine(line));
    });
    createInterface({ input: child.stderr }).on("line", (line) => {
      stderr += line + "\n";
      if (watched === "stderr") pending.push(onLine(line));
    });
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      const endedAt = Date.now();
      // Let readline hand over the last lines first.
      setImmediate(async () => {
        await Promise.all(pending);
        cliOutputs.push(stdout, stderr);
        resolve({ code: code ?? -1, stdout, stderr, endedAt });
      });
    });
  });
}

/**
 * The CLI in this process (much faster than a child): main() with stdout/stderr captured.
 * Commands that the fuzz harness runs have no other output channel.
 */
export async function kubehaInProcess(args: string[]): Promise<CliResult> {
  const { main } = await import("../../src/cli/main.ts");
  let stdout = "";
  let stderr = "";
  const out = process.stdout.write;
  const err = process.stderr.write;
  // kubeha writes strings; the test runner reports to its parent in serialized buffers on the same
  // stdout, even while a test awaits, and those must go through.
  const capture = (orig: typeof out, add: (s: string) => void) =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      if (typeof chunk !== "string") return (orig as (...a: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
      add(chunk);
      return true;
    }) as typeof out;
  process.stdout.write = capture(out, (s) => (stdout += s));
  process.stderr.write = capture(err, (s) => (stderr += s));
  let code: number;
  try {
    code = await main(args);
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
  cliOutputs.push(stdout, stderr);
  return { code, stdout, stderr };
}

/**
 * Runs `poll` every 2 s until `done` says so (default: exit code 0) or `seconds` have passed, and
 * returns the last result: the bounded "until `kubeha status` is healthy" the e2e files share
 * (each keeps its own `status()` with the checks it needs).
 */
export async function untilOk<T extends { code: number }>(poll: () => T | Promise<T>, seconds: number, done: (r: T) => boolean = (r) => r.code === 0): Promise<T> {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    const r = await poll();
    if (done(r) || Date.now() > end) return r;
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}
