/**
 * kubeha's error types. Every error a user can cause says what went wrong and what to do
 * (`hint`). The CLI maps them to exit codes in one place (cli/errors.ts).
 */

/** kubeha's exit codes, the one table (the README's "Exit codes" section lists the same). */
export const EXIT = {
  /** Done; the cluster is healthy; the file is valid. */
  ok: 0,
  /** A step failed, or the cluster is degraded. */
  failed: 1,
  /** Bad command line. */
  usage: 2,
  /** The cluster file is invalid. */
  invalid: 3,
  /** Could not check: a file, host or endpoint kubeha needed could not be read or reached. */
  unreachable: 4,
  /** A bug in kubeha. */
  bug: 70,
} as const;

export class KubehaError extends Error {
  constructor(
    message: string,
    /** What the user should do about it. */
    readonly hint?: string,
    /** Process exit code the CLI uses. */
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad command-line usage. Exit 2. */
export class UsageError extends KubehaError {
  constructor(message: string, hint?: string) {
    super(message, hint, EXIT.usage);
  }
}

/** A problem found in a cluster file; `path` is the YAML path (`spec.hosts[1].address`). */
export interface Problem {
  severity: "error" | "warning";
  path: string;
  message: string;
  hint?: string;
  /** 1-based position in the file, when known. */
  line?: number;
  col?: number;
  /** Rule that produced it (for tests and docs). */
  rule: string;
  /**
   * The file describes a cluster that works but cannot lose a member (2 etcd members). Commands
   * that build refuse it (an error); commands that look at or repair a running cluster read it
   * with a warning (ReadOptions.operate), since removing a dead member can leave exactly that.
   */
  degraded?: true;
}

/** The cluster file has errors: carries all of them, not just the first. Exit 3. */
export class ValidationError extends KubehaError {
  constructor(
    readonly file: string,
    readonly problems: Problem[],
  ) {
    const n = problems.filter((p) => p.severity === "error").length;
    super(`${file}: ${n} error${n === 1 ? "" : "s"}`, "fix the errors listed above and run `kubeha validate` again", EXIT.invalid);
  }
}

/** A remote or local step failed. Carries enough for the user to act without rerunning with -v. */
export class StepError extends KubehaError {
  constructor(
    message: string,
    readonly detail: {
      host?: string;
      phase?: string;
      /** The command, secrets already redacted. */
      command?: string;
      exitCode?: number;
      stderrTail?: string;
    },
    hint?: string,
  ) {
    super(message, hint, EXIT.failed);
  }
}

/**
 * kubeha could not check what it was asked to: an unreadable file, an unreachable host or
 * endpoint. Exit 4, so monitoring tells "could not look" from "looked and it is broken" (1).
 */
export class UnreachableError extends KubehaError {
  constructor(message: string, hint?: string) {
    super(message, hint, EXIT.unreachable);
  }
}

const ERRNO_WORDS: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  ENOENT: "no such file or directory",
  ENOTDIR: "a part of the path is not a directory",
  EISDIR: "is a directory",
  ELOOP: "too many levels of symbolic links",
  ENAMETOOLONG: "file name too long",
  EEXIST: "already exists",
  EMFILE: "too many open files",
};

/**
 * A file-system error of the operator's machine (not a bug) as a message naming the path and
 * what to do; undefined for anything else. The CLI's handler uses it as the last stop before "bug".
 */
export function fromSystemError(err: unknown): KubehaError | undefined {
  const e = err as NodeJS.ErrnoException & { dest?: string };
  if (!(err instanceof Error) || typeof e.code !== "string" || !(e.code in ERRNO_WORDS) || typeof e.path !== "string") return undefined;
  const what = `${ERRNO_WORDS[e.code]} (${e.code})`;
  const hint =
    e.code === "ENOSPC" || e.code === "EDQUOT"
      ? "free some space and run the command again"
      : e.code === "EACCES" || e.code === "EPERM" || e.code === "EROFS"
        ? `run kubeha as a user who may write there, or point it at another directory (spec.pki.stateDir for the state, --dir for render)`
        : "check the path and run the command again";
  return new KubehaError(`cannot ${e.syscall ?? "use"} ${e.path}${e.dest ? ` -> ${e.dest}` : ""}: ${what}`, hint);
}

/** A bug in kubeha. */
export class InternalError extends KubehaError {
  constructor(message: string) {
    super(message, "this is a bug in kubeha; please report it with the command you ran", EXIT.bug);
  }
}

/** Formats one problem as `FILE:LINE:COL path: message (hint)`. */
export function formatProblem(file: string, p: Problem): string {
  const pos = p.line ? `${file}:${p.line}:${p.col ?? 1}` : file;
  const sev = p.severity === "warning" ? "warning: " : "";
  return `${pos} ${p.path || "(root)"}: ${sev}${p.message}${p.hint ? ` (${p.hint})` : ""}`;
}
