/**
 * Every secret string in a kubeha state directory, for tests that scan command output and logs
 * for leaks. Reusable by any suite: `assertNoSecrets(output, await secretsInStateDir(dir))`.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import assert from "node:assert/strict";

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

/**
 * Secret strings found in `stateDir`: the bootstrap token and its secret half, the certificate
 * key, the HAProxy and VRRP passwords (from secrets.json), and for every private key (`*.key`)
 * the whole PEM, its base64 form (as embedded in kubeconfigs) and each base64 body line, so a
 * partial print is caught too. The token id is public and not listed.
 */
export async function secretsInStateDir(stateDir: string): Promise<string[]> {
  const found = new Set<string>();
  for (const path of await walk(stateDir)) {
    if (path.endsWith("/secrets.json")) {
      const s = JSON.parse(await readFile(path, "utf8"));
      const token: string = s.join.token;
      found.add(token);
      found.add(token.split(".")[1] ?? token);
      found.add(s.join.certificateKey);
      found.add(s.haproxyStatsPassword);
      found.add(s.vrrpAuthPass);
    } else if (path.endsWith(".key")) {
      const pem = await readFile(path, "utf8");
      found.add(pem.trim());
      found.add(Buffer.from(pem, "utf8").toString("base64"));
      for (const line of pem.split("\n")) if (!line.startsWith("-----") && line.trim().length >= 16) found.add(line.trim());
    }
  }
  return [...found].filter((s) => s.length > 0);
}

/** Which of `secrets` occur in `text` (described by length and position, never by value). */
export function findLeaks(text: string, secrets: readonly string[]): string[] {
  const leaks: string[] = [];
  secrets.forEach((s, i) => {
    const at = text.indexOf(s);
    if (at >= 0) leaks.push(`secret #${i} (${s.length} chars) at offset ${at}`);
  });
  return leaks;
}

/** Fails (without printing the secret) when any secret occurs in `text`. */
export function assertNoSecrets(text: string, secrets: readonly string[], what = "output"): void {
  assert.ok(secrets.length > 0, "no secrets to scan for: is the state directory empty?");
  const leaks = findLeaks(text, secrets);
  assert.deepEqual(leaks, [], `${what} leaks secrets: ${leaks.join(", ")}`);
}
