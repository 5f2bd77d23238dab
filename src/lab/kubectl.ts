/**
 * A real kubectl for the lab's stand-in bundle: the operator machine's static client binaries
 * (the Google Cloud SDK ships one per minor as kubectl.1.MINOR) replace the kubectl stand-in, so
 * kubeha's kubectl commands meet a real client. The newest minor not above the bundle's Kubernetes
 * minor is chosen (kubectl supports one minor of skew).
 */
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";

/** Where the operator machine's per-minor static kubectl binaries live. */
export const REAL_KUBECTL_DIR = "/usr/lib/google-cloud-sdk/bin";

export interface RealKubectl {
  path: string;
  /** gitVersion the binary reports, e.g. `v1.33.1`. */
  version: string;
}

/** The newest `kubectl.1.M` in `dir` with M <= `minor` whose `version --client` answers; undefined when none. */
export async function findRealKubectl(minor: number, dir = REAL_KUBECTL_DIR): Promise<RealKubectl | undefined> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const minors = names
    .map((n) => /^kubectl\.1\.(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null && Number(m[1]) <= minor)
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a);
  for (const m of minors) {
    const p = path.join(dir, `kubectl.1.${m}`);
    try {
      const { stdout } = await promisify(execFile)(p, ["version", "--client", "-o", "json"], { timeout: 10_000 });
      const version = (JSON.parse(stdout) as { clientVersion?: { gitVersion?: string } }).clientVersion?.gitVersion;
      if (version?.startsWith(`v1.${m}.`)) return { path: p, version };
    } catch {
      // not runnable here: try an older one
    }
  }
  return undefined;
}

interface BundleFile {
  src: string;
  dest: string;
  mode: string;
}

/**
 * Puts `kubectl` into a copied bundle directory in place of the stand-in and records it in the
 * manifest's `real` map (destination path -> what the binary is), so the bundle says which of its
 * binaries are real. A bundle without a kubectl is left as it is (returns false).
 */
export async function shipRealKubectl(bundleDir: string, kubectl: RealKubectl): Promise<boolean> {
  const manifestPath = path.join(bundleDir, "kubeha-bundle.json");
  const m = JSON.parse(await fs.readFile(manifestPath, "utf8")) as { files: BundleFile[]; real?: Record<string, string>; description?: string };
  const entry = m.files.find((f) => f.dest === "/usr/bin/kubectl");
  if (!entry) return false;
  const src = "bin/kubectl-real";
  await fs.copyFile(kubectl.path, path.join(bundleDir, src));
  await fs.chmod(path.join(bundleDir, src), 0o755);
  await fs.rm(path.join(bundleDir, entry.src), { force: true });
  entry.src = src;
  m.real = { ...(m.real ?? {}), [entry.dest]: `kubectl ${kubectl.version} (real static client from ${kubectl.path} on the operator machine)` };
  m.description = `${m.description ?? "bundle"}; kubectl is REAL (${kubectl.version})`;
  await fs.writeFile(manifestPath, JSON.stringify(m, null, 2) + "\n");
  return true;
}
