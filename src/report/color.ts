/**
 * Colour for the human tables (status states, drill verdicts): only on a terminal, never when
 * NO_COLOR is set (https://no-color.org) or TERM is dumb. Applied to the finished text, word by
 * word, so the plain text (what tests and pipes see) is the one source and column alignment is
 * untouched (escape codes have no width).
 */
type Colour = "red" | "green" | "yellow";
const SGR: Record<Colour, number> = { red: 31, green: 32, yellow: 33 };

/** True when output to `stream` may be coloured. */
export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && !env.NO_COLOR && env.TERM !== "dumb";
}

function paint(text: string, rules: Array<[RegExp, Colour]>): string {
  let out = text;
  for (const [re, c] of rules) out = out.replace(re, (m) => `\x1b[${SGR[c]}m${m}\x1b[0m`);
  return out;
}

/** `kubeha status`'s table: healthy/active/UP green, DEGRADED/NO/DOWN/failed red, warnings yellow. */
export function colorStatus(text: string): string {
  return paint(text, [
    [/^problem: .*$/gm, "red"],
    [/^warning: .*$/gm, "yellow"],
    [/(?<=^cluster \S+: )healthy$/m, "green"],
    [/(?<=^cluster \S+: )DEGRADED.*$/m, "red"],
    [/(?<==)active\b/g, "green"],
    [/(?<==)(?:failed|inactive|activating|deactivating|unknown)\b/g, "red"],
    [/(?<= )(?:UP|holder)(?= |$)/gm, "green"],
    [/(?<= )(?:DOWN|MAINT|NO)(?=[ :]|$)/gm, "red"],
  ]);
}

/** `kubeha drill`'s summary: each scenario's ok/FAIL and the "Not met" list. */
export function colorDrill(text: string): string {
  return paint(text, [
    [/ ok$/gm, "green"],
    [/ FAIL$/gm, "red"],
    [/^Not met:$/m, "red"],
  ]);
}
