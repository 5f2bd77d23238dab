/**
 * Property test: thousands of randomly mutated cluster files never crash the validator; every
 * problem it reports has a rule and either a YAML path or (syntax errors) a position.
 * Seeded, so a failure prints the seed and the file that reproduces it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { parse, stringify } from "yaml";
import { parseCluster } from "../../src/spec/read.ts";

const examples = readdirSync("examples").filter((f) => f.endsWith(".yaml")).map((f) => readFileSync(`examples/${f}`, "utf8"));
const ITERATIONS = Number(process.env.KUBEHA_FUZZ_ITERATIONS ?? 3000);

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);
}

const VALUES: unknown[] = [null, 0, -1, 1, 2, 255, 256, 65536, 0.1, 1.5, "", "x", "198.18.0.1", "10.96.0.0/12", "300.1.1.1", "1.34.2", "v1.99.0", true, false, [], {}, ["lb"], { a: 1 }, "control-plane", "external", "haproxy", "kube-vip"];
const KEYS = ["name", "address", "roles", "vip", "mode", "port", "hairpin", "etcd", "unknownField", "interface", "taints", "labels"];

type J = Record<string, unknown> | unknown[];
function containers(v: unknown, out: J[] = []): J[] {
  if (v && typeof v === "object") {
    out.push(v as J);
    for (const c of Object.values(v)) containers(c, out);
  }
  return out;
}

function mutateObject(obj: unknown, r: () => number): unknown {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const all = containers(obj);
    if (!all.length) return pick(VALUES);
    const c = pick(all);
    const keys = Object.keys(c);
    const op = r();
    if (Array.isArray(c)) {
      if (op < 0.3 && c.length) c.splice(Math.floor(r() * c.length), 1);
      else if (op < 0.6 && c.length) c.push(structuredClone(pick(c)));
      else if (c.length) c[Math.floor(r() * c.length)] = pick(VALUES);
      else c.push(pick(VALUES));
    } else if (op < 0.3 && keys.length) delete c[pick(keys)];
    else if (op < 0.7 && keys.length) c[pick(keys)] = structuredClone(pick(VALUES));
    else c[pick(KEYS)] = structuredClone(pick(VALUES));
  }
  return obj;
}

function mutateText(text: string, r: () => number): string {
  const lines = text.split("\n");
  const i = Math.floor(r() * lines.length);
  const op = r();
  if (op < 0.3) lines.splice(i, 1);
  else if (op < 0.6) lines.splice(i, 0, lines[Math.floor(r() * lines.length)]!);
  else {
    const l = lines[i] ?? "";
    const j = Math.floor(r() * (l.length + 1));
    lines[i] = l.slice(0, j) + "  :[{#-'\"".charAt(Math.floor(r() * 10)) + l.slice(j + 1);
  }
  return lines.join("\n");
}

test(`${ITERATIONS} mutated cluster files never crash the validator`, () => {
  const seed = Number(process.env.KUBEHA_FUZZ_SEED ?? 20261122);
  const r = rng(seed);
  let invalid = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const base = examples[i % examples.length]!;
    const text = r() < 0.5 ? stringify(mutateObject(parse(base), r)) : mutateText(base, r);
    let result;
    try {
      result = parseCluster(text);
    } catch (err) {
      assert.fail(`seed ${seed} iteration ${i}: validator threw ${(err as Error).stack}\n--- file ---\n${text}`);
    }
    for (const p of result.problems) {
      assert.ok(p.rule, `problem without a rule: ${JSON.stringify(p)}`);
      assert.ok(p.message, `problem without a message: ${JSON.stringify(p)}`);
      if (p.rule === "yaml") assert.ok(p.line && p.line > 0, `syntax error without a position: ${JSON.stringify(p)}`);
      else if (p.severity === "error") assert.ok(p.path.length > 0 || p.rule === "schema", `error without a path: ${JSON.stringify(p)}\n${text}`);
    }
    if (!result.cluster) invalid++;
  }
  // The mutations must actually produce invalid files, or this test proves nothing.
  assert.ok(invalid > ITERATIONS / 4, `only ${invalid} of ${ITERATIONS} mutated files were invalid`);
});
