/**
 * Forgetting a removed host's pinned key (`kubeha node remove`): the known_hosts edit is
 * `ssh-keygen -R`'s (checked against the real ssh-keygen on the same file), policy lines stay,
 * and a host that stays at the same address keeps its key.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHmac, randomBytes } from "node:crypto";
import { knownHostsLine, knownHostsName, loadKnownHosts, removeKnownHosts, verifyHostKey, withoutHostKeys } from "../../src/exec/known-hosts.ts";
import { forgottenHostKeys } from "../../src/ops/node-remove.ts";
import { parseCluster } from "../../src/spec/read.ts";

/** A syntactically valid ssh-ed25519 public key blob. */
function key(): Buffer {
  const type = Buffer.from("ssh-ed25519");
  const k = randomBytes(32);
  const b = Buffer.alloc(4 + type.length + 4 + k.length);
  b.writeUInt32BE(type.length, 0);
  type.copy(b, 4);
  b.writeUInt32BE(k.length, 4 + type.length);
  k.copy(b, 8 + type.length);
  return b;
}

function hashed(name: string, k: Buffer): string {
  const salt = randomBytes(20);
  const h = createHmac("sha1", salt).update(name).digest();
  return `|1|${salt.toString("base64")}|${h.toString("base64")} ssh-ed25519 ${k.toString("base64")}`;
}

const [k1, k2, k3, k4, k5, k6] = [key(), key(), key(), key(), key(), key()];
const FILE = [
  "# pinned by kubeha",
  knownHostsLine("198.18.71.14", k1),
  knownHostsLine("198.18.71.11", k2),
  `198.18.71.14,master4.lab ssh-ed25519 ${k3.toString("base64")}`,
  hashed("198.18.71.14", k4),
  `198.18.71.* ssh-ed25519 ${k5.toString("base64")}`,
  `@revoked 198.18.71.14 ssh-ed25519 ${k6.toString("base64")}`,
  knownHostsLine("[198.18.71.14]:2222", k2),
  "",
].join("\n");

test("withoutHostKeys: the host's plain, shared and hashed lines go; wildcards, @revoked, other hosts and other ports stay", () => {
  const r = withoutHostKeys(FILE, ["198.18.71.14"]);
  assert.equal(r.removed, 3);
  const e = (t: string) => withoutHostKeys(t, []).text;
  assert.equal(e(FILE), FILE, "no names: unchanged");
  const lines = r.text.split("\n");
  assert.deepEqual(lines, [
    "# pinned by kubeha",
    knownHostsLine("198.18.71.11", k2),
    `master4.lab ssh-ed25519 ${k3.toString("base64")}`,
    `198.18.71.* ssh-ed25519 ${k5.toString("base64")}`,
    `@revoked 198.18.71.14 ssh-ed25519 ${k6.toString("base64")}`,
    knownHostsLine("[198.18.71.14]:2222", k2),
    "",
  ]);
});

test("removeKnownHosts: the file keeps its mode; the forgotten host is unknown afterwards (not changed); a missing file is nothing to do", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kubeha-kh-"));
  try {
    const path = join(dir, "known_hosts");
    writeFileSync(path, FILE, { mode: 0o600 });
    const before = await loadKnownHosts(path);
    assert.equal(verifyHostKey(before, "198.18.71.14", key()).status, "changed");
    assert.equal(await removeKnownHosts(path, ["198.18.71.14"]), 3);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    // Only the wildcard line still names the address: a reinstalled machine's new key is judged by it alone.
    const after = (await loadKnownHosts(path)).filter((x) => !x.patterns.some((p) => p.includes("*")));
    assert.equal(verifyHostKey(after, "198.18.71.14", key()).status, "unknown");
    assert.equal(verifyHostKey(after, "198.18.71.11", k2).status, "known");
    assert.equal(await removeKnownHosts(path, ["198.18.71.14"]), 0, "a second run removes nothing");
    assert.equal(await removeKnownHosts(join(dir, "none"), ["198.18.71.14"]), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("withoutHostKeys agrees with the real `ssh-keygen -R` on which keys of the host remain", () => {
  const dir = mkdtempSync(join(tmpdir(), "kubeha-kh-"));
  try {
    const path = join(dir, "known_hosts");
    // ssh-keygen -R drops the whole multi-name line; kubeha keeps the other name: compare the
    // keys the removed host still has, which must be none in both, and the other hosts' keys.
    writeFileSync(path, FILE, { mode: 0o600 });
    const r = spawnSync("ssh-keygen", ["-R", "198.18.71.14", "-f", path], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const theirs = readFileSync(path, "utf8");
    const ours = withoutHostKeys(FILE, ["198.18.71.14"]).text;
    for (const t of [theirs, ours]) {
      const left = spawnSync("ssh-keygen", ["-F", "198.18.71.14", "-f", "/dev/stdin"], { input: t, encoding: "utf8" });
      // -F prints matching lines; only the wildcard one (and the @revoked marker) may remain.
      const keys = left.stdout.split("\n").filter((l) => l && !l.startsWith("#") && !l.startsWith("@revoked") && !l.startsWith("198.18.71.*"));
      assert.deepEqual(keys, [], `keys left for the host:\n${left.stdout}`);
      assert.match(t, new RegExp(k2.toString("base64").replace(/[+/]/g, "\\$&")));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("forgottenHostKeys: the removed host's SSH name, unless a host that stays is reached at the same address and port", () => {
  const yaml = (extra: string) => `apiVersion: kubeha.dev/v1alpha1
kind: Cluster
metadata:
  name: kh
spec:
  ssh: { knownHostsPath: /tmp/kh/known_hosts }
  hosts:
    - { name: m1, address: 198.18.71.11, roles: [control-plane, lb], interface: host0 }
    - { name: m2, address: 198.18.71.12, roles: [control-plane, lb], interface: host0 }
    - { name: m3, address: 198.18.71.13, roles: [control-plane, lb], interface: host0 }
${extra}  controlPlaneEndpoint: { mode: haproxy-keepalived, vip: 198.18.71.100 }
`;
  const parse = (t: string) => {
    const r = parseCluster(t, { sourcePath: "/tmp/kh/cluster.yaml" });
    assert.ok(r.cluster, r.problems.map((p) => p.message).join("\n"));
    return r.cluster;
  };
  const before = parse(yaml("    - { name: w1, address: 198.18.71.21, roles: [worker], ssh: { port: 2222 } }\n"));
  const w1 = before.hosts.find((h) => h.name === "w1")!;
  assert.deepEqual(forgottenHostKeys(w1, parse(yaml(""))), [knownHostsName("198.18.71.21", 2222)]);
  assert.deepEqual(forgottenHostKeys(w1, parse(yaml("    - { name: w2, address: 198.18.71.21, roles: [worker], ssh: { port: 2222 } }\n"))), []);
  assert.deepEqual(forgottenHostKeys(w1, parse(yaml("    - { name: w2, address: 198.18.71.21, roles: [worker] }\n"))), ["[198.18.71.21]:2222"]);
});
