/**
 * The state directory on the operator's machine: created 0700, files 0600, and refused when
 * anything in it is open to other users (it holds every key of the cluster).
 */
import { lstat, mkdir, readdir, readFile, rename, writeFile, chmod, unlink } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { randomBytes } from "node:crypto";
import { KubehaError } from "../errors.ts";

function modeString(mode: number): string {
  return "0" + (mode & 0o777).toString(8);
}

/** Every path under `dir` (dir included) whose mode lets group or others in. */
async function loosePaths(dir: string): Promise<Array<{ path: string; mode: number }>> {
  const out: Array<{ path: string; mode: number }> = [];
  const walk = async (p: string): Promise<void> => {
    const st = await lstat(p);
    if ((st.mode & 0o077) !== 0 || st.isSymbolicLink()) out.push({ path: p, mode: st.mode });
    if (st.isDirectory()) for (const e of (await readdir(p)).sort()) await walk(join(p, e));
  };
  await walk(dir);
  return out;
}

/**
 * Opens the state directory, creating it (0700) when absent. Throws when it or anything in it
 * is accessible by group/others, or is a symlink, with the chmod that fixes it.
 */
export async function openStateDir(dir: string, opts: { create: boolean }): Promise<{ created: boolean }> {
  let created = false;
  try {
    const st = await lstat(dir);
    if (!st.isDirectory()) {
      throw new KubehaError(`state directory ${dir} is not a directory`, "point spec.pki.stateDir at a directory kubeha owns");
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    if (!opts.create) {
      throw new KubehaError(
        `state directory ${dir} does not exist`,
        "run `kubeha certs generate FILE` (or `kubeha apply`) to create the cluster's PKI first",
      );
    }
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    created = true;
  }
  const loose = await loosePaths(dir);
  if (loose.length > 0) {
    const shown = loose
      .slice(0, 5)
      .map((l) => `${relative(dir, l.path) || "."} (mode ${modeString(l.mode)})`)
      .join(", ");
    throw new KubehaError(
      `state directory ${dir} is accessible by other users: ${shown}${loose.length > 5 ? `, and ${loose.length - 5} more` : ""}; ` +
        "it holds the cluster's private keys, so kubeha refuses to use it",
      `run \`chmod -R go-rwx ${dir}\` (and replace any symlink with the real file), then try again`,
    );
  }
  return { created };
}

/** Reads a file below the state dir; undefined when absent. */
export async function readOptional(dir: string, rel: string): Promise<string | undefined> {
  try {
    return await readFile(join(dir, rel), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** Writes a file below the state dir atomically (temp file + rename), mode 0600, parents 0700. */
export async function writeSecretFile(dir: string, rel: string, content: string): Promise<void> {
  const path = join(dir, rel);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${randomBytes(4).toString("hex")}`;
  try {
    await writeFile(tmp, content, { mode: 0o600, flag: "wx" });
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
