/**
 * OpenSSH known_hosts: parsing (plain, wildcard, negated and hashed `|1|` entries, `[host]:port`),
 * the verdict for a presented host key, and pinning a new key. Pure except `loadKnownHosts` and
 * `appendKnownHost`.
 */
import { createHash, createHmac } from "node:crypto";
import { appendFile, mkdir, readFile } from "node:fs/promises";
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
