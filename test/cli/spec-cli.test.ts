import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateSchema, generateValidator } from "../../scripts/gen-schema.ts";
import { kubeha, REPO } from "../helpers/cli.ts";

test("cluster.schema.json is up to date with the TSDoc in src/spec/file.ts", () => {
  assert.equal(readFileSync(`${REPO}cluster.schema.json`, "utf8"), generateSchema(), "run `npm run schema` and commit the result");
});

test("the precompiled schema check is up to date with cluster.schema.json", () => {
  const committed = readFileSync(`${REPO}src/spec/cluster-check.generated.ts`, "utf8");
  assert.equal(committed, generateValidator(readFileSync(`${REPO}cluster.schema.json`, "utf8")), "run `npm run schema` and commit the result");
});

test("kubeha schema prints the committed schema", () => {
  const r = kubeha(["schema"]);
  assert.equal(r.code, 0);
  assert.deepEqual(JSON.parse(r.stdout), JSON.parse(readFileSync(`${REPO}cluster.schema.json`, "utf8")));
});

for (const f of readdirSync(`${REPO}examples`).filter((f) => f.endsWith(".yaml"))) {
  test(`example ${f} validates`, () => {
    const r = kubeha(["validate", `examples/${f}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /: valid \(/);
  });
}

test("validate reports every error as FILE:LINE:COL path: message and exits 3", () => {
  const dir = mkdtempSync(join(tmpdir(), "kubeha-validate-"));
  try {
    const bad = readFileSync(`${REPO}examples/seed-004-dedicated-lbs-8443.yaml`, "utf8")
      .replace("vip: 198.18.150.160", "vip: 198.18.150.161")
      .replace('version: "1.33.4"', 'version: "1.20.0"');
    writeFileSync(join(dir, "c.yaml"), bad);
    const r = kubeha(["validate", join(dir, "c.yaml")]);
    assert.equal(r.code, 3);
    const lines = r.stderr.split("\n");
    assert.ok(lines.some((l) => /c\.yaml:\d+:\d+ spec\.controlPlaneEndpoint\.vip: the VIP 198\.18\.150\.161 is the address of host "master01" \(.+\)$/.test(l)), r.stderr);
    assert.ok(lines.some((l) => /c\.yaml:\d+:\d+ spec\.kubernetes\.version: Kubernetes 1\.20\.0 is not supported/.test(l)), r.stderr);
    assert.equal(r.stdout, "");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("validate --strict fails on warnings; a missing file is a clear error", () => {
  assert.equal(kubeha(["validate", "--strict", "examples/seed-000-single-proxy.yaml"]).code, 3);
  const r = kubeha(["validate", "/nonexistent/cluster.yaml"]);
  assert.equal(r.code, 4); // could not check
  assert.match(r.stderr, /cannot read cluster file .*ENOENT/);
  assert.match(r.stderr, /hint: /);
});

for (const lb of ["colocated", "dedicated", "single", "kube-vip", "external"]) {
  test(`init --lb ${lb} writes a commented file that validates`, () => {
    const dir = mkdtempSync(join(tmpdir(), "kubeha-init-"));
    try {
      const r = kubeha(["init", "--lb", lb, "--masters", "3", "--workers", "1"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^# yaml-language-server: \$schema=/);
      assert.match(r.stdout, /# Host name; becomes the node name/);
      writeFileSync(join(dir, "c.yaml"), r.stdout);
      const v = kubeha(["validate", join(dir, "c.yaml")]);
      assert.equal(v.code, 0, v.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("bad flags are usage errors (exit 2) that say what to do", () => {
  const r = kubeha(["init", "--lb", "nginx"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--lb must be one of colocated, dedicated, single, kube-vip, external/);
  const u = kubeha(["validate", "--bogus", "x.yaml"]);
  assert.equal(u.code, 2);
  assert.match(u.stderr, /see `kubeha validate --help`/);
  assert.equal(kubeha(["frobnicate"]).code, 2);
});

test("every command has --help with examples", () => {
  const list = kubeha(["--help"]).stdout;
  const names = [...list.matchAll(/^  (\S+)\s{2,}/gm)].map((m) => m[1]!);
  assert.ok(names.length >= 8, list);
  for (const n of names) {
    const r = kubeha([n, "--help"]);
    assert.equal(r.code, 0, n);
    assert.match(r.stdout, /Usage:\s+kubeha /, n);
    assert.match(r.stdout, /Examples?:/, `${n} --help has no examples`);
  }
});

test("the README's cluster file reference matches the schema", async () => {
  const { withReference } = await import("../../scripts/gen-reference.ts");
  const readme = readFileSync(`${REPO}README.md`, "utf8");
  assert.equal(readme, withReference(readme, JSON.parse(readFileSync(`${REPO}cluster.schema.json`, "utf8"))), "run `node --import tsx scripts/gen-reference.ts`");
});
