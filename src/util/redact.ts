/**
 * The one place that hides secrets in text a user may see: commands, stdout/stderr tails and
 * error messages. Known values are registered once (when the secret is generated or loaded);
 * shapes that are secrets whatever their origin (bootstrap tokens, certificate keys, PEM private
 * keys) are hidden even when nobody registered them, because a leaked token is worse than a
 * hidden hash.
 */
import { StepError } from "../errors.ts";

/** What every hidden value becomes. */
export const MASK = "***";

const known = new Set<string>();

// Values this short would mask ordinary words; real secrets (VRRP passwords are 8) are longer.
const MIN_SECRET_LENGTH = 4;

const SHAPES: RegExp[] = [
  // kubeadm bootstrap token `abcdef.0123456789abcdef`.
  /\b[a-z0-9]{6}\.[a-z0-9]{16}\b/g,
  // kubeadm --certificate-key: 32 random bytes in hex. A sha256 digest has the same shape; hiding
  // one in an error message costs little.
  /\b[0-9a-fA-F]{64}\b/g,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g,
];

/** Registers secret values so every later `redact` call hides them. Empty/short values are ignored. */
export function registerSecret(...values: Array<string | undefined>): void {
  for (const v of values) if (v && v.length >= MIN_SECRET_LENGTH) known.add(v);
}

/** Forgets every registered secret (tests). */
export function clearSecrets(): void {
  known.clear();
}

/** `text` with every registered secret, every `extra` secret and every secret-shaped string masked. */
export function redact(text: string, extra: readonly string[] = []): string {
  let out = text;
  // Longest first, so a secret that contains another is masked whole.
  const values = [...known, ...extra.filter((v) => v && v.length >= MIN_SECRET_LENGTH)].sort((a, b) => b.length - a.length);
  for (const v of values) out = out.split(v).join(MASK);
  for (const re of SHAPES) out = out.replace(re, MASK);
  return out;
}

/** Last `lines` lines of `text`, redacted: what errors show of a command's stderr. */
export function redactedTail(text: string, extra: readonly string[] = [], lines = 20): string {
  const all = text.replace(/\s+$/, "").split("\n");
  return redact(all.slice(-lines).join("\n"), extra);
}

/**
 * A StepError whose message, command, stderr tail and hint are redacted. Every StepError kubeha
 * raises for a command goes through here.
 */
export function stepError(
  message: string,
  detail: StepError["detail"],
  hint?: string,
  secrets: readonly string[] = [],
): StepError {
  const r = (s: string | undefined) => (s === undefined ? undefined : redact(s, secrets));
  const d: StepError["detail"] = {};
  if (detail.host !== undefined) d.host = detail.host;
  if (detail.phase !== undefined) d.phase = detail.phase;
  if (detail.command !== undefined) d.command = r(detail.command);
  if (detail.exitCode !== undefined) d.exitCode = detail.exitCode;
  if (detail.stderrTail !== undefined) d.stderrTail = r(detail.stderrTail);
  return new StepError(redact(message, secrets), d, r(hint));
}
