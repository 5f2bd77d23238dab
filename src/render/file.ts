/** Small helpers shared by the renderers (pure). */
import type { RenderedFile } from "./types.ts";

/** A RenderedFile with the defaults every renderer wants: 0644, not secret, no restarts. */
export function file(
  path: string,
  content: string,
  opts: { mode?: number; secret?: boolean; restarts?: string[]; owner?: string } = {},
): RenderedFile {
  const secret = opts.secret ?? false;
  return {
    path,
    content: content.endsWith("\n") ? content : content + "\n",
    // Secrets are never readable by others, whatever the caller asked for.
    mode: secret ? 0o600 : (opts.mode ?? 0o644),
    secret,
    ...(opts.restarts && opts.restarts.length > 0 ? { restarts: [...opts.restarts] } : {}),
    ...(opts.owner ? { owner: opts.owner } : {}),
  };
}

/** The header every rendered config carries, in the file's comment syntax. */
export function header(comment: string, what: string): string {
  return `${comment} ${what}\n${comment} Rendered by kubeha; \`kubeha apply\` overwrites local edits. Change the cluster file instead.\n`;
}
