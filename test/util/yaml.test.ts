/**
 * toYaml's per-shape cache (src/util/yaml.ts) against the yaml package's YAML 1.1 stringify: byte
 * for byte, for strings YAML 1.1 reads as something else, strings that need quoting, and seeded
 * random strings, in map values, list items and nested lists, first from the shape and then from the cache.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { toYaml, toYamlStream } from "../../src/util/yaml.ts";
import { rng } from "../helpers/mutate.ts";

const OPTS = { version: "1.1", lineWidth: 0, aliasDuplicateObjects: false } as const;
const TRICKY = [
  "true", "no", "No", "y", "on", "OFF", "null", "~", "123", "1.30", "0o17", "0b101", "0x1F", "1e3", "12:30", "1_000", ".inf", "", " lead", "trail ",
  "a: b", "a:b", "- x", "-", "#x", "x #y", "@at", "`tick", "'q'", '"dq"', "{a}", "[a]", "*ref", "&anc", "!tag", "%p", "---", "...", "--- x",
  "10.0.0.1", "v1.33.4", "key=value:NoSchedule", "a,b", "?", ":", "é", "kubeha", "\t", "a\u0085b", "\u2028", "x".repeat(300), "a ".repeat(100),
];

function docsWith(s: string): unknown[] {
  return [
    { name: s, list: [s, { name: s, value: s }], n: 1, b: false, empty: [], none: {} },
    { kind: "JoinConfiguration", nodeRegistration: { name: "w1", kubeletExtraArgs: [{ name: "node-ip", value: s }], taints: [] } },
    { a: [s], nested: { deeper: [[s, s], [[s]]] }, u: undefined },
    [s, { k: s }],
  ];
}

function same(doc: unknown, what: string): void {
  const want = stringify(doc, OPTS);
  assert.equal(toYaml(doc), want, what);
  assert.equal(toYaml(doc), want, `${what} (from the cache)`);
}

test("toYaml is byte-identical to the yaml package's YAML 1.1 stringify", () => {
  for (const s of TRICKY) for (const doc of docsWith(s)) same(doc, JSON.stringify(s));
});

test("seeded random strings: byte-identical too", () => {
  const r = rng(Number(process.env.KUBEHA_FUZZ_SEED ?? 20261202));
  const chars = "ab01 .:-#,[]{}'\"!&*?|>@`%=~/\\\té\u00a0xyzTNnoe+_";
  for (let i = 0; i < 2000; i++) {
    const s = Array.from({ length: Math.floor(r() * 8) }, () => chars[Math.floor(r() * chars.length)]).join("");
    for (const doc of docsWith(s)) same(doc, JSON.stringify(s));
  }
});

test("documents with multi-line strings, slot-like text or no plain objects take the plain path", () => {
  for (const doc of [{ script: "line1\nline2\n" }, { s: "kubehaval0x" }, { kubehaitem1x: "k" }, { d: new Date(0) }, "top", 5, null, [[]]]) same(doc, JSON.stringify(doc));
  assert.equal(toYamlStream([{ a: "no" }, { b: 1 }]), `a: "no"\n---\nb: 1\n`);
});

test("names and IPv4 addresses, which skip stringify: byte-identical, YAML 1.1 words in every letter case included", () => {
  const cases = (w: string): string[] => (w.length === 0 ? [""] : cases(w.slice(1)).flatMap((rest) => [w[0]!.toLowerCase() + rest, w[0]!.toUpperCase() + rest]));
  const words = ["y", "yes", "n", "no", "true", "false", "on", "off", "null", "nULL", "inf", "nan", "e1", "E5", "e-5", "E-12", "e1x", "ex1", "x0", "b101", "o17"].flatMap(cases);
  const alphabet = "aAyYnNoOeEfF0159._/-:";
  const short = [...alphabet].flatMap((a) => [a, ...[...alphabet].map((b) => a + b)]);
  const quads = ["0.0.0.0", "1.2.3.4", "198.18.0.5", "255.255.255.255", "999.999.999.999", "010.001.000.01", "00.0.0.0", "1.2.3", "1.2.3.4.5", "1.2.3.4/24", "1_0.1.1.1"];
  const r = rng(Number(process.env.KUBEHA_FUZZ_SEED ?? 20261202));
  const pick = (s: string, n: number) => Array.from({ length: n }, () => s[Math.floor(r() * s.length)]).join("");
  const random = Array.from({ length: 300 }, (_, i) =>
    i % 2 ? `${pick("abcxyzNOY", 1)}${pick("abyn019._/-", Math.floor(r() * 10))}` : Array.from({ length: 4 }, () => String(Math.floor(r() * 1000))).join("."),
  );
  for (const s of [...words, ...short, ...quads, ...random]) for (const doc of [{ k: s }, [s], { l: [s] }]) same(doc, JSON.stringify(s));
});
