/**
 * OpenSSH known_hosts: parsing (plain, wildcard, negated and hashed `|1|` entries, `[host]:port`),
 * the verdict for a presented host key, pinning a new key, and forgetting a removed host's keys.
 * Pure except `loadKnownHosts`, `appendKnownHost` and `removeKnownHosts`.
 */
import { createHash, createHmac } from "node:crypto";
import { appendFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

export interface KnownHostEntry {
  /** Host patterns of the line (empty for hashed lines). */
  patterns: string[];
  /** `[salt, hash]` of a hashed `|1|salt|hash` line. */
  hashed?: [Buffer, Buffer];
  keyType: string;
  key: Buffer;
  marker?: "revoked" | "cert-authority";
  /** 1-based line number, for messages. */
  line: number;
}

/** The name OpenSSH looks up: `addr` on port 22, `[addr]:port` otherwise. */
export function knownHostsName(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

/** Parses known_hosts text; malformed lines are ignored as OpenSSH does. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry["marker"];
    if (fields[0]?.startsWith("@")) {
      const m = fields.shift();
      if (m === "@revoked") marker = "revoked";
      else if (m === "@cert-authority") marker = "cert-authority";
      else return;
    }
    const [hosts, keyType, b64] = fields;
    if (!hosts || !keyType || !b64) return;
    const key = Buffer.from(b64, "base64");
    if (key.length === 0) return;
    const entry: KnownHostEntry = { patterns: [], keyType, key, line: i + 1, ...(marker ? { marker } : {}) };
    if (hosts.startsWith("|1|")) {
      const [, , salt, hash] = hosts.split("|");
      if (!salt || !hash) return;
      entry.hashed = [Buffer.from(salt, "base64"), Buffer.from(hash, "base64")];
    } else {
      entry.patterns = hosts.split(",");
    }
    out.push(entry);
  });
  return out;
}

function globToRegExp(glob: string): RegExp {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${re}$`, "i");
}

/** Whether an entry applies to `name` (the result of `knownHostsName`). */
export function entryMatches(e: KnownHostEntry, name: string): boolean {
  if (e.hashed) {
    const [salt, hash] = e.hashed;
    return createHmac("sha1", salt).update(name).digest().equals(hash);
  }
  let hit = false;
  for (const p of e.patterns) {
    const neg = p.startsWith("!");
    if (globToRegExp(neg ? p.slice(1) : p).test(name)) {
      if (neg) return false;
      hit = true;
    }
  }
  return hit;
}

/** `SHA256:...` as `ssh-keygen -l` prints it. */
export function fingerprint(key: Buffer): string {
  return "SHA256:" + createHash("sha256").update(key).digest("base64").replace(/=+$/, "");
}

/** The key type named inside an SSH wire-format public key blob (`ssh-ed25519`, ...). */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return "unknown";
  const n = key.readUInt32BE(0);
  return key.subarray(4, 4 + n).toString("latin1");
}

export type HostKeyVerdict =
  | { status: "known" }
  | { status: "unknown" }
  | { status: "changed"; expected: string[] }
  | { status: "revoked" };

/**
 * What OpenSSH with StrictHostKeyChecking=yes would conclude about `key` presented by `name`.
 * "changed" means the file holds keys for this host and none equals the presented one; callers
 * offer the known key types first (`hostKeyAlgorithms`), so a host whose known key still exists
 * presents it, and a host that only has keys of other types is treated as changed.
 */
export function verifyHostKey(entries: KnownHostEntry[], name: string, key: Buffer): HostKeyVerdict {
  const mine = entries.filter((e) => e.marker !== "cert-authority" && entryMatches(e, name));
  if (mine.some((e) => e.marker === "revoked" && e.key.equals(key))) return { status: "revoked" };
  const plain = mine.filter((e) => !e.marker);
  if (plain.some((e) => e.key.equals(key))) return { status: "known" };
  if (plain.length === 0) return { status: "unknown" };
  return { status: "changed", expected: plain.map((e) => `${e.keyType} ${fingerprint(e.key)} (line ${e.line})`) };
}

const ALGS: Record<string, string[]> = {
  "ssh-ed25519": ["ssh-ed25519"],
  "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
  "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
  "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"],
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
};
const ALL_ALGS = Object.values(ALGS).flat();

/**
 * Host key algorithms to offer, the types known for `name` first (as OpenSSH orders them), so the
 * server presents the key we can compare; undefined when nothing is known (library defaults).
 */
export function hostKeyAlgorithms(entries: KnownHostEntry[], name: string): string[] | undefined {
  const types = new Set(entries.filter((e) => !e.marker && entryMatches(e, name)).map((e) => e.keyType));
  const first = [...types].flatMap((t) => ALGS[t] ?? []);
  if (first.length === 0) return undefined;
  return [...first, ...ALL_ALGS.filter((a) => !first.includes(a))];
}

/** Reads a known_hosts file; a missing file is an empty one. */
export async function loadKnownHosts(path: string): Promise<KnownHostEntry[]> {
  try {
    return parseKnownHosts(await readFile(path, "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

/** The known_hosts line that pins `key` for `name`. */
export function knownHostsLine(name: string, key: Buffer): string {
  return `${name} ${keyTypeOf(key)} ${key.toString("base64")}`;
}

/** Appends a pinned key (trust on first use, only when the operator asked for it). */
export async function appendKnownHost(path: string, name: string, key: Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  let prefix = "";
  try {
    const cur = await readFile(path, "utf8");
    if (cur.length && !cur.endsWith("\n")) prefix = "\n";
  } catch {
    // New file.
  }
  await appendFile(path, `${prefix}${knownHostsLine(name, key)}\n`, { mode: 0o600 });
}

/**
 * known_hosts text without the keys of `names` (each the result of `knownHostsName`), as
 * `ssh-keygen -R` does: a hashed line of one of them goes; a plain line loses those names from its
 * patterns and goes when none is left. Lines with wildcards or negations, `@revoked` and
 * `@cert-authority` lines are kept (they are the operator's policy, not one host's pinned key).
 * Pure; `removed` counts the keys no longer pinned for those names.
 */
export function withoutHostKeys(text: string, names: readonly string[]): { text: string; removed: number } {
  const drop = new Set(names.map((n) => n.toLowerCase()));
  let removed = 0;
  const lines = text.split("\n").flatMap((raw) => {
    const [e] = parseKnownHosts(raw);
    if (!e || e.marker) return [raw];
    if (e.hashed) {
      if (names.some((n) => entryMatches(e, n))) {
        removed++;
        return [];
      }
      return [raw];
    }
    if (e.patterns.some((p) => /[*?!]/.test(p))) return [raw];
    const keep = e.patterns.filter((p) => !drop.has(p.toLowerCase()));
    if (keep.length === e.patterns.length) return [raw];
    removed++;
    if (keep.length === 0) return [];
    const lead = /^\s*/.exec(raw)![0];
    return [lead + raw.trimStart().replace(/^\S+/, keep.join(","))];
  });
  return { text: lines.join("\n"), removed };
}

/** Drops the pinned keys of `names` from the known_hosts file at `path` (a missing file: nothing to do). */
export async function removeKnownHosts(path: string, names: readonly string[]): Promise<number> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw err;
  }
  const r = withoutHostKeys(text, names);
  if (r.removed) await writeFile(path, r.text);
  return r.removed;
}
