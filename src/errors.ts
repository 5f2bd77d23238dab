/**
 * kubeha's error types. Every error a user can cause says what went wrong and what to do
 * (`hint`). The CLI maps them to exit codes in one place (cli/errors.ts).
 */

export class KubehaError extends Error {
  constructor(
    message: string,
    /** What the user should do about it. */
    readonly hint?: string,
    /** Process exit code the CLI uses. */
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad command-line usage. Exit 2. */
export class UsageError extends KubehaError {
  constructor(message: string, hint?: string) {
    super(message, hint, 2);
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
}

/** The cluster file has errors: carries all of them, not just the first. Exit 3. */
export class ValidationError extends KubehaError {
  constructor(
    readonly file: string,
    readonly problems: Problem[],
  ) {
    const n = problems.filter((p) => p.severity === "error").length;
    super(`${file}: ${n} error${n === 1 ? "" : "s"}`, "fix the errors listed above and run `kubeha validate` again", 3);
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
    super(message, hint, 1);
  }
}

/** A bug in kubeha. */
export class InternalError extends KubehaError {
  constructor(message: string) {
    super(message, "this is a bug in kubeha; please report it with the command you ran", 70);
  }
}

/** Formats one problem as `FILE:LINE:COL path: message (hint)`. */
export function formatProblem(file: string, p: Problem): string {
  const pos = p.line ? `${file}:${p.line}:${p.col ?? 1}` : file;
  const sev = p.severity === "warning" ? "warning: " : "";
  return `${pos} ${p.path || "(root)"}: ${sev}${p.message}${p.hint ? ` (${p.hint})` : ""}`;
}
