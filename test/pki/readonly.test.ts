/** ensureState({ readOnly }) is plan's view of the PKI: it reads, fills gaps in memory, and writes nothing. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { ensureState } from "../../src/pki/index.ts";
import { tmpCluster } from "./fixtures.ts";

async function tree(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true }))
    if (e.isFile()) out.set(join(e.parentPath, e.name), await readFile(join(e.parentPath, e.name), "utf8"));
  return out;
}

test("read-only: no state directory is created; every certificate exists in memory; the report says apply will create it", async () => {
  const fx = await tmpCluster();
  try {
    const s = await ensureState(fx.cluster, { readOnly: true });
    await assert.rejects(stat(fx.cluster.pki.stateDir), /ENOENT/);
    assert.equal(s.report.wouldCreateDir, true);
    assert.ok(s.material("ca").key.includes("PRIVATE KEY"));
    assert.ok(s.report.certs.every((c) => c.action === "issued"));
  } finally {
    await fx.cleanup();
  }
});

test("read-only on an existing state directory: a missing leaf is made in memory, nothing on disk changes", async () => {
  const fx = await tmpCluster();
  try {
    const dir = fx.cluster.pki.stateDir;
    const real = await ensureState(fx.cluster);
    await rm(join(dir, "pki/hosts/cp2/apiserver.crt"));
    const before = await tree(dir);
    const s = await ensureState(fx.cluster, { readOnly: true });
    assert.equal(s.report.wouldCreateDir, undefined);
    assert.deepEqual(s.report.certs.filter((c) => c.action === "issued").map((c) => c.id), ["apiserver/cp2"]);
    assert.equal(s.material("ca").cert, real.material("ca").cert, "the CA is the one on disk");
    assert.deepEqual(await tree(dir), before, "a read-only run changed the state directory");
  } finally {
    await fx.cleanup();
  }
});
