/** Helpers for the stand-in tests: run the Python stand-ins and their library from the bundle tree. */
import { spawnSync } from "node:child_process";
import { join } from "node:path";

export const BUNDLE = join(import.meta.dirname, "bundle");
export const BIN = join(BUNDLE, "bin");
export const LIB = join(BUNDLE, "lib");

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run a stand-in binary (bin/NAME) with python3; env is added to the process environment. */
export function runBin(name: string, args: string[], env: Record<string, string> = {}, input?: string): Run {
  const r = spawnSync("python3", [join(BIN, name), ...args], {
    encoding: "utf8",
    input,
    timeout: 90_000,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1", ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Run Python code with the stand-in library importable; stdin in, stdout out. */
export function runPy(code: string, input = ""): Run {
  const r = spawnSync("python3", ["-c", code], {
    encoding: "utf8",
    input,
    timeout: 30_000,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1", PYTHONPATH: LIB },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Parse YAML with the stand-in reader: the value as JSON, or the reader's error. */
export function standinYaml(text: string): { ok: true; docs: unknown[] } | { ok: false; error: string } {
  const r = runPy(
    "import sys, json, standin_yaml as y\n" +
      "try:\n  print(json.dumps({'ok': True, 'docs': y.load_all(sys.stdin.read(), 'in.yaml')}))\n" +
      "except y.YamlError as e:\n  print(json.dumps({'ok': False, 'error': str(e)}))\n",
    text,
  );
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { ok: true; docs: unknown[] } | { ok: false; error: string };
}
