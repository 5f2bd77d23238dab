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
import { mutateObject, mutateText, rng } from "../helpers/mutate.ts";

const examples = readdirSync("examples").filter((f) => f.endsWith(".yaml")).map((f) => readFileSync(`examples/${f}`, "utf8"));
const ITERATIONS = Number(process.env.KUBEHA_FUZZ_ITERATIONS ?? 3000);

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
