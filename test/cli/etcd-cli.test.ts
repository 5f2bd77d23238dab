/**
 * `kubeha etcd` on the command line, without machines: usage errors (exit 2), restore's refusal
 * without --yes, a corrupted or unchecked snapshot refused before any host is contacted (the
 * example cluster's hosts do not exist), and --dry-run listing the steps per host, changing nothing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO, kubehaInProcess } from "../helpers/cli.ts";
import { EXIT } from "../../src/errors.ts";

const EXAMPLE = join(REPO, "examples", "seed-001-external-etcd-2lbs.yaml");
const dir = mkdtempSync(join(tmpdir(), "kubeha-etcd-cli-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function snapshot(name: string, content: string, digestOf = content): string {
  const f = join(dir, name);
  writeFileSync(f, content, { mode: 0o600 });
  writeFileSync(`${f}.sha256`, `${createHash("sha256").update(digestOf).digest("hex")}  ${name}\n`);
  return f;
}

test("usage errors exit 2 with a hint", async () => {
  for (const [args, re] of [
    [["etcd"], /etcd needs a subcommand: snapshot, restore/],
    [["etcd", "backup", EXAMPLE], /unknown subcommand "backup"/],
    [["etcd", "snapshot"], /takes exactly one cluster file/],
    [["etcd", "snapshot", EXAMPLE, "--keep", "0"], /--keep must be a whole number of 1 or more/],
    [["etcd", "snapshot", EXAMPLE, "--yes"], /--yes and --dry-run belong to etcd restore/],
    [["etcd", "snapshot", EXAMPLE, "-o", "wide"], /-o\/--output must be one of table, json, yaml/],
    [["etcd", "snapshot", EXAMPLE, "-o", "/tmp/x", "--dir", "/tmp/y"], /give the directory once/],
    [["etcd", "snapshot", EXAMPLE, "--schedule", "daily", "--dir", "/tmp/x"], /--dir and -o DIR do not apply/],
    [["etcd", "snapshot", EXAMPLE, "--schedule", " "], /--schedule needs a systemd calendar expression, or off/],
    [["etcd", "restore", EXAMPLE], /takes a cluster file and a snapshot/],
    [["etcd", "restore", EXAMPLE, "s.db", "-o", "/tmp/x", "--yes"], /-o\/--output must be one of/],
    [["etcd", "restore", EXAMPLE, "s.db", "--keep", "2", "--yes"], /--dir, --keep and --schedule belong to etcd snapshot/],
  ] as const) {
    const r = await kubehaInProcess([...args]);
    assert.equal(r.code, EXIT.usage, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.match(r.stderr, /hint: /);
  }
});

test("restore without --yes is refused and points at --dry-run", async () => {
  const s = snapshot("ok.db", "snapshot");
  const r = await kubehaInProcess(["etcd", "restore", EXAMPLE, s]);
  assert.equal(r.code, EXIT.usage);
  assert.match(r.stderr, /replaces every etcd member's data with the snapshot .* it needs --yes/);
  assert.match(r.stderr, /hint: see what it would do: kubeha etcd restore .* --dry-run/);
});

test("a corrupted snapshot, or one without its .sha256, is refused before any host is contacted", async () => {
  const bad = snapshot("bad.db", "snapshot bytez", "snapshot bytes");
  const r = await kubehaInProcess(["etcd", "restore", EXAMPLE, bad, "--yes"]);
  assert.equal(r.code, EXIT.failed, r.stderr);
  assert.match(r.stderr, /bad\.db is corrupted: its sha256 begins [0-9a-f]{16}\.\.\., .*bad\.db\.sha256 says [0-9a-f]{16}\.\.\.; nothing was changed/);
  assert.doesNotMatch(r.stderr, /\[1\/10\]|connect|ssh/i, "no step ran, no host was contacted");

  const bare = join(dir, "bare.db");
  writeFileSync(bare, "snapshot");
  const m = await kubehaInProcess(["etcd", "restore", EXAMPLE, bare, "--yes"]);
  assert.equal(m.code, EXIT.failed);
  assert.match(m.stderr, /bare\.db\.sha256 is missing: the snapshot's checksum cannot be verified, so it is not restored/);
});

test("restore --dry-run lists every step on its hosts (-o json too) and contacts no host", async () => {
  const s = snapshot("dry.db", "snapshot");
  const r = await kubehaInProcess(["etcd", "restore", EXAMPLE, s, "--dry-run", "-o", "json"]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { dryRun: boolean; token: string; steps: Array<{ id: string; hosts: string[]; commands: string[] }> };
  assert.equal(j.dryRun, true);
  assert.deepEqual(j.steps.map((x) => x.id), ["upload", "verify", "stop-apiservers", "stop-etcd", "restore", "start-etcd", "wait-etcd", "start-apiservers", "wait-apiservers", "clean-up"]);
  const restore = j.steps.find((x) => x.id === "restore")!;
  assert.equal(restore.hosts.length, 3);
  assert.ok(restore.commands.every((c) => c.includes(`--initial-cluster-token ${j.token}`)));
  assert.match(r.stderr, /\[5\/10\] would restore the snapshot into every member's data directory on /);
  const t = await kubehaInProcess(["etcd", "restore", EXAMPLE, s, "--dry-run"]);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /^dry run: .*dry\.db \(sha256 [0-9a-f]{64}\) would be restored with cluster token /);
});
