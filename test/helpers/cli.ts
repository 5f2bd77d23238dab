/** Runs the kubeha CLI as a user would (a child process), capturing output for assertions. */
import { spawnSync } from "node:child_process";
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
