/**
 * SshTransport against real OpenSSH servers on 127.0.0.1 (see sshd.ts): commands, uploads by hash,
 * host key policy, jump host, sudo, redaction, connection reuse and the host lock.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StepError } from "../../src/errors.ts";
import { sha256, syncFiles } from "../../src/exec/files.ts";
import { knownHostsName } from "../../src/exec/known-hosts.ts";
import { acquireLock } from "../../src/exec/lock.ts";
import { ConnectionPool, forEachHost, HostsError } from "../../src/exec/pool.ts";
import { deadPeerBoundMs, SshTransport } from "../../src/exec/ssh.ts";
import net from "node:net";
import type { Host, Ssh } from "../../src/spec/model.ts";
import { cleanStale, clientKey, createUsers, NOSUDO_USER, startSshd, SUDO_USER, type Sshd } from "./sshd.ts";
import { untilAsync } from "../helpers/timing.ts";

let target: Sshd;
let jump: Sshd;
let key: string;
let work: string;
let knownHosts: string;

before(async () => {
  cleanStale();
  key = await clientKey();
  // Debug logging on the jump host shows the forwarded channel (proof the bastion was used).
  [target, jump] = await Promise.all([startSshd("target"), startSshd("jump", { logLevel: "DEBUG1" })]);
  createUsers();
  work = await mkdtemp(join(tmpdir(), "kubeha-ssh-"));
  knownHosts = join(work, "known_hosts");
  await writeFile(knownHosts, `${knownHostsName("127.0.0.1", target.port)} ${target.hostKeyPub}\n${knownHostsName("127.0.0.1", jump.port)} ${jump.hostKeyPub}\n`);
});

after(async () => {
  await Promise.all([target?.stop(), jump?.stop()]);
  // Nothing of ours runs any more: this removes the state dir (client key) and the test users.
  cleanStale();
  if (work) await rm(work, { recursive: true, force: true });
});

function hostOf(s: Sshd, ssh: Partial<Ssh> = {}, name = s.name): Host {
  return {
    name,
    address: "127.0.0.1",
    internalAddress: "127.0.0.1",
    roles: ["control-plane"],
    ssh: { user: "root", port: s.port, keyPath: key, knownHostsPath: knownHosts, ...ssh },
    interface: "lo",
    labels: {},
    lbIndex: -1,
  };
}

async function withTransport<T>(h: Host, fn: (t: SshTransport) => Promise<T>, opts = {}): Promise<T> {
  const t = await SshTransport.connect(h, opts);
  try {
    return await fn(t);
  } finally {
    await t.close();
  }
}

test("run: exit code, stdout, stderr and stdin; every command is one round trip", async () => {
  await withTransport(hostOf(target), async (t) => {
    const r = await t.run("echo out; echo err >&2; exit 3");
    assert.deepEqual(r, { code: 3, stdout: "out\n", stderr: "err\n" });
    const c = await t.run("cat; echo -n done", { stdin: "from stdin\n" });
    assert.equal(c.stdout, "from stdin\ndone");
    // A command that never reads stdin still gets EOF and returns.
    assert.equal((await t.run("true")).code, 0);
    assert.equal(t.roundTrips, 3);
  });
});

test("mustRun: a failure is a StepError with host, command, exit code, stderr tail and hint, secrets masked", async () => {
  await withTransport(hostOf(target), async (t) => {
    const secret = "Zq9-very-secret-pass";
    await assert.rejects(
      t.mustRun(`printf 'auth with ${secret} failed\\n' >&2; echo token abcdef.0123456789abcdef >&2; exit 7`, { secrets: [secret], hint: "check the password" }),
      (err: unknown) => {
        assert.ok(err instanceof StepError);
        assert.equal(err.detail.host, "target");
        assert.equal(err.detail.exitCode, 7);
        assert.equal(err.detail.stderrTail, "auth with *** failed\ntoken ***");
        assert.ok(err.detail.command?.includes("***") && !err.detail.command.includes(secret));
        assert.equal(err.hint, "check the password");
        assert.ok(!JSON.stringify({ m: err.message, d: err.detail, h: err.hint }).includes(secret));
        return true;
      },
    );
  });
});

test("a command that runs too long is killed and reported", async () => {
  await withTransport(hostOf(target), async (t) => {
    const t0 = Date.now();
    await assert.rejects(t.run("sleep 30", { timeoutMs: 300 }), /timed out after 0 s on target/);
    // Killed, not waited for: far below the command's 30 s at any load.
    assert.ok(Date.now() - t0 < 20_000);
    // The connection is still usable.
    assert.equal((await t.run("echo ok")).stdout, "ok\n");
  });
});

test("streaming: stdout chunks arrive while the command runs; an abort ends it with 143 and keeps the output", async () => {
  await withTransport(hostOf(target), async (t) => {
    const chunks: string[] = [];
    const ac = new AbortController();
    const t0 = Date.now();
    const r = await t.run("echo first; sleep 30", {
      timeoutMs: 10_000,
      signal: ac.signal,
      onStdout: (c) => {
        chunks.push(c);
        ac.abort();
      },
    });
    assert.equal(r.code, 143);
    assert.equal(r.stdout, "first\n");
    assert.deepEqual(chunks, ["first\n"]);
    assert.ok(Date.now() - t0 < 20_000, "the abort did not wait for the command (30 s)");
    assert.equal((await t.run("echo ok")).stdout, "ok\n");
  });
});

/**
 * A TCP relay to `port` that can go silent like a machine whose plug was pulled: sockets stay
 * open, nothing passes any more, and no reset is ever sent.
 */
async function silenceableRelay(port: number): Promise<{ port: number; silence(): void; close(): Promise<void> }> {
  let silent = false;
  const socks = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, "127.0.0.1");
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      socks.add(a);
      a.on("data", (d) => {
        if (!silent) b.write(d);
      });
      a.on("error", () => {});
      a.on("close", () => b.destroy());
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    silence: () => (silent = true),
    close: async () => {
      for (const s of socks) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

test("a host that vanishes mid-command: the command fails within the keepalive bound, naming the host", async () => {
  // The defaults: a powered-off host is given up on in well under a minute.
  assert.ok(deadPeerBoundMs() <= 30_000, `default dead-peer bound ${deadPeerBoundMs()} ms`);
  const relay = await silenceableRelay(target.port);
  await writeFile(knownHosts, `${knownHostsName("127.0.0.1", relay.port)} ${target.hostKeyPub}\n`, { flag: "a" });
  const opts = { keepaliveIntervalMs: 200, keepaliveCountMax: 2 };
  try {
    await withTransport(
      hostOf(target, { port: relay.port }, "gone"),
      async (t) => {
        assert.equal((await t.run("echo up")).stdout, "up\n");
        const running = t.run("sleep 30; echo finished");
        setTimeout(() => relay.silence(), 300);
        const t0 = Date.now();
        await assert.rejects(running, (err: unknown) => {
          assert.ok(err instanceof StepError, String(err));
          assert.match(err.message, /^lost the connection to gone during a command \(Keepalive timeout\)/);
          assert.equal(err.detail.host, "gone");
          assert.match(err.detail.command ?? "", /sleep 30/);
          assert.match(err.hint ?? "", /powered off/);
          return true;
        });
        const took = Date.now() - t0;
        // Ended by these keepalive settings (the error says Keepalive timeout), never before their
        // bound; the defaults would have waited at least their own 20 s.
        assert.ok(took >= deadPeerBoundMs(opts) - 2 * opts.keepaliveIntervalMs && took < deadPeerBoundMs() - 5_000, `gave up after ${took} ms`);
        // Later commands on the dead connection fail at once instead of waiting again: before
        // the next turn of the event loop, so no network round trip is involved.
        let turned = false;
        setImmediate(() => (turned = true));
        await assert.rejects(t.run("true"), /connection to gone is closed \(Keepalive timeout\)/);
        assert.equal(turned, false, "the failure waited for I/O");
      },
      opts,
    );
  } finally {
    await relay.close();
  }
});

test("uploads by hash: written atomically with mode; an unchanged file is not sent again", async () => {
  const dir = join(work, "etc-demo");
  const files = [
    { path: `${dir}/haproxy.cfg`, content: "global\n  maxconn 100\n", mode: 0o644, restarts: ["haproxy"] },
    { path: `${dir}/sub/key.pem`, content: Buffer.from([0, 1, 2, 255]), mode: 0o600 },
    { path: `${dir}/keepalived.conf`, content: "vrrp_instance x {}\n", mode: 0o640, restarts: ["keepalived", "haproxy"] },
  ];
  const written: string[] = [];
  const gate = async (d: string, fn: () => Promise<void>) => {
    written.push(d);
    await fn();
  };
  await withTransport(hostOf(target), async (t) => {
    const first = await syncFiles(t, files, gate);
    assert.equal(first.changed.length, 3);
    assert.deepEqual(first.units, ["haproxy", "keepalived"]);
    assert.equal(t.roundTrips, 2, "one hash round trip + one upload round trip for three files");
    for (const f of files) {
      assert.deepEqual(await readFile(f.path), Buffer.from(f.content));
      assert.equal((await stat(f.path)).mode & 0o777, f.mode);
    }
    const h = await t.hashes([files[0]!.path, `${dir}/missing`]);
    assert.deepEqual([...h], [[files[0]!.path, sha256(files[0]!.content)], [`${dir}/missing`, undefined]]);

    const before = t.roundTrips;
    written.length = 0;
    const again = await syncFiles(t, files, gate);
    assert.deepEqual(again, { changed: [], units: [] });
    assert.deepEqual(written, []);
    assert.equal(t.roundTrips - before, 1, "a converged host costs one round trip");

    await writeFile(files[2]!.path, "changed by hand\n");
    const third = await syncFiles(t, files, gate);
    assert.deepEqual(third.changed.map((f) => f.path), [files[2]!.path]);
    assert.deepEqual(third.units, ["keepalived", "haproxy"]);
    assert.deepEqual(written, [`write ${files[2]!.path} (19 bytes, mode 0640)`]);
    assert.equal(await readFile(files[2]!.path, "utf8"), "vrrp_instance x {}\n");
    // No temp files left behind.
    assert.deepEqual(execFileSync("sh", ["-c", `ls -A ${dir} | grep kubeha || true`], { encoding: "utf8" }), "");
  });
});

test("unknown host key: refused with the fingerprint and a hint; pinned only with trustNewHostKeys", async () => {
  const kh = join(work, "kh-new");
  const h = hostOf(target, { knownHostsPath: kh });
  await assert.rejects(SshTransport.connect(h), (err: unknown) => {
    assert.ok(err instanceof StepError);
    assert.match(err.message, /^unknown host key for target \(\[127\.0\.0\.1\]:\d+\): ssh-ed25519 SHA256:\S+ is not in /);
    assert.match(err.hint ?? "", /--trust-new-host-keys/);
    return true;
  });
  await assert.rejects(stat(kh), { code: "ENOENT" });

  await withTransport(h, async (t) => assert.equal((await t.run("echo pinned")).stdout, "pinned\n"), { trustNewHostKeys: true });
  assert.equal(await readFile(kh, "utf8"), `[127.0.0.1]:${target.port} ${target.hostKeyPub}\n`);
  // Pinned: the next connection needs no flag.
  await withTransport(h, async (t) => assert.equal((await t.run("true")).code, 0));
});

test("changed host key: always refused, even with trustNewHostKeys, and known_hosts is left alone", async () => {
  const kh = join(work, "kh-changed");
  const other = join(work, "other_key");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
  const otherPub = (await readFile(other + ".pub", "utf8")).split(" ").slice(0, 2).join(" ");
  const content = `# earlier key\n[127.0.0.1]:${target.port} ${otherPub}\n`;
  await writeFile(kh, content);
  for (const trustNewHostKeys of [false, true]) {
    await assert.rejects(SshTransport.connect(hostOf(target, { knownHostsPath: kh }), { trustNewHostKeys }), (err: unknown) => {
      assert.ok(err instanceof StepError);
      assert.match(err.message, /^HOST KEY CHANGED for target .*presented ssh-ed25519 SHA256:.*expects ssh-ed25519 SHA256:\S+ \(line 2\)/);
      assert.match(err.hint ?? "", /ssh-keygen -R/);
      return true;
    });
  }
  assert.equal(await readFile(kh, "utf8"), content);
});

test("hashed known_hosts entries (ssh-keygen -H) are honoured", async () => {
  const kh = join(work, "kh-hashed");
  await writeFile(kh, `[127.0.0.1]:${target.port} ${target.hostKeyPub}\n`);
  execFileSync("ssh-keygen", ["-q", "-H", "-f", kh], { stdio: "ignore" });
  const text = await readFile(kh, "utf8");
  assert.match(text, /^\|1\|/);
  await withTransport(hostOf(target, { knownHostsPath: kh }), async (t) => assert.equal((await t.run("true")).code, 0));
});

test("bastion: the host is reached through the jump host's forwarded channel", async () => {
  const h = hostOf(target, { bastion: { address: "127.0.0.1", port: jump.port, user: "root", keyPath: key } });
  const pool = new ConnectionPool({ connectAttempts: 1 });
  try {
    const t = await pool.get(h);
    assert.equal((await t.run("echo via-jump")).stdout, "via-jump\n");
  } finally {
    await pool.closeAll();
  }
  const log = await readFile(jump.log, "utf8");
  assert.match(log, new RegExp(`direct-tcpip.*127\\.0\\.0\\.1.*port ${target.port}|target 127\\.0\\.0\\.1 port ${target.port}`));
});

test("bastion that may not forward: an error naming the bastion and the host", async () => {
  const noFwd = await startSshd("jump-nofwd", { extra: ["PermitOpen none"] });
  try {
    await writeFile(join(work, "kh-nofwd"), `[127.0.0.1]:${noFwd.port} ${noFwd.hostKeyPub}\n[127.0.0.1]:${target.port} ${target.hostKeyPub}\n`);
    const h = hostOf(target, { knownHostsPath: join(work, "kh-nofwd"), bastion: { address: "127.0.0.1", port: noFwd.port, user: "root", keyPath: key } });
    const pool = new ConnectionPool({ connectAttempts: 1 });
    await assert.rejects(pool.get(h), /bastion 127\.0\.0\.1 cannot reach target/);
    await pool.closeAll();
  } finally {
    await noFwd.stop();
  }
});

test("sudo: a non-root user runs root commands through sudo -n, uploads land root-owned", async () => {
  await withTransport(hostOf(target, { user: SUDO_USER }), async (t) => {
    assert.notEqual((await t.run("id -u")).stdout.trim(), "0");
    assert.equal((await t.run("id -u", { sudo: true })).stdout.trim(), "0");
    const p = join(work, "by-sudo", "secret.key");
    await t.put(p, "k3y-material\n", 0o600);
    const s = await stat(p);
    assert.deepEqual([s.uid, s.mode & 0o777], [0, 0o600]);
    // Directories the upload creates are 0755, not the 0700 a secret's umask would give.
    assert.equal((await stat(join(work, "by-sudo"))).mode & 0o777, 0o755);
    // Readable only by root: hashing needs (and uses) sudo.
    assert.equal((await t.hashes([p])).get(p), sha256("k3y-material\n"));
    await assert.rejects(t.hashes([p], { sudo: false }), /cannot read/);
  });
});

test("sudo without NOPASSWD: a StepError that says how to fix it", async () => {
  await withTransport(hostOf(target, { user: NOSUDO_USER }), async (t) => {
    await assert.rejects(t.run("true", { sudo: true }), (err: unknown) => {
      assert.ok(err instanceof StepError);
      assert.match(err.message, new RegExp(`sudo refused on target for user ${NOSUDO_USER}`));
      assert.match(err.hint ?? "", /NOPASSWD/);
      return true;
    });
  });
});

test("bad credentials: a StepError with an authorized_keys hint, no retries", async () => {
  const wrong = join(work, "wrong_key");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", wrong]);
  const pool = new ConnectionPool({ connectAttempts: 3 });
  const refused = async () => ((await readFile(target.log, "utf8")).match(/Disconnected from authenticating user root/g) ?? []).length;
  const before = await refused();
  await assert.rejects(pool.get(hostOf(target, { keyPath: wrong })), (err: unknown) => {
    assert.ok(err instanceof StepError);
    assert.match(err.message, /^cannot connect to target \(root@127\.0\.0\.1:\d+\)/);
    assert.match(err.hint ?? "", /authorized_keys/);
    return true;
  });
  // Counted where it happens: sshd saw one refused login, not three. Every attempt ended before
  // the rejection; give sshd's log a moment to catch up before the final count.
  await untilAsync(async () => (await refused()) > before, "sshd logs the refused login");
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await refused()) - before, 1, "authentication failures are not retried");
  await pool.closeAll();
});

test("pool: one connection per host for the whole run, parallel commands beyond MaxSessions, aggregated failures", async () => {
  const before = ((await readFile(target.log, "utf8")).match(/Accepted publickey for root/g) ?? []).length;
  const pool = new ConnectionPool({ connectAttempts: 1 });
  try {
    const hosts = ["a", "b", "c"].map((n) => hostOf(target, {}, n));
    // 3 "hosts" x 12 parallel commands: more than sshd's MaxSessions 10 on each connection.
    const out = await forEachHost(hosts, 3, async (h) => {
      const t = await pool.get(h);
      const rs = await Promise.all(Array.from({ length: 12 }, (_, i) => t.run(`echo ${h.name}${i}`)));
      return rs.map((r) => r.stdout.trim()).join(",");
    });
    assert.equal(out.get("b"), Array.from({ length: 12 }, (_, i) => `b${i}`).join(","));
    assert.equal(await pool.get(hosts[0]!), await pool.get(hosts[0]!));
    assert.deepEqual(await pool.stats(), [{ host: "a", roundTrips: 12 }, { host: "b", roundTrips: 12 }, { host: "c", roundTrips: 12 }]);
    // Two hosts fail: one error that names both.
    await assert.rejects(
      forEachHost(hosts, 3, async (h) => {
        const t = await pool.get(h);
        if (h.name !== "b") await t.mustRun(`echo broken on ${h.name} >&2; exit 4`);
      }),
      (err: unknown) => {
        assert.ok(err instanceof HostsError);
        assert.match(err.message, /^failed on 2 hosts:\n {2}a: command failed on a \(exit 4\)/);
        assert.deepEqual(err.failures.map((f) => f.host), ["a", "c"]);
        return true;
      },
    );
  } finally {
    await pool.closeAll();
  }
  // Count logins once sshd has logged them (its log lags under load): exactly one per host.
  const logins = async () => ((await readFile(target.log, "utf8")).match(/Accepted publickey for root/g) ?? []).length;
  await untilAsync(async () => (await logins()) - before >= 3, "sshd logs three logins");
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await logins()) - before, 3);
});

test("pool: a connection that closed (host rebooted) is replaced on the next get; drop forgets one", async () => {
  const pool = new ConnectionPool();
  try {
    const h = hostOf(target);
    const t1 = await pool.get(h);
    assert.equal(await pool.get(h), t1, "reused while open");
    await t1.close();
    assert.equal(t1.closed, true);
    const t2 = await pool.get(h);
    assert.notEqual(t2, t1);
    assert.equal((await t2.run("echo again")).stdout, "again\n");
    await pool.drop(h);
    assert.equal(t2.closed, true);
    assert.notEqual(await pool.get(h), t2);
  } finally {
    await pool.closeAll();
  }
});

test("host lock over SSH: exclusive, names the holder, released, stale locks taken over", async () => {
  const lockPath = join(work, "kubeha.lock");
  await withTransport(hostOf(target), async (t) => {
    const l1 = await acquireLock(t, "alice@laptop pid 1", { path: lockPath });
    await assert.rejects(acquireLock(t, "bob@desk pid 2", { path: lockPath }), (err: unknown) => {
      assert.ok(err instanceof StepError);
      assert.match(err.message, /^target is locked by alice@laptop pid 1 since \d{4}-\d\d-\d\dT/);
      assert.match(err.hint ?? "", /wait for it to finish/);
      return true;
    });
    await l1.release();
    await assert.rejects(stat(lockPath), { code: "ENOENT" });
    const l2 = await acquireLock(t, "bob@desk pid 2", { path: lockPath, staleAfterMs: 60_000 });
    // The holder died an hour ago: its heartbeat stopped.
    execFileSync("touch", ["-d", "1 hour ago", lockPath]);
    const l3 = await acquireLock(t, "carol@ci pid 3", { path: lockPath, staleAfterMs: 60_000 });
    assert.match(l3.tookOverFrom ?? "", /^bob@desk pid 2 /);
    // The old holder's release must not remove the new holder's lock.
    await l2.release();
    assert.match(await readFile(join(lockPath, "owner"), "utf8"), /carol@ci pid 3/);
    await l3.release();
    await assert.rejects(stat(lockPath), { code: "ENOENT" });
  });
});
