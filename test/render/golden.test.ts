/**
 * Renders every example and fixture cluster and checks the output with the real tools:
 * golden files (UPDATE_GOLDEN=1 rewrites them, review the diff), `haproxy -c`, `keepalived -t`
 * (in a private mount+network namespace where the rendered scripts sit at their real paths and
 * the configured interface exists), shellcheck + bash -n on every script, YAML parse of every YAML.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { parseAllDocuments } from "yaml";
import { renderCluster } from "../../src/render/index.ts";
import type { HostRender } from "../../src/render/types.ts";
import { PATHS } from "../../src/render/paths.ts";
import { hostByName } from "../../src/spec/model.ts";
import { FIXTURE_SECRETS, REPO, clustersUnderTest, run } from "./helpers.ts";
import { haproxyCheck, keepalivedCheck } from "../helpers/lb-tools.ts";

const GOLDEN = join(REPO, "test", "golden");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

/** Golden layout: <example>/<host>/<absolute path> and <example>/<host>/install.sh. */
function expected(renders: HostRender[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const r of renders) {
    for (const f of r.files) m.set(join(r.host, f.path), f.content);
    m.set(join(r.host, "install.sh"), r.installScript);
  }
  return m;
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out;
}

function withTmp<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "kubeha-render-"));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const { name, cluster } of clustersUnderTest()) {
  const renders = renderCluster(cluster, FIXTURE_SECRETS);

  test(`${name}: output is deterministic`, () => {
    // File by file with a message: a failure names the file instead of diffing two whole renders.
    const again = expected(renderCluster(cluster, FIXTURE_SECRETS));
    for (const [rel, content] of expected(renders)) assert.ok(again.get(rel) === content, `${name}/${rel} differs between two renders`);
    assert.equal(again.size, expected(renders).size, `${name}: two renders give different file lists`);
  });

  test(`${name}: matches the golden files${UPDATE ? " (updating)" : ""}`, () => {
    const dir = join(GOLDEN, name);
    const want = expected(renders);
    if (UPDATE) {
      rmSync(dir, { recursive: true, force: true });
      for (const [rel, content] of want) {
        mkdirSync(dirname(join(dir, rel)), { recursive: true });
        writeFileSync(join(dir, rel), content);
      }
    }
    const have = listFiles(dir).map((p) => relative(dir, p)).sort();
    assert.deepEqual(have, [...want.keys()].sort(), `golden file list for ${name} differs (UPDATE_GOLDEN=1 to rewrite, then review)`);
    for (const [rel, content] of want) {
      assert.equal(readFileSync(join(dir, rel), "utf8"), content, `${name}/${rel} differs from the golden file`);
    }
  });

  test(`${name}: secrets only in secret files, mode 0600`, () => {
    // The token's secret half alone too: the TLS bootstrap Secret holds it apart from its id.
    const values = [FIXTURE_SECRETS.join.token, FIXTURE_SECRETS.join.token.split(".")[1]!, FIXTURE_SECRETS.join.certificateKey, FIXTURE_SECRETS.haproxyStatsPassword, FIXTURE_SECRETS.vrrpAuthPass, FIXTURE_SECRETS.encryptionKey!];
    for (const r of renders) {
      assert.ok(!values.some((v) => r.installScript.includes(v)), `${r.host} install.sh holds a secret`);
      for (const f of r.files) {
        const holds = values.some((v) => f.content.includes(v));
        if (holds) assert.ok(f.secret && f.mode === 0o600, `${r.host}:${f.path} holds a secret but is not secret/0600`);
        if (f.secret) assert.equal(f.mode, 0o600, `${r.host}:${f.path}`);
      }
    }
  });

  for (const r of renders) {
    const cfg = r.files.find((f) => f.path === PATHS.haproxyCfg);
    if (cfg) {
      test(`${name}/${r.host}: haproxy -c accepts haproxy.cfg`, () => {
        const res = haproxyCheck(cfg.content);
        assert.equal(res.code, 0, res.out);
        assert.doesNotMatch(res.out, /WARNING|ALERT/, res.out);
      });
    }
    const ka = r.files.find((f) => f.path === PATHS.keepalivedConf);
    if (ka) {
      test(`${name}/${r.host}: keepalived -t accepts keepalived.conf with its scripts in place`, () => {
        const res = keepalivedCheck(r.files, hostByName(cluster, r.host).interface);
        assert.equal(res.code, 0, res.out);
        assert.doesNotMatch(res.out, /WARNING|Disabling|Unknown|Ignoring/i, res.out);
      });
    }
    const scripts = [
      { path: "install.sh", content: r.installScript, mode: 0o755 },
      ...r.files.filter((f) => f.content.startsWith("#!")),
    ];
    test(`${name}/${r.host}: shellcheck and bash -n pass on ${scripts.length} scripts`, () =>
      withTmp((dir) => {
        for (const s of scripts) {
          assert.equal(s.mode & 0o022, 0, `${s.path} must not be writable by group/others (keepalived disables such scripts)`);
          const p = join(dir, s.path.replace(/\//g, "_"));
          writeFileSync(p, s.content);
          const n = run("bash", ["-n", p]);
          assert.equal(n.code, 0, `${s.path}: ${n.out}`);
          const sc = run("shellcheck", ["--severity=style", p]);
          assert.equal(sc.code, 0, `${s.path}:\n${sc.out}`);
        }
      }));
    test(`${name}/${r.host}: every YAML file parses`, () => {
      for (const f of r.files.filter((f) => /\.ya?ml$/.test(f.path))) {
        const docs = parseAllDocuments(f.content);
        const list = Array.isArray(docs) ? docs : [docs];
        assert.ok(list.length > 0, f.path);
        for (const d of list) assert.deepEqual(d.errors, [], `${r.host}:${f.path}`);
      }
    });
  }
}

test("golden directory has no stale example folders", () => {
  const names = new Set(clustersUnderTest().map((c) => c.name));
  const stale = existsSync(GOLDEN) ? readdirSync(GOLDEN).filter((d) => statSync(join(GOLDEN, d)).isDirectory() && !names.has(d)) : [];
  assert.deepEqual(stale, []);
});
