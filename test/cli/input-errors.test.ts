/**
 * Error paths that are not bugs (issue 15): each gives a clear message and its exit code from the
 * one table, never "internal error" or a trace. Output directories: symlinks resolved, kernel file
 * systems refused; the state directory never lands beside a non-regular file; plan writes nothing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { BIN, REPO, kubehaInProcess, type CliResult } from "../helpers/cli.ts";
import { EXIT } from "../../src/errors.ts";
import { RENDER_NOTE } from "../../src/render/paths.ts";

const dir = mkdtempSync(join(tmpdir(), "kubeha-input-errors-"));
chmodSync(dir, 0o755);
test.after(() => rmSync(dir, { recursive: true, force: true }));
const EXAMPLE = join(REPO, "examples", "seed-002-colocated-16443.yaml");

function clean(r: CliResult): void {
  assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at |internal error|Maximum call stack/, r.stderr);
}

/** A cluster file in its own folder, its state directory beside it (the default). */
function clusterFile(name: string, extra = ""): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, "cluster.yaml"), readFileSync(EXAMPLE, "utf8") + extra);
  return join(d, "cluster.yaml");
}

test("the exit code table", () => {
  assert.deepEqual(EXIT, { ok: 0, failed: 1, usage: 2, invalid: 3, unreachable: 4, bug: 70 });
  const readme = readFileSync(join(REPO, "README.md"), "utf8");
  for (const [code, words] of [[0, "ok"], [1, "failed"], [2, "usage"], [3, "invalid"], [4, "could not check"], [70, "bug"]] as const)
    assert.match(readme, new RegExp(`\\| ${code} \\| [^|]*${words}`, "i"), `README exit code table lacks ${code}`);
});

test("render -o under /proc, /sys or /dev is refused at once", async () => {
  const file = clusterFile("special");
  for (const out of ["/proc/nope/x", "/sys/kubeha-out", "/dev/kubeha-out"]) {
    const t = Date.now();
    const r = await kubehaInProcess(["render", file, "-o", out]);
    clean(r);
    assert.equal(r.code, EXIT.failed, r.stderr);
    assert.match(r.stderr, /output directory .*: .*is under \/(proc|sys|dev), a kernel file system/);
    assert.match(r.stderr, /hint: choose another directory with --dir/);
    assert.ok(Date.now() - t < 10_000, "returns promptly");
  }
  assert.equal(existsSync("/dev/kubeha-out"), false);
});

test("render -o through a symlink: dangling and looping links are named; a good link is followed", async () => {
  const file = clusterFile("links");
  symlinkSync(join(dir, "nowhere"), join(dir, "dangling"));
  let r = await kubehaInProcess(["render", file, "-o", join(dir, "dangling")]);
  clean(r);
  assert.equal(r.code, EXIT.failed);
  assert.match(r.stderr, /dangling is a symbolic link to .*nowhere, which does not exist/);
  r = await kubehaInProcess(["render", file, "-o", join(dir, "dangling", "sub")]);
  assert.equal(r.code, EXIT.failed);
  assert.match(r.stderr, /symbolic link to .*nowhere, which does not exist/);
  symlinkSync(join(dir, "loop"), join(dir, "loop"));
  r = await kubehaInProcess(["render", file, "-o", join(dir, "loop")]);
  clean(r);
  assert.equal(r.code, EXIT.failed);
  assert.match(r.stderr, /symbolic link loop/);
  symlinkSync("/proc/self", join(dir, "to-proc"));
  r = await kubehaInProcess(["render", file, "-o", join(dir, "to-proc", "x")]);
  assert.equal(r.code, EXIT.failed);
  assert.match(r.stderr, /resolves to \/proc\/\d+\/x, which is under \/proc/);
  writeFileSync(join(dir, "a-file"), "x");
  r = await kubehaInProcess(["render", file, "-o", join(dir, "a-file", "out")]);
  assert.equal(r.code, EXIT.failed);
  assert.match(r.stderr, /a part of the path is a file, not a directory/);
  mkdirSync(join(dir, "real"));
  symlinkSync(join(dir, "real"), join(dir, "good"));
  r = await kubehaInProcess(["render", file, "-o", join(dir, "good", "out")]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(join(dir, "real", "out", "server7-master", "install.sh")));
});

test("render's folder is 0700 and says it holds keys like the state directory", async () => {
  const file = clusterFile("note");
  const out = join(dir, "note-out");
  const r = await kubehaInProcess(["render", file, "-o", out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(statSync(out).mode & 0o777, 0o700);
  const note = readFileSync(join(out, RENDER_NOTE), "utf8");
  assert.match(note, /private keys \(CA keys among them\)/);
  assert.match(note, new RegExp(`as sensitive as the state directory ${join(dir, "note", ".kubeha", "seed-002")}`));
  assert.equal(statSync(join(out, RENDER_NOTE)).mode & 0o777, 0o600);
});

/** `kubeha ARGS < FILE`-style run where stdin is a pipe (spawnSync's own stdin is a socket, which /dev/stdin cannot open). */
function piped(input: string, args: string[]): CliResult {
  writeFileSync(join(dir, "stdin.yaml"), input);
  const r = spawnSync("bash", ["-c", 'cat "$1" | exec "$2" "$3" "${@:4}"', "_", join(dir, "stdin.yaml"), process.execPath, BIN, ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test("render /dev/stdin does not put CA keys in /dev: the state directory must be set", () => {
  const before = existsSync("/dev/.kubeha");
  const r = piped(readFileSync(EXAMPLE, "utf8"), ["render", "/dev/stdin", "-o", join(dir, "stdin-out")]);
  clean(r);
  assert.equal(r.code, EXIT.failed, r.stderr);
  assert.match(r.stderr, /state directory \/dev\/\.kubeha\/seed-002: it is under \/dev, a kernel file system/);
  assert.match(r.stderr, /hint: set spec\.pki\.stateDir/);
  assert.equal(existsSync("/dev/.kubeha"), before);
  const withDir = piped(readFileSync(EXAMPLE, "utf8") + `  pki:\n    stateDir: ${join(dir, "stdin-state")}\n`, ["render", "/dev/stdin", "-o", join(dir, "stdin-out2")]);
  assert.equal(withDir.code, 0, withDir.stderr);
  assert.ok(existsSync(join(dir, "stdin-state", "pki", "ca.key")));
});

test("an unwritable state directory names the path and what to do (exit 1, no trace)", () => {
  const file = clusterFile("unwritable");
  chmodSync(join(dir, "unwritable"), 0o755); // the state dir would be created in here, owned by root
  const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, BIN, "render", file, "-o", "/tmp/kubeha-nobody-out-" + process.pid], {
    encoding: "utf8",
    env: { ...process.env, HOME: "/nonexistent", NO_COLOR: "1" },
  });
  rmSync("/tmp/kubeha-nobody-out-" + process.pid, { recursive: true, force: true });
  assert.equal(r.status, EXIT.failed, r.stderr);
  assert.match(r.stderr, /state directory .*unwritable\/\.kubeha\/seed-002: cannot mkdir .*permission denied \(EACCES\)/);
  assert.match(r.stderr, /hint: set spec\.pki\.stateDir to a directory on a local disk that you may write/);
  assert.doesNotMatch(r.stderr, /\n\s+at |internal error/);
});

test("a cluster file kubeha cannot read is 'could not check' (exit 4)", async () => {
  const r = await kubehaInProcess(["validate", join(dir, "missing.yaml")]);
  assert.equal(r.code, EXIT.unreachable);
  assert.match(r.stderr, /cannot read cluster file .*ENOENT/);
  const d = await kubehaInProcess(["validate", dir]);
  assert.equal(d.code, EXIT.unreachable);
  assert.match(d.stderr, /EISDIR/);
});

test("plan changes nothing: no state directory, no CAs; it says apply will create them", async () => {
  const file = clusterFile("plan");
  const state = join(dir, "plan", ".kubeha");
  const r = await kubehaInProcess(["plan", file, "--output", "plain"]);
  clean(r);
  assert.equal(existsSync(state), false, "plan created the state directory");
  assert.match(r.stderr, /note: the state directory .*plan\/\.kubeha\/seed-002 does not exist; this dry run used throw-away certificates and created nothing\. apply will create it/);
  assert.equal(r.code, EXIT.failed, r.stderr); // no host is reachable from here: connect fails, after the note
});

