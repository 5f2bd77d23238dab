/**
 * The fast YAML reader (src/spec/yaml-fast.ts) against the yaml package's reader (readYaml): wherever
 * the fast one answers, both give the same data, and the full reader finds no problem in that text.
 * Seeded mutations of the examples and of the hostile files give the edge cases; the examples and
 * generated big files must take the fast path, or validate is slow again.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import { readPlainYaml, resolvePlain } from "../../src/spec/yaml-fast.ts";
import { readYaml } from "../../src/spec/yaml.ts";
import { parseCluster } from "../../src/spec/read.ts";
import { HOSTILE, bigCluster } from "../helpers/hostile.ts";
import { mutateText, mutateYaml, pick, rng } from "../helpers/mutate.ts";

const examples = readdirSync("examples")
  .filter((f) => f.endsWith(".yaml"))
  .map((f) => ({ name: f, text: readFileSync(`examples/${f}`, "utf8") }));

/** Fails when the fast reader answers something the yaml package reads otherwise. */
function agree(text: string, what: string): boolean {
  const fast = readPlainYaml(text);
  if (fast === undefined) return false;
  const full = readYaml(text);
  assert.deepEqual(full.problems.map((p) => p.message), [], `${what}: the fast reader accepted a file the yaml package refuses\n--- file ---\n${text.slice(0, 3000)}`);
  assert.ok(isDeepStrictEqual(fast, full.data), `${what}: the readers disagree\nfast ${JSON.stringify(fast)?.slice(0, 1000)}\nfull ${JSON.stringify(full.data)?.slice(0, 1000)}\n--- file ---\n${text.slice(0, 3000)}`);
  return true;
}

test("the examples and a generated 1,000-host file take the fast path, with the same data", () => {
  for (const e of examples) assert.ok(agree(e.text, e.name), `${e.name} was not read by the fast reader`);
  assert.ok(agree(bigCluster(1000, false), "1000 hosts"));
});

test("what the fast reader leaves to the yaml package", () => {
  const base = examples[0]!.text;
  const declined = {
    anchor: "a: &x 1\nb: *x\n",
    tag: "a: !!str 1\n",
    merge: "a: { <<: { b: 1 } }\n",
    "block scalar": "a: |\n  text\n",
    "multi-line plain": "a: one\n  two\n",
    "multi-line flow": "a: [1,\n  2]\n",
    "duplicate key": "a: 1\na: 2\n",
    "number key": "1: a\n",
    "null key": "~: a\n",
    tab: "a:\t1\n",
    CRLF: "a: 1\r\n",
    "document marker": "---\na: 1\n",
    "YAML-only escape": 'a: "\\x41"\n',
    "root list": "- 1\n",
    "root scalar": "hello\n",
    empty: "",
    "nested map in a value": "a: b: c\n",
    "flow key without value": "a: {b}\n",
  };
  for (const [what, text] of Object.entries(declined)) assert.equal(readPlainYaml(text), undefined, what);
  assert.ok(readPlainYaml(base));
});

test("plain scalars resolve as YAML 1.2 core (yaml package) scalars", () => {
  const cases: Array<[string, unknown]> = [
    ["~", null], ["null", null], ["NULL", null], ["Null", null], ["true", true], ["False", false], ["yes", "yes"], ["no", "no"], ["on", "on"],
    ["0o17", 15], ["017", 17], ["0x1F", 31], ["+5", 5], ["-0", -0], ["1_000", "1_000"], ["1e3", 1000], ["1.50", 1.5], [".5", 0.5], ["1.", 1],
    ["-.inf", Number.NEGATIVE_INFINITY], [".NaN", NaN], ["12:30", "12:30"], ["0b101", "0b101"], ["1.34.2", "1.34.2"], ["198.18.0.1", "198.18.0.1"],
  ];
  for (const [s, want] of cases) {
    assert.deepEqual(resolvePlain(s), want, s);
    assert.ok(agree(`a: ${s}\nb: [${s}]\n`, s));
  }
});

test("seeded mutations: wherever the fast reader answers, the yaml package agrees", () => {
  const seed = Number(process.env.KUBEHA_FUZZ_SEED ?? 20261202);
  const r = rng(seed);
  const pieces = [" ", ":", ": ", " #", "#", "- ", "'", '"', "''", "[", "]", "{", "}", ",", ", ", "\n", "\n  ", "\n- ", "\\", "\\n", "\\u00e9", "?", "-", "é", "\u00a0", "0x1F", "1e3", "~", "True", "<<"];
  const sources = [...examples.map((e) => e.text), ...HOSTILE.filter((h) => h.text.length < 20_000).map((h) => h.text)];
  let fast = 0;
  const N = 3000;
  for (let i = 0; i < N; i++) {
    let text = pick(r, sources);
    const op = r();
    if (op < 0.3) text = mutateText(text, r);
    else if (op < 0.4) text = mutateYaml(text, r);
    else
      for (let k = 0; k < 1 + Math.floor(r() * 3); k++) {
        const at = Math.floor(r() * text.length);
        const piece = pick(r, pieces);
        text = r() < 0.6 ? text.slice(0, at) + piece + text.slice(at) : text.slice(0, at) + text.slice(at + 1 + Math.floor(r() * 3));
      }
    if (agree(text, `seed ${seed} iteration ${i}`)) fast++;
  }
  // Both readers must have had work: mutations the fast reader reads, and mutations it declines.
  assert.ok(fast > N / 10 && fast < N, `the fast reader answered ${fast} of ${N}`);
});

test("problems found after the fast read still carry their line", () => {
  const text = examples[0]!.text.replace(/^kind: Cluster$/m, "kind: Cluster\nbogus: 1");
  const r = parseCluster(text);
  const p = r.problems.find((x) => x.path === "bogus");
  assert.ok(p, JSON.stringify(r.problems));
  assert.equal(p.line, text.split("\n").indexOf("bogus: 1") + 1);
});
