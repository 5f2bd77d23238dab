/** LocalTransport and the host lock's release paths (finally, SIGINT, SIGTERM, all-or-nothing). */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StepError } from "../../src/errors.ts";
import { restartUnits, syncFiles } from "../../src/exec/files.ts";
import { withHostLocks } from "../../src/exec/lock.ts";
import { LocalTransport, shq, uploadScript } from "../../src/exec/transport.ts";
import type { Host } from "../../src/spec/model.ts";

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), "kubeha-local-"));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

const hostNamed = (name: string) => ({ name }) as Host;

test("LocalTransport: run, mustRun, stdin, timeouts and round trips", async () => {
  const t = new LocalTransport("op", "root");
  assert.deepEqual(await t.run("printf a; printf b >&2; exit 2"), { code: 2, stdout: "a", stderr: "b" });
  assert.equal((await t.run("tr a-z A-Z", { stdin: "abc" })).stdout, "ABC");
  await assert.rejects(t.mustRun("echo no >&2; exit 5"), (e: unknown) => e instanceof StepError && e.detail.exitCode === 5 && e.detail.stderrTail === "no");
  await assert.rejects(t.run("sleep 5", { timeoutMs: 100 }), /timed out/);
  assert.equal(t.roundTrips, 4);
  // Root needs no sudo; others get `sudo -n`.
  assert.equal(t.wrap("id -u", true), "id -u");
  assert.equal(new LocalTransport("x", "alice").wrap("echo 'hi'", true), `sudo -n -- sh -c 'echo '\\''hi'\\'''`);
});

test("LocalTransport streaming: onStdout sees output before exit; abort ends the command", async () => {
  const t = new LocalTransport("op", "root");
  const ac = new AbortController();
  const seen: string[] = [];
  const t0 = Date.now();
  const r = await t.run("echo up; exec sleep 30", { signal: ac.signal, onStdout: (c) => (seen.push(c), ac.abort()) });
  assert.deepEqual(seen, ["up\n"]);
  assert.equal(r.stdout, "up\n");
  assert.notEqual(r.code, 0);
  // Ended by the abort, not waited for: far below the command's 30 s at any load.
  assert.ok(Date.now() - t0 < 20_000);
});

test("shq and uploadScript survive quotes, spaces and binary content", async () => {
  const t = new LocalTransport("op", "root");
  const odd = `it's "odd" $HOME \`x\``;
  assert.equal((await t.run(`printf %s ${shq(odd)}`)).stdout, odd);
  const path = join(work, "dir with space", "f'q.bin");
  const content = Buffer.from(Array.from({ length: 300 }, (_, i) => i % 256));
  await t.put(path, content, 0o640);
  assert.deepEqual(await readFile(path), content);
  assert.equal((await stat(path)).mode & 0o777, 0o640);
  assert.throws(() => uploadScript([{ path: "relative/x", content: "", mode: 0o644 }]), /absolute path/);
  // Files whose content contains the heredoc terminator of another file still round-trip.
  const tricky = [{ path: join(work, "a"), content: "KUBEHA_EOF_1\nx\n", mode: 0o644 }, { path: join(work, "b"), content: "y", mode: 0o644 }];
  await t.putMany(tricky);
  assert.equal(await readFile(join(work, "a"), "utf8"), "KUBEHA_EOF_1\nx\n");
  assert.equal(await readFile(join(work, "b"), "utf8"), "y");
});

test("hashes: missing vs unreadable vs present, in one round trip", async () => {
  const t = new LocalTransport("op", "root");
  const present = join(work, "present");
  await t.put(present, "x", 0o644);
  const before = t.roundTrips;
  const h = await t.hashes([present, join(work, "nope"), join(work, "nodir", "nope")]);
  assert.equal(t.roundTrips - before, 1);
  assert.deepEqual([...h.values()], ["2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881", undefined, undefined]);
  // A directory where a file should be is an error, not "missing" (mv would move the file into it).
  await assert.rejects(t.hashes([work]), /cannot read/);
});

test("syncFiles in a dry run: gates record, nothing is written, one round trip", async () => {
  const t = new LocalTransport("op", "root");
  const path = join(work, "dry", "x.conf");
  const seen: string[] = [];
  const r = await syncFiles(t, [{ path, content: "v1\n", mode: 0o644, restarts: ["x"] }], async (d) => void seen.push(d));
  assert.deepEqual(seen, [`write ${path} (3 bytes, mode 0644)`]);
  assert.deepEqual(r.units, ["x"]);
  await assert.rejects(stat(path), { code: "ENOENT" });
  assert.equal(t.roundTrips, 1);
});

test("withHostLocks: released after the work, and all-or-nothing when a host is already locked", async () => {
  const path = join(work, "lock-a");
  const t = new LocalTransport("op", "root");
  const seen = await withHostLocks([hostNamed("h1")], async () => t, async (locks) => {
    await stat(path);
    return locks.map((l) => l.host);
  }, { path });
  assert.deepEqual(seen, ["op"]);
  await assert.rejects(stat(path), { code: "ENOENT" });
  // Two "hosts" that are the same machine: the second finds the first one's lock.
  let ran = false;
  await assert.rejects(
    withHostLocks([hostNamed("h1"), hostNamed("h2")], async (h) => new LocalTransport(h.name, "root"), async () => void (ran = true), { path, concurrency: 1 }),
    /h2 is locked by /,
  );
  assert.equal(ran, false);
  await assert.rejects(stat(path), { code: "ENOENT" }, "h1's lock must be released when h2 fails");
});

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  test(`the lock is released on ${signal} and the process exits ${code}`, async () => {
    const path = join(work, `lock-${signal}`);
    const child = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "fixtures", "hold-lock.ts"), path], { stdio: ["ignore", "pipe", "pipe"] });
    try {
      let err = "";
      child.stderr.on("data", (b: Buffer) => (err += b));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`fixture did not lock within 20 s: ${err}`)), 20_000);
        child.stdout.on("data", (b: Buffer) => {
          if (String(b).includes("locked")) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.once("exit", (c) => reject(new Error(`fixture exited ${c}: ${err}`)));
      });
      assert.match(await readFile(join(path, "owner"), "utf8"), /fixture/);
      const exited = new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
      process.kill(child.pid!, signal);
      assert.equal(await exited, code);
      await assert.rejects(stat(path), { code: "ENOENT" });
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  });
}

test("restartUnits: one gate per unit; a failing restart names the command and points at the journal", async () => {
  const t = new LocalTransport("op", "root");
  const seen: string[] = [];
  await restartUnits(t, ["haproxy", "keepalived"], async (d) => void seen.push(d), "reload");
  assert.deepEqual(seen, ["reload haproxy", "reload keepalived"]);
  assert.equal(t.roundTrips, 0, "a dry-run gate sends nothing");
  // A unit name no systemd knows (and here PID 1 is not systemd at all): the restart fails.
  await assert.rejects(restartUnits(t, ["kubeha-no-such-unit"], async (_d, fn) => fn()), (err: unknown) => {
    assert.ok(err instanceof StepError);
    assert.equal(err.detail.command, "systemctl restart kubeha-no-such-unit");
    assert.notEqual(err.detail.exitCode, 0);
    assert.match(err.hint ?? "", /journalctl -u kubeha-no-such-unit/);
    return true;
  });
});
