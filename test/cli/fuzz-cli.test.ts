/**
 * Fuzz harness over the CLI (issue 15): random and structured mutations of the examples plus every
 * hostile input, through `validate`, `render -o TMP`, `certs list` and `init`, in this process
 * (fast) and a few as real child processes. Whatever the input: the exit code is one of the table's
 * 0-4 and no stack trace reaches stdout or stderr.
 *
 * Seeded: KUBEHA_FUZZ_SEED=N reproduces a run (a failure prints its seed, iteration, command and
 * file); KUBEHA_FUZZ_CLI_ITERATIONS sets the number of mutated files (default 150, 20-40 s).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { REPO, kubeha, kubehaInProcess, type CliResult } from "../helpers/cli.ts";
import { HOSTILE } from "../helpers/hostile.ts";
import { mutateObject, mutateText, mutateYaml, pick, rng } from "../helpers/mutate.ts";

// A fixed default keeps the suite deterministic; set KUBEHA_FUZZ_SEED to explore other runs.
const SEED = Number(process.env.KUBEHA_FUZZ_SEED ?? 20261201);
const ITERATIONS = Number(process.env.KUBEHA_FUZZ_CLI_ITERATIONS ?? 150);
const ALLOWED = new Set([0, 1, 2, 3, 4]);
/** A V8 stack frame, kubeha's bug banner, or Node's own crash output. */
const TRACE = /\n\s+at \S.*[(:]\d+|internal error|Maximum call stack|node:internal|Error: [A-Z_]+\b.*\n\s+at /;

const examples = readdirSync(join(REPO, "examples")).filter((f) => f.endsWith(".yaml")).map((f) => readFileSync(join(REPO, "examples", f), "utf8"));
const dir = mkdtempSync(join(tmpdir(), "kubeha-fuzz-cli-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function check(r: CliResult, what: string, text: string): void {
  const out = r.stdout + "\n" + r.stderr;
  const ctx = () => `KUBEHA_FUZZ_SEED=${SEED} ${what}\n--- output ---\n${out.slice(0, 3000)}\n--- file (first 2000 chars) ---\n${text.slice(0, 2000)}`;
  assert.ok(ALLOWED.has(r.code), `exit ${r.code}: ${ctx()}`);
  assert.doesNotMatch(out, TRACE, ctx());
}

function mutate(base: string, r: () => number): string {
  const op = r();
  if (op < 0.35) return stringify(mutateObject(parse(base), r, true));
  if (op < 0.6) return mutateText(base, r);
  if (op < 0.9) return mutateYaml(base, r);
  return mutateYaml(mutateText(base, r), r);
}

/** Odd arguments around a file, for the flag parsers. */
const ARGS: string[][] = [[], ["--strict"], ["--", "x"], ["-o"], ["--output="], ["--host", ""], ["--bogus"], ["a\u0000b"], ["-"], ["--help=1"]];

test(`${ITERATIONS} mutated files through validate, render and certs list: exit 0-4, never a trace (seed ${SEED})`, async () => {
  const r = rng(SEED);
  const work = join(dir, "mutated");
  mkdirSync(work);
  const file = join(work, "cluster.yaml"); // one folder: the state directory beside it is reused
  const codes = new Map<number, number>();
  let rendered = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const text = mutate(pick(r, examples), r);
    writeFileSync(file, text);
    const what = (cmd: string[]) => `iteration ${i}: kubeha ${cmd.join(" ")}`;
    const v = await kubehaInProcess(["validate", file]);
    check(v, what(["validate", file]), text);
    codes.set(v.code, (codes.get(v.code) ?? 0) + 1);
    // Rendering is the expensive path (certificates): the valid files and a sample of the rest.
    if (v.code === 0 ? rendered < 25 : r() < 0.05) {
      if (v.code === 0) rendered++;
      const out = join(dir, `out-${i}`);
      const cmd = ["render", file, "-o", out];
      check(await kubehaInProcess(cmd), what(cmd), text);
      rmSync(out, { recursive: true, force: true });
    }
    if (r() < 0.05) {
      const cmd = ["certs", "list", file];
      check(await kubehaInProcess(cmd), what(cmd), text);
    }
    if (r() < 0.05) {
      const cmd = [pick(r, ["validate", "render", "certs", "init", "schema"]), ...pick(r, ARGS), file, ...pick(r, ARGS)];
      check(await kubehaInProcess(cmd), what(cmd), text);
    }
  }
  // The mutations must reach both sides, or this proves little.
  assert.ok((codes.get(3) ?? 0) > ITERATIONS / 4, `too few invalid files: ${JSON.stringify([...codes])}`);
  assert.ok((codes.get(0) ?? 0) > 0, `no valid file at all: ${JSON.stringify([...codes])}`);
});

test("every hostile input through validate, render and certs list: exit 0-4, never a trace", async () => {
  for (const [i, h] of HOSTILE.entries()) {
    const d = join(dir, `hostile-${i}`);
    mkdirSync(d);
    const file = join(d, "cluster.yaml");
    writeFileSync(file, h.text);
    const big = h.text.length > 50_000 && h.code === 0; // 1,000 hosts: rendering is a benchmark, not a fuzz case
    for (const cmd of [["validate", file], ...(big ? [] : [["render", file, "-o", join(d, "out")]]), ["certs", "list", file]]) {
      check(await kubehaInProcess(cmd), `hostile "${h.name}": kubeha ${cmd.join(" ")}`, h.text);
    }
  }
});

test("hostile command lines: exit 0-4, never a trace", async () => {
  const ok = join(dir, "cmdline", "cluster.yaml"); // its state directory lands in the temp folder
  mkdirSync(join(dir, "cmdline"));
  writeFileSync(ok, examples[0]!);
  const lines = [
    [], ["--bogus"], ["validate"], ["validate", "a\u0000b"], ["validate", "/dev/null"], ["validate", "/proc/self/mem"], ["validate", "/"],
    ["render", ok, "-o", "a\u0000b"], ["render", ok, "-o", "/proc/nope/x"], ["render", ok, "-o", "/dev/null"], ["render", ok, "-o", "/sys"],
    ["render", ok, "-o", "x".repeat(5000)], ["render", ok, "-o", join(dir, "x".repeat(300), "y")], ["init", "--masters", "1e9"], ["init", "--subnet", "1.2.3.4.5"],
    ["init", "--name", "\u0000"], ["certs"], ["certs", "bogus"], ["certs", "list"], ["schema", "--bogus"], ["validate", "--strict", ok, ok],
  ];
  for (const cmd of lines) check(await kubehaInProcess(cmd), `kubeha ${JSON.stringify(cmd)}`, "");
});

test("as real child processes: an alias bomb, a 10k-deep file, an undefined alias, render -o /proc", () => {
  const pickOut = (name: string) => HOSTILE.find((h) => h.name === name)!;
  for (const name of ["billion laughs", "10k-deep flow nesting", "undefined alias"]) {
    const h = pickOut(name);
    const file = join(dir, `child-${name.replace(/\W/g, "-")}.yaml`);
    writeFileSync(file, h.text);
    const r = kubeha(["validate", file], { timeoutMs: 60_000 });
    check(r, `child: kubeha validate (${name})`, h.text);
    assert.equal(r.code, 3);
    assert.match(r.stderr, h.says);
  }
  writeFileSync(join(dir, "child.yaml"), examples[0]!);
  const r = kubeha(["render", join(dir, "child.yaml"), "-o", "/proc/nope/x"], { timeoutMs: 60_000 });
  check(r, "child: kubeha render -o /proc/nope/x", "");
  assert.equal(r.code, 1);
});
