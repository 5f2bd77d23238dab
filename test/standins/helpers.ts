/** Helpers for the stand-in tests: run the Python stand-ins and their library from the bundle tree. */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
export { freePort } from "../helpers/net.ts";

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

/** Kill processes a killed earlier run left behind (identified by their KUBEADM_STANDIN_ROOT) and remove their dirs. */
export function cleanStale(prefix: string): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(prefix)) continue;
    const dir = join(tmpdir(), name);
    killUnder(dir);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** SIGKILL every stand-in process whose pid file lies under `dir` and whose environment names that root. */
export function killUnder(dir: string): void {
  if (!existsSync(dir)) return;
  for (const node of readdirSync(dir)) {
    const runDir = join(dir, node, "run", "kubeha-standin");
    if (!existsSync(runDir)) continue;
    for (const f of readdirSync(runDir)) {
      const pid = Number(readFileSync(join(runDir, f), "utf8").trim());
      if (!Number.isInteger(pid) || pid <= 1) continue;
      try {
        const env = readFileSync(`/proc/${pid}/environ`, "utf8");
        if (env.includes(`KUBEADM_STANDIN_ROOT=${join(dir, node)}\0`)) process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}

/**
 * A test's work directories under the temp dir start with `prefix`; each records the processes it
 * started in `pids.txt`. A killed earlier run's processes are killed (only those whose command line
 * or environment names its directory: a reused pid is left alone), then its directory is removed.
 */
export function cleanStaleWorkDirs(prefix: string): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(prefix)) continue;
    const dir = join(tmpdir(), name);
    const pidFile = join(dir, "pids.txt");
    if (existsSync(pidFile)) {
      for (const line of readFileSync(pidFile, "utf8").split("\n")) {
        const pid = Number(line);
        if (!Number.isInteger(pid) || pid <= 1) continue;
        try {
          const seen = readFileSync(`/proc/${pid}/cmdline`, "utf8") + readFileSync(`/proc/${pid}/environ`, "utf8");
          if (seen.includes(dir)) process.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Records a started process in `dir`'s pids.txt, for cleanStaleWorkDirs. */
export function recordPid(dir: string, pid: number | undefined): void {
  writeFileSync(join(dir, "pids.txt"), `${pid}\n`, { flag: "a" });
}

/**
 * The certificates the stand-in tests start an API server with, written into `work`: the cluster
 * CA (ca.crt/ca.key, CN kubernetes), a CA the server does not trust (other-ca.crt/.key) and the
 * API server's serving certificate for 127.0.0.1 and `kubernetes` (apiserver.crt/.key), by openssl.
 */
export function apiserverPki(work: string): void {
  const openssl = (args: string[]) => execFileSync("openssl", args, { stdio: "ignore", cwd: work });
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=kubernetes",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,digitalSignature"]);
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other-ca.key", "-out", "other-ca.crt", "-days", "1", "-subj", "/CN=other",
    "-addext", "basicConstraints=critical,CA:TRUE"]);
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "apiserver.key", "-out", "a.csr", "-subj", "/CN=kube-apiserver"]);
  writeFileSync(join(work, "a.ext"), "subjectAltName=IP:127.0.0.1,DNS:kubernetes\nextendedKeyUsage=serverAuth\n");
  openssl(["x509", "-req", "-in", "a.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "apiserver.crt", "-days", "1", "-extfile", "a.ext"]);
}
