/** CLI conventions (issue 15): help, version, completion, `--`, -o vocabulary, stdout/stderr, exit codes, colour. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kubeha, REPO } from "../helpers/cli.ts";
import { colorDrill, colorEnabled, colorStatus } from "../../src/report/color.ts";
import { statusExitCode } from "../../src/cli/status.ts";
import { flagsOf } from "../../src/cli/completion.ts";

const EXAMPLE = "examples/seed-002-colocated-16443.yaml";
const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string };

test("bare kubeha prints the help and exits 0 (like kubectl); help CMD shows that command's help", () => {
  const bare = kubeha([]);
  assert.equal(bare.code, 0);
  assert.match(bare.stdout, /^Usage: kubeha <command>/m);
  assert.equal(bare.stderr, "");
  const h = kubeha(["help", "validate"]);
  assert.equal(h.code, 0);
  assert.equal(h.stdout, kubeha(["validate", "--help"]).stdout);
  assert.match(h.stdout, /^Usage: kubeha validate FILE/);
  const bad = kubeha(["help", "frobnicate"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown command "frobnicate"/);
});

test("version: kubeha version, --version and -o json all say package.json's version", () => {
  assert.equal(kubeha(["--version"]).stdout, `kubeha ${pkg.version}\n`);
  assert.equal(kubeha(["version"]).stdout, `kubeha ${pkg.version}\n`);
  const j = kubeha(["version", "-o", "json"]);
  assert.equal(j.code, 0, j.stderr);
  const v = JSON.parse(j.stdout) as { kubeha: string; node: string };
  assert.equal(v.kubeha, pkg.version);
  assert.equal(v.node, process.versions.node);
  assert.equal(kubeha(["version", "-o", "wide"]).code, 2);
});

test("completion bash: valid bash that completes subcommands, certs subcommands and flags", () => {
  const r = kubeha(["completion", "bash"]);
  assert.equal(r.code, 0, r.stderr);
  const dir = mkdtempSync(join(tmpdir(), "kubeha-completion-"));
  try {
    const script = join(dir, "kubeha.bash");
    writeFileSync(script, r.stdout);
    assert.equal(spawnSync("bash", ["-n", script]).status, 0, "bash -n");
    const complete = (words: string[]) => {
      const w = words.map((x) => `'${x}'`).join(" ");
      const b = spawnSync("bash", ["-c", `source '${script}'; COMP_WORDS=(${w}); COMP_CWORD=${words.length - 1}; _kubeha; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: "utf8" });
      assert.equal(b.status, 0, b.stderr);
      return b.stdout.split("\n").filter(Boolean);
    };
    assert.deepEqual(complete(["kubeha", "va"]), ["validate"]);
    assert.deepEqual(complete(["kubeha", "c"]).sort(), ["certs", "completion"]);
    assert.deepEqual(complete(["kubeha", "certs", "r"]).sort(), ["renew", "rotate-join"]);
    assert.deepEqual(complete(["kubeha", "validate", "--st"]), ["--strict"]);
    assert.ok(complete(["kubeha", "apply", "--"]).includes("--skip-phases"));
    assert.ok(complete(["kubeha", "status", "-"]).includes("-o"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const shell of ["zsh", "fish"]) {
    const s = kubeha(["completion", shell]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /validate/);
  }
  assert.equal(kubeha(["completion", "tcsh"]).code, 2);
  assert.deepEqual(flagsOf("Flags:\n  -o, --output FORMAT  x\n      --force   y\n"), ["-o", "--output", "--force", "--help"]);
});

test("`--` ends kubeha's flags: what follows is not read as --help", () => {
  // lab exec would run `ls -h` in the machine; without a lab it must fail on the lab, not print help.
  const r = kubeha(["lab", "exec", "m1", "--name", "nolab15", "--", "ls", "-h"]);
  assert.doesNotMatch(r.stdout, /Usage:/);
  assert.match(r.stderr, /nolab15/);
  assert.notEqual(r.code, 0);
  const v = kubeha(["validate", "--", "--help"]);
  assert.notEqual(v.code, 0);
  assert.match(v.stderr, /cannot read cluster file --help/, "after --, --help is a file name");
});

test("-o: one vocabulary; a value a command does not take is a usage error naming the choices", () => {
  const v = kubeha(["validate", EXAMPLE, "-o", "json"]);
  assert.equal(v.code, 0, v.stderr);
  const d = JSON.parse(v.stdout) as { valid: boolean; summary: string; problems: unknown[] };
  assert.equal(d.valid, true);
  assert.match(d.summary, /control-plane/);
  const y = kubeha(["validate", EXAMPLE, "--output", "yaml"]);
  assert.match(y.stdout, /^valid: true$/m);
  for (const [args, choices] of [
    [["validate", EXAMPLE, "-o", "wide"], /table, json, yaml/],
    [["status", EXAMPLE, "-o", "text"], /table, json, yaml/],
    [["plan", EXAMPLE, "-o", "table"], /auto, tty, plain, json/],
    [["certs", "list", EXAMPLE, "-o", "xml"], /table, json, yaml/],
  ] as const) {
    const r = kubeha([...args]);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, choices);
  }
});

test("validate -o json of an invalid file: the problems as data on stdout, exit 3", () => {
  const dir = mkdtempSync(join(tmpdir(), "kubeha-validate-json-"));
  try {
    const f = join(dir, "bad.yaml");
    writeFileSync(f, readFileSync(join(REPO, EXAMPLE), "utf8").replace("name: server7-master", "name: Server7"));
    const r = kubeha(["validate", f, "-o", "json"]);
    assert.equal(r.code, 3);
    const d = JSON.parse(r.stdout) as { valid: boolean; problems: Array<{ path: string; line: number }> };
    assert.equal(d.valid, false);
    assert.ok(d.problems.some((p) => p.path.startsWith("spec.hosts[0]") && p.line > 0), r.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("validate --strict prints each warning once, as an error, and exits 3", () => {
  const plain = kubeha(["validate", "examples/seed-000-single-proxy.yaml"]);
  assert.equal(plain.code, 0);
  const warning = plain.stderr.split("\n").find((l) => /single point of failure/.test(l));
  assert.ok(warning, plain.stderr);
  const strict = kubeha(["validate", "--strict", "examples/seed-000-single-proxy.yaml"]);
  assert.equal(strict.code, 3);
  assert.equal(strict.stderr.match(/single point of failure/g)?.length, 1, strict.stderr);
});

test("validate --help names an example that exists; schema refuses flags; certs names an unknown subcommand", () => {
  const help = kubeha(["validate", "--help"]).stdout;
  for (const m of help.matchAll(/examples\/[\w.-]+\.yaml/g)) assert.ok(readFileSync(join(REPO, m[0])), m[0]);
  assert.equal(kubeha(["schema", "--bogus"]).code, 2);
  const c = kubeha(["certs", "lsit", EXAMPLE]);
  assert.equal(c.code, 2);
  assert.match(c.stderr, /unknown subcommand "lsit"; the subcommands are list, check, generate, rotate-join, renew/);
});

test("status exit codes: 0 healthy, 1 degraded, 4 could not check", () => {
  const base = { healthy: true, problems: [], unchecked: [] } as unknown as Parameters<typeof statusExitCode>[0];
  assert.equal(statusExitCode(base), 0);
  assert.equal(statusExitCode({ ...base, healthy: false, problems: ["x"] }), 1);
  assert.equal(statusExitCode({ ...base, healthy: false, problems: ["m1: unreachable"], unchecked: ["m1"] }), 4);
});

test("status with a missing SSH key could not check: exit 4, JSON on stdout names the hosts", () => {
  const dir = mkdtempSync(join(tmpdir(), "kubeha-status-4-"));
  try {
    const f = join(dir, "c.yaml");
    writeFileSync(f, readFileSync(join(REPO, "examples/seed-000-single-proxy.yaml"), "utf8").replace("keyPath: ~/.ssh/id_ed25519", `keyPath: ${join(dir, "no-such-key")}`));
    const r = kubeha(["status", f, "-o", "json"], { cwd: dir, timeoutMs: 60_000 });
    assert.equal(r.code, 4, r.stderr);
    const rep = JSON.parse(r.stdout) as { unchecked: string[]; healthy: boolean };
    assert.equal(rep.healthy, false);
    assert.ok(rep.unchecked.includes("master01"), r.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("colour: only on a terminal, never with NO_COLOR; the words keep their columns", () => {
  assert.equal(colorEnabled({ isTTY: true }, {}), true);
  assert.equal(colorEnabled({ isTTY: true }, { NO_COLOR: "1" }), false);
  assert.equal(colorEnabled({ isTTY: false }, {}), false);
  assert.equal(colorEnabled({ isTTY: true }, { TERM: "dumb" }), false);
  const text = "cluster c: DEGRADED (1 problem)\n\nHOST  REACHABLE  SERVICES\nm1    NO         kubelet=unknown\nm2    yes        kubelet=active\n\nproblem: m1: unreachable";
  const c = colorStatus(text);
  assert.equal(c.replace(/\x1b\[\d+m/g, ""), text);
  assert.match(c, /\x1b\[31mDEGRADED/);
  assert.match(c, /=\x1b\[32mactive/);
  assert.match(c, / \x1b\[31mNO\x1b\[0m /);
  assert.match(colorDrill("lb-haproxy-dies  kubeha  ok\netcd-quorum-loss  kubeha  FAIL"), /\x1b\[31m FAIL/);
});

test("plan -o json: the events on stdout (nothing else there), the error on stderr", () => {
  const dir = mkdtempSync(join(tmpdir(), "kubeha-plan-json-"));
  try {
    const f = join(dir, "c.yaml");
    writeFileSync(f, readFileSync(join(REPO, "examples/seed-000-single-proxy.yaml"), "utf8").replace("keyPath: ~/.ssh/id_ed25519", `keyPath: ${join(dir, "no-such-key")}`));
    const r = kubeha(["plan", f, "-o", "json"], { cwd: dir, timeoutMs: 120_000 });
    assert.equal(r.code, 1, r.stderr);
    const events = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as { type: string; ok?: boolean });
    assert.equal(events[0]?.type, "run-start");
    assert.equal(events.at(-1)?.type, "run-done");
    assert.equal(events.at(-1)?.ok, false);
    assert.match(r.stderr, /^kubeha: error: .*\n[\s\S]*cannot read SSH key/m);
    assert.doesNotMatch(r.stderr, /"type":/, "no event on stderr");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
