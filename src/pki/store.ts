/**
 * The state directory on the operator's machine: created 0700, files 0600, and refused when
 * anything in it is open to other users (it holds every key of the cluster).
 */
import { lstat, mkdir, readdir, readFile, rename, writeFile, chmod, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname, join, relative } from "node:path";
import { randomBytes } from "node:crypto";
import { KubehaError, fromSystemError } from "../errors.ts";
import { resolveDirForWriting } from "../util/outdir.ts";

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
export async function openStateDir(dir: string, opts: { create: boolean; allowMissing?: boolean }): Promise<{ created: boolean; missing?: boolean }> {
  let created = false;
  try {
    const st = await lstat(dir);
    if (!st.isDirectory()) {
      throw new KubehaError(`state directory ${dir} is not a directory`, "point spec.pki.stateDir at a directory kubeha owns");
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw stateDirError(dir, err);
    if (opts.allowMissing) return { created: false, missing: true };
    if (!opts.create) {
      throw new KubehaError(
        `state directory ${dir} does not exist`,
        "run `kubeha certs generate FILE` (or `kubeha apply`) to create the cluster's PKI first",
      );
    }
    await resolveDirForWriting(dir, "state directory", STATE_DIR_HINT);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await chmod(dir, 0o700);
    } catch (e) {
      throw stateDirError(dir, e);
    }
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

const STATE_DIR_HINT =
  "set spec.pki.stateDir to a directory on a local disk that you may write (the default is .kubeha/<cluster name> beside the cluster file)";

/** A file-system error in the state directory, naming the directory and what to do. */
export function stateDirError(dir: string, err: unknown): unknown {
  if (err instanceof KubehaError) return err;
  const sys = fromSystemError(err);
  return sys ? new KubehaError(`state directory ${dir}: ${sys.message}`, STATE_DIR_HINT) : err;
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

const LOCK = ".lock";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Runs `fn` holding the state directory's lock, so two kubeha processes never issue a CA at the
 * same time (each would write its own key, leaving a cert and key that do not match). A lock left
 * by a process that no longer exists on this machine is taken over.
 */
export async function withStateLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const path = join(dir, LOCK);
  const me = `${process.pid} ${hostname()}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(path, me, { mode: 0o600, flag: "wx" });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw lockError(dir, await readOptional(dir, LOCK));
      const [pid, host] = ((await readOptional(dir, LOCK)) ?? "").trim().split(" ");
      if (host === hostname() && Number(pid) > 0 && alive(Number(pid))) throw lockError(dir, `${pid} ${host}`);
      await unlink(path).catch(() => undefined);
    }
  }
  try {
    return await fn();
  } finally {
    await unlink(path).catch(() => undefined);
  }
}

function lockError(dir: string, holder: string | undefined): KubehaError {
  const [pid, host] = (holder ?? "").trim().split(" ");
  return new KubehaError(
    `state directory ${dir} is in use by another kubeha process${pid ? ` (pid ${pid}${host ? ` on ${host}` : ""})` : ""}`,
    `wait for it to finish; if no kubeha is running, delete ${join(dir, LOCK)}`,
  );
}
