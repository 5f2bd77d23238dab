/**
 * The etcd "image" of a stacked-etcd lab with the Kubernetes stand-ins: kubeadm's etcd static pod
 * needs an etcd binary on each control plane, and the stand-in kubelet runs the one the bundle
 * ships. It is the operator machine's real etcd (Debian's etcd-server), copied into the lab's own
 * bundle copy and recorded in the manifest's `real` map, like the real kubectl (kubectl.ts).
 */
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { KubehaError } from "../errors.ts";

/** The operator machine's etcd (Debian package etcd-server). */
export const HOST_ETCD = "/usr/bin/etcd";
/** Where the bundle installs it on the hosts; the kubelet stand-in runs it for the etcd static pod. */
export const ETCD_IMAGE_DEST = "/usr/lib/kubeha-standins/etcd";

interface BundleFile {
  src: string;
  dest: string;
  mode: string;
}

/** `etcd --version`'s first line's version, e.g. `3.4.23`. */
export async function etcdVersion(binary = HOST_ETCD): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)(binary, ["--version"], { timeout: 10_000 });
    const v = /etcd Version:\s*(\S+)/.exec(stdout)?.[1];
    if (v) return v;
  } catch {
    // reported below
  }
  throw new KubehaError(
    `--etcd stacked: no runnable etcd at ${binary} on this machine (the stand-in bundle ships it as the etcd static pod's image)`,
    "install Debian's etcd-server (apt-get install etcd-server; scripts/setup.sh lists it), or use --etcd external",
  );
}

/** Adds the operator machine's etcd to a copied bundle directory (see the file comment). Returns its version. */
export async function shipRealEtcd(bundleDir: string, binary = HOST_ETCD): Promise<string> {
  const version = await etcdVersion(binary);
  const manifestPath = path.join(bundleDir, "kubeha-bundle.json");
  const m = JSON.parse(await fs.readFile(manifestPath, "utf8")) as { files: BundleFile[]; real?: Record<string, string>; description?: string };
  const src = "bin/etcd-real";
  await fs.copyFile(binary, path.join(bundleDir, src));
  await fs.chmod(path.join(bundleDir, src), 0o755);
  m.files = [...m.files.filter((f) => f.dest !== ETCD_IMAGE_DEST), { src, dest: ETCD_IMAGE_DEST, mode: "0755" }];
  m.real = { ...(m.real ?? {}), [ETCD_IMAGE_DEST]: `etcd ${version} (real, ${binary} on the operator machine: the etcd static pod's image)` };
  m.description = `${m.description ?? "bundle"}; etcd is REAL (${version})`;
  await fs.writeFile(manifestPath, JSON.stringify(m, null, 2) + "\n");
  return version;
}
