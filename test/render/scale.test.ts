/**
 * The render of issue 15's generated 1,000-host cluster (test/helpers/big-cluster.ts, the file
 * bench/cli.ts times) is pinned by hashes taken with the code before render was made faster:
 * every file's path, mode and bytes as `kubeha render` writes them, and every field of the
 * in-memory renders apply uses (restarts, owners, secret flags). The PKI is a State holding fixed
 * fake PEM texts, so the hashes do not depend on freshly generated keys. A changed hash means the
 * output changed: find the file with the per-host hashes printed in the failure. A change that
 * alters rendered files on purpose (the goldens change too) takes the new hashes from the failure's
 * `actual`, in the same commit; a change meant only to be faster must leave them as they are.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCluster } from "../../src/spec/read.ts";
import { renderCluster } from "../../src/render/index.ts";
import type { HostRender } from "../../src/render/types.ts";
import { State } from "../../src/pki/state.ts";
import { instances, pkiFilesForHost } from "../../src/pki/index.ts";
import { writeRenders } from "../../src/cli/render.ts";
import { clusterYaml } from "../helpers/big-cluster.ts";
import { FIXTURE_SECRETS } from "./helpers.ts";

/** sha256 of the output before render was made faster (commit dfacb5b), see the file comment; taken again when keepalived.conf gained 10 ms adverts and down_timer_adverts (an intended change). */
const TREE_SHA256 = "436bdae3248e79fb6e20400c4801af4eb4f9f0dff7ab9358127ca2041b1fc024";
const RENDERS_SHA256 = "cef41a3a8cf9bbe40758fcad721931501eaf499e3371e213dc1053d891207aeb";

function renders(): HostRender[] {
  const r = parseCluster(clusterYaml(1000), { sourcePath: "/nonexistent/bench1000.yaml", home: "/home/kubeha-test" });
  assert.ok(r.cluster, JSON.stringify(r.problems.slice(0, 3)));
  const c = r.cluster;
  const material = new Map(
    instances(c).map((i) => {
      const fake = (what: string) => `-----BEGIN FAKE ${what}-----\n${i.id}\n-----END FAKE ${what}-----\n`;
      return [i.id, i.spec.kind === "key-pair" ? { key: fake("KEY"), pub: fake("PUB") } : { key: fake("KEY"), cert: fake("CERT") }];
    }),
  );
  const state = new State(c.pki.stateDir, { dir: c.pki.stateDir, createdDir: false, certs: [], secrets: "reused" }, material, FIXTURE_SECRETS);
  return renderCluster(c, FIXTURE_SECRETS, { pkiFiles: (h) => pkiFilesForHost(c, state, h) });
}

/** One line per file and directory under `dir`: relative path, type, mode, sha256 of the bytes. */
function treeLines(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const p = join(rel, name);
    const st = statSync(join(dir, p));
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isDirectory()) out.push(`d ${mode} ${p}`, ...treeLines(dir, p));
    else out.push(`f ${mode} ${p} ${createHash("sha256").update(readFileSync(join(dir, p))).digest("hex")}`);
  }
  return out;
}

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

test("render of the 1,000-host file: in-memory renders and the written tree are byte-identical to the old code's", () => {
  const rs = renders();
  assert.equal(rs.length, 1000);
  const perHost = rs.map((r) => `${r.host} ${sha(JSON.stringify(r))}`);
  const dir = mkdtempSync(join(tmpdir(), "kubeha-scale-"));
  const umask = process.umask(0o022);
  try {
    writeRenders(dir, rs, { fresh: true });
    const tree = treeLines(dir);
    assert.equal(tree.filter((l) => l.startsWith("f ")).length, rs.reduce((n, r) => n + r.files.length + 1, 0));
    assert.equal(sha(perHost.join("\n")), RENDERS_SHA256, `renders differ; per host:\n${perHost.slice(0, 5).join("\n")}\n...`);
    assert.equal(sha(tree.join("\n")), TREE_SHA256, `written tree differs; first lines:\n${tree.slice(0, 40).join("\n")}`);
  } finally {
    process.umask(umask);
    rmSync(dir, { recursive: true, force: true });
  }
});
