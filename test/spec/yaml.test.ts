/**
 * Reading hostile and unusual YAML (issue 15): every case exits 0 or 3 with a message naming the
 * line, never a stack trace; schema errors and the semantic rules that can still run come in one report.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HOSTILE, BASE } from "../helpers/hostile.ts";
import { kubehaInProcess } from "../helpers/cli.ts";
import { parseCluster } from "../../src/spec/read.ts";
import { readYaml } from "../../src/spec/yaml.ts";

const dir = mkdtempSync(join(tmpdir(), "kubeha-yaml-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

for (const h of HOSTILE) {
  test(`validate: ${h.name} -> exit ${h.code}`, async () => {
    const file = join(dir, "c.yaml");
    writeFileSync(file, h.text);
    const r = await kubehaInProcess(["validate", file]);
    const out = r.stdout + r.stderr;
    assert.equal(r.code, h.code, out.slice(0, 2000));
    assert.match(out, h.says);
    assert.doesNotMatch(out, /\n\s+at |internal error|Maximum call stack/);
  });
}

test("merge keys: explicit keys win over merged ones, earlier sources over later ones", () => {
  const r = readYaml("a: &a { x: 1, y: 1 }\nb: &b { y: 2, z: 2 }\nc: { <<: [*a, *b], x: 3 }\n");
  assert.deepEqual(r.problems, []);
  assert.deepEqual((r.data as Record<string, unknown>).c, { x: 3, y: 1, z: 2 });
});

test("schema errors and the rules over the valid parts are reported together, sorted by line", () => {
  const text = BASE.replace("vip: 198.18.2.199", "vip: 198.18.2.207") // a host's address: rule vip
    .replace('version: "1.34.2"', 'version: "1.20.0"') // rule kubernetes-version
    .replace("cni: { plugin: calico }", "cni: { plugin: calico }\n    bogus: 1") // schema: unknown field
    .replace("  controlPlaneEndpoint:", "  packages: { source: ftp }\n  controlPlaneEndpoint:"); // schema: enum
  const r = parseCluster(text);
  assert.equal(r.cluster, undefined);
  const got = r.problems.map((p) => `${p.rule} ${p.path}`);
  assert.deepEqual(got, [
    "kubernetes-version spec.kubernetes.version",
    "schema spec.kubernetes.bogus",
    "schema spec.packages.source",
    "vip spec.controlPlaneEndpoint.vip",
  ]);
  const lines = r.problems.map((p) => p.line!);
  assert.deepEqual(lines, [...lines].sort((a, b) => a - b));
});

test("a structurally broken part silences only the rules that read it", () => {
  // hosts[1].address is a number: the host rules must not run (nor crash); the version rule still does.
  const text = BASE.replace("address: 198.18.2.208", "address: 5").replace('version: "1.34.2"', 'version: "1.20.0"');
  const r = parseCluster(text);
  assert.deepEqual(r.problems.map((p) => `${p.rule} ${p.path} ${p.message}`), [
    "schema spec.hosts[1].address must be a string",
    "kubernetes-version spec.kubernetes.version Kubernetes 1.20.0 is not supported",
  ]);
});

test("a file missing whole sections still gets the rules over what it has", () => {
  const text = 'apiVersion: kubeha.dev/v1alpha1\nkind: Cluster\nmetadata: { name: x }\nspec:\n  kubernetes: { version: "1.99.1" }\n';
  const r = parseCluster(text);
  const got = r.problems.map((p) => `${p.rule} ${p.path} ${p.message}`);
  assert.ok(got.includes('schema spec missing required field "hosts"'), got.join("\n"));
  assert.ok(got.includes('schema spec missing required field "controlPlaneEndpoint"'), got.join("\n"));
  assert.ok(got.some((g) => g.startsWith("kubernetes-version spec.kubernetes.version Kubernetes 1.99.1")), got.join("\n"));
});
