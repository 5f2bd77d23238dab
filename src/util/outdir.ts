/**
 * Where kubeha may create a directory of its own (render's output, the PKI state directory):
 * symlinks are resolved with clear errors, and kernel file systems are refused. (Node's recursive
 * mkdir below /proc never returns, and CA keys do not belong in /dev.)
 */
import { lstat, readlink, realpath, stat } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { KubehaError, fromSystemError } from "../errors.ts";

/** Kernel file systems: nothing kubeha writes belongs there. */
export const SPECIAL_FILESYSTEMS = ["/proc", "/sys", "/dev"] as const;

const code = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** Ordinary (tmpfs) directories under those: shared memory is a place for files. */
const ORDINARY = ["/dev/shm"] as const;

/** The special file system `path` lies in, if any. */
export function specialFilesystem(path: string): string | undefined {
  if (ORDINARY.some((p) => path === p || path.startsWith(p + "/"))) return undefined;
  return SPECIAL_FILESYSTEMS.find((p) => path === p || path.startsWith(p + "/"));
}

/**
 * The real path of directory `dir` (absolute, symlinks resolved), which may not exist yet; throws
 * a KubehaError that says what to do when it cannot be one. `what` names it for the messages
 * ("output directory"), `hint` says how to choose another.
 */
export async function resolveDirForWriting(dir: string, what: string, hint: string): Promise<string> {
  const abs = resolve(dir);
  const fail = (why: string): never => {
    throw new KubehaError(`${what} ${abs}: ${why}`, hint);
  };
  if (abs.includes("\0")) fail("the path contains a NUL byte");
  // The nearest part of the path that exists; the rest is created later.
  let existing = abs;
  for (;;) {
    try {
      const st = await lstat(existing);
      if (st.isSymbolicLink()) {
        try {
          await stat(existing);
        } catch (err) {
          if (code(err) === "ELOOP") fail(`${existing} is a symbolic link loop`);
          fail(`${existing} is a symbolic link to ${await readlink(existing)}, which does not exist`);
        }
      }
      break;
    } catch (err) {
      if (err instanceof KubehaError) throw err;
      if (code(err) === "ENOTDIR") fail(`a part of the path is a file, not a directory`);
      if (code(err) !== "ENOENT") throw fromSystemError(err) ?? err;
      if (existing === dirname(existing)) break;
      existing = dirname(existing);
    }
  }
  let realExisting: string;
  try {
    realExisting = await realpath(existing);
  } catch (err) {
    if (code(err) === "ELOOP") fail("the path has a symbolic link loop");
    throw fromSystemError(err) ?? err;
  }
  const real = join(realExisting, relative(existing, abs));
  const special = specialFilesystem(real);
  if (special) fail(`${real === abs ? "it" : `it resolves to ${real}, which`} is under ${special}, a kernel file system, not a place for files`);
  if (!(await stat(realExisting)).isDirectory()) fail(existing === abs ? "it exists and is not a directory" : `${existing} is not a directory`);
  return real;
}
