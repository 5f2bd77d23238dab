/** The one place that turns errors into messages and exit codes. */
import { EXIT, KubehaError, StepError, ValidationError, formatProblem, fromSystemError } from "../errors.ts";
import { redact } from "../util/redact.ts";

export function reportError(thrown: unknown): number {
  const err = fromSystemError(thrown) ?? thrown;
  // Last line of defence: nothing printed here may carry a token, key or password.
  const out = (s: string) => process.stderr.write(redact(s) + "\n");
  if (err instanceof ValidationError) {
    for (const p of err.problems) out(formatProblem(err.file, p));
    out(`kubeha: ${err.message}`);
    return err.exitCode;
  }
  if (err instanceof KubehaError) {
    out(`kubeha: error: ${err.message}`);
    if (err instanceof StepError) {
      const d = err.detail;
      if (d.host) out(`  host:    ${d.host}`);
      if (d.phase) out(`  phase:   ${d.phase}`);
      if (d.command) out(`  command: ${d.command}`);
      if (d.exitCode !== undefined) out(`  exit:    ${d.exitCode}`);
      if (d.stderrTail) out(`  stderr:\n${d.stderrTail.replace(/^/gm, "    ")}`);
    }
    if (err.hint) out(`  hint: ${err.hint}`);
    return err.exitCode;
  }
  out(`kubeha: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  out("  hint: this is a bug in kubeha; please report it with the command you ran");
  return EXIT.bug;
}
