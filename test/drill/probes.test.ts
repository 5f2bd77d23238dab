/**
 * The drill probes against real servers on loopback: a node:https server that answers 200, then
 * 500, then is closed; and a real etcd (Debian's etcd-server) with client mutual TLS that is
 * frozen with SIGSTOP for a window. Every loop is bounded by the probes' own count and time limits.
 */
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:https";
import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { deletePrefix, etcdKey, readBack, shortReason, SKIPPED, startApiProbe, startEtcdWriter, type EtcdClientOptions } from "../../src/drill/probes.ts";
import { checkZeroLoss } from "../../src/drill/figures.ts";
import type { ApiSample } from "../../src/drill/types.ts";
import { KubehaError } from "../../src/errors.ts";
import { cleanStaleRuns, freePort, startEtcd, testPki, type LocalEtcd, type TestPki } from "./local-etcd.ts";
import { alive } from "../helpers/proc.ts";

let pki: TestPki;
let otherPki: TestPki;

before(async () => {
  [pki, otherPki] = await Promise.all([testPki(["api.kubeha.test"]), testPki()]);
});

interface TestServer {
  port: number;
  url: string;
  mode: { status: number; delayMs: number };
  maxConcurrent: number;
  /** Stops listening; in-flight exchanges finish unless `abort`, which destroys every connection. */
  close(abort?: boolean): Promise<void>;
}

/** A real HTTPS server on 127.0.0.1 answering GET /readyz with `mode.status` after `mode.delayMs`. */
async function httpsServer(): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const mode = { status: 200, delayMs: 0 };
  let current = 0;
  const s: TestServer = { port: 0, url: "", mode, maxConcurrent: 0, close: async () => {} };
  const server: Server = createServer({ cert: pki.server.cert, key: pki.server.key }, (req, res) => {
    current++;
    s.maxConcurrent = Math.max(s.maxConcurrent, current);
    const status = mode.status;
    // In flight until the answer is sent or the client gives up (a timed-out probe closes its socket).
    res.once("close", () => current--);
    const answer = () => {
      if (res.destroyed) return;
      res.writeHead(req.url === "/readyz" ? status : 404, { "content-type": "text/plain" }).end(status === 200 ? "ok" : "not ready");
    };
    if (mode.delayMs > 0) setTimeout(answer, mode.delayMs);
    else answer();
  });
  server.on("connection", (c: Socket) => {
    sockets.add(c);
    c.on("close", () => sockets.delete(c));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const a = server.address();
  s.port = typeof a === "object" && a ? a.port : 0;
  s.url = `https://127.0.0.1:${s.port}/readyz`;
  let closing: Promise<unknown> | undefined;
  s.close = async (abort = true) => {
    closing ??= new Promise((r) => server.close(r));
    if (abort) for (const c of sockets) c.destroy();
    await closing;
  };
  return s;
}

/** Collapses consecutive equal outcomes: ok ok 500 500 refused -> [ok, 500, refused]. */
const phases = (samples: ApiSample[]) =>
  samples.map((x) => (x.ok ? "ok" : x.error!)).filter((v, i, a) => i === 0 || a[i - 1] !== v);

test("shortReason: socket codes as they are, TLS codes marked, anything else short", () => {
  const err = (code: string | undefined, message = "m") => Object.assign(new Error(message), code ? { code } : {});
  const cases: [unknown, string][] = [
    [err("ECONNREFUSED"), "ECONNREFUSED"],
    [err("EHOSTUNREACH"), "EHOSTUNREACH"],
    [err("ECONNRESET", "socket hang up"), "ECONNRESET"],
    [err("UNABLE_TO_VERIFY_LEAF_SIGNATURE"), "TLS: UNABLE_TO_VERIFY_LEAF_SIGNATURE"],
    [err("ERR_TLS_CERT_ALTNAME_INVALID"), "TLS: ERR_TLS_CERT_ALTNAME_INVALID"],
    [err("ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED"), "TLS: ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED"],
    [err("HPE_INVALID_CONSTANT"), "HPE_INVALID_CONSTANT"],
    [err(undefined, "x".repeat(200)), `${"x".repeat(77)}...`],
  ];
  for (const [e, want] of cases) assert.equal(shortReason(e), want);
});

describe("API probe against a local HTTPS server", () => {
  test("200, then HTTP 500 for a window, then connection refused; fixed rate; stops at maxMs", async () => {
    const srv = await httpsServer();
    try {
      const t0 = performance.now();
      const probe = startApiProbe({ url: srv.url, ca: pki.ca.cert, rateHz: 50, timeoutMs: 300, maxCount: 10_000, maxMs: 1500, t0 });
      await sleep(400);
      srv.mode.status = 500;
      const failFrom = performance.now() - t0;
      await sleep(400);
      const closingAt = performance.now() - t0;
      await srv.close(false);
      const closedAt = performance.now() - t0;
      const samples = await probe.done;
      const wall = performance.now() - t0;

      // maxMs = 1500 at 20 ms per slot: slots 0..74, and nothing scheduled after.
      assert.equal(samples.length, 75);
      assert.ok(wall < 1500 + 300 + 200, `ended ${wall} ms after start`);
      // A fixed schedule: slot i is never sent before start + i * 20 ms (a stalled event loop
      // may send late slots together, never early ones), and the mean interval is 20 ms.
      const lead = samples.map((x, i) => x.t - samples[0]!.t - i * 20);
      assert.ok(lead.every((d) => d > -2), `ahead of schedule by ${Math.min(...lead)} ms`);
      const perSlot = (samples.at(-1)!.t - samples[0]!.t) / (samples.length - 1);
      assert.ok(perSlot > 19.5 && perSlot < 24, `mean interval ${perSlot} ms, want 20`);

      // Connections the kernel queued but the server had not accepted when it closed are reset
      // (several on a loaded machine): only those, sent around the close, may be ECONNRESET.
      const resets = samples.filter((x) => x.error === "ECONNRESET");
      assert.ok(resets.every((x) => x.t >= closingAt - 300 && x.t <= closedAt), `closing ${closingAt}-${closedAt}: ${JSON.stringify(resets)}`);
      assert.deepEqual(phases(samples.filter((x) => x.error !== "ECONNRESET")), ["ok", "HTTP 500", "ECONNREFUSED"]);
      const first500 = samples.find((x) => x.error === "HTTP 500")!;
      const firstRefused = samples.find((x) => x.error === "ECONNREFUSED")!;
      assert.ok(first500.t >= failFrom - 100, `first 500 at ${first500.t}, switched at ${failFrom}`);
      assert.ok(firstRefused.t >= closedAt - 25 && firstRefused.t <= closedAt + 250, `first refusal at ${firstRefused.t}, closed at ${closedAt}`);
      assert.ok(samples.every((x) => x.ms >= 0 && x.ms <= 300 + 200));
    } finally {
      await srv.close();
    }
  });

  test("stops by itself after maxCount requests, and early on stop()", async () => {
    const srv = await httpsServer();
    try {
      const t0 = performance.now();
      const counted = await startApiProbe({ url: srv.url, ca: pki.ca.cert, rateHz: 100, timeoutMs: 500, maxCount: 10, maxMs: 60_000, t0, maxInFlight: 64 }).done;
      const took = performance.now() - t0;
      assert.equal(counted.length, 10);
      assert.ok(counted.every((x) => x.ok), JSON.stringify(counted));
      assert.ok(took < 1000, `10 requests at 100/s took ${took} ms`);

      const t1 = performance.now();
      const probe = startApiProbe({ url: srv.url, ca: pki.ca.cert, rateHz: 50, timeoutMs: 500, maxCount: 10_000, maxMs: 60_000, t0: t1, maxInFlight: 64 });
      await sleep(300);
      const seen = probe.peek();
      assert.ok(seen.length >= 10 && seen.every((x) => x !== undefined && x.ok), `peek: ${JSON.stringify(seen)}`);
      assert.ok(seen.every((x, i) => i === 0 || x.t > seen[i - 1]!.t), "peek is in send order");
      const stoppedAt = performance.now() - t1;
      const early = await probe.stop();
      // Slots are due at 0, 20, 40... ms: at most one per 20 ms elapsed (plus slot 0).
      assert.ok(early.length >= 10 && early.length <= Math.floor(stoppedAt / 20) + 1, `${early.length} samples in ${stoppedAt} ms at 50/s`);
      assert.ok(early.every((x) => x.ok && x.t <= stoppedAt));
      assert.deepEqual(early.slice(0, seen.length), seen);
      await sleep(100);
      assert.equal((await probe.stop()).length, early.length, "nothing sent after stop()");
      assert.equal((await probe.done).length, early.length);
    } finally {
      await srv.close();
    }
  });

  test("a wrong CA or a wrong name yields TLS failures, never ok; the right DNS name verifies", async () => {
    const srv = await httpsServer();
    try {
      const base = { url: srv.url, rateHz: 50, timeoutMs: 500, maxCount: 5, maxMs: 5000, t0: performance.now() };
      const wrongCa = await startApiProbe({ ...base, ca: otherPki.ca.cert }).done;
      assert.equal(wrongCa.length, 5);
      for (const x of wrongCa) {
        assert.equal(x.ok, false);
        assert.match(x.error!, /^TLS: [A-Z_]+$/);
      }
      const wrongName = await startApiProbe({ ...base, ca: pki.ca.cert, servername: "other.kubeha.test" }).done;
      assert.deepEqual([...new Set(wrongName.map((x) => `${x.ok} ${x.error}`))], ["false TLS: ERR_TLS_CERT_ALTNAME_INVALID"]);
      const rightName = await startApiProbe({ ...base, ca: pki.ca.cert, servername: "api.kubeha.test" }).done;
      assert.ok(rightName.every((x) => x.ok), JSON.stringify(rightName));
    } finally {
      await srv.close();
    }
  });

  test("a slow server: requests time out, and slots beyond the in-flight cap are skipped, not queued", async () => {
    const srv = await httpsServer();
    srv.mode.delayMs = 1000;
    try {
      const samples = await startApiProbe({ url: srv.url, ca: pki.ca.cert, rateHz: 50, timeoutMs: 200, maxCount: 1000, maxMs: 600, maxInFlight: 3, t0: performance.now() }).done;
      assert.equal(samples.length, 30);
      assert.ok(samples.every((x) => !x.ok));
      const timeouts = samples.filter((x) => x.error === "timeout");
      const skipped = samples.filter((x) => x.error === SKIPPED);
      assert.equal(timeouts.length + skipped.length, 30, JSON.stringify(samples));
      assert.ok(timeouts.length >= 3 && skipped.length >= 10, `${timeouts.length} timeouts, ${skipped.length} skipped`);
      // Never before the timeout; later only by event-loop lag.
      assert.ok(timeouts.every((x) => x.ms >= 195 && x.ms < 200 + 300), JSON.stringify(timeouts));
      assert.ok(srv.maxConcurrent <= 3, `server saw ${srv.maxConcurrent} requests at once`);
    } finally {
      await srv.close();
    }
  });

  test("bad input is refused before anything is sent", () => {
    const base = { url: "https://127.0.0.1:1/readyz", ca: pki.ca.cert, rateHz: 50, timeoutMs: 100, maxCount: 1, maxMs: 100, t0: 0 };
    assert.throws(() => startApiProbe({ ...base, url: "http://127.0.0.1:1/readyz" }), /not https/);
    assert.throws(() => startApiProbe({ ...base, rateHz: 0 }), /rateHz/);
    assert.throws(() => startApiProbe({ ...base, ca: "not a pem" }), KubehaError);
    assert.throws(() => startEtcdWriter({ endpoints: ["https://127.0.0.1:1"], ca: pki.ca.cert, cert: pki.client.cert, key: otherPki.client.key, prefix: "/p", timeoutMs: 100, intervalMs: 5, maxCount: 1, maxMs: 100, t0: 0 }), KubehaError);
  });
});

describe("etcd writer and read-back against a real etcd with mutual TLS", () => {
  let etcd: LocalEtcd;
  let client: Omit<EtcdClientOptions, "prefix">;

  before(async () => {
    etcd = await startEtcd(pki);
    client = { endpoints: [etcd.endpoint], ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key, timeoutMs: 1000 };
  });

  after(async () => {
    await etcd?.stop();
    assert.equal(etcd ? alive(etcd.pid) : false, false);
    await cleanStaleRuns();
  });

  test("writes are acked and read back; the checker reports a deleted and a changed key by seq", async () => {
    const prefix = `/kubeha-drill-test/${process.pid}/basic`;
    const writes = await startEtcdWriter({ ...client, prefix, intervalMs: 5, maxCount: 25, maxMs: 10_000, t0: performance.now() }).done;
    assert.deepEqual(writes.map((w) => w.seq), Array.from({ length: 25 }, (_, i) => i + 1));
    assert.ok(writes.every((w) => w.acked && w.error === undefined), JSON.stringify(writes.filter((w) => !w.acked)));
    // Times are rounded to 0.1 ms, hence the 0.15 ms slack.
    assert.ok(writes.every((w, i) => i === 0 || w.t >= writes[i - 1]!.t + writes[i - 1]!.ms - 0.15), "one write at a time");

    // Page size 7 over 25 keys: four pages.
    const read = await readBack({ ...client, prefix, pageSize: 7 });
    assert.equal(read.size, 25);
    assert.deepEqual(checkZeroLoss(writes, read), { lost: [], acked: 25, failed: 0 });

    // The same keys as etcdctl sees them (an independent client): zero-padded, value = seq.
    const got = await etcd.etcdctl(["get", etcdKey(prefix, 7), "--print-value-only"]);
    assert.equal(got.stdout.trim(), "7", got.stderr);
    assert.equal((await etcd.etcdctl(["del", etcdKey(prefix, 7)])).code, 0);
    assert.equal((await etcd.etcdctl(["put", etcdKey(prefix, 19), "nineteen"])).code, 0);
    const damaged = await readBack({ ...client, prefix });
    assert.deepEqual(checkZeroLoss(writes, damaged), { lost: [7, 19], acked: 25, failed: 0 });

    assert.equal(await deletePrefix({ ...client, prefix }), 24);
    assert.equal((await readBack({ ...client, prefix })).size, 0);
  });

  test("etcd frozen (SIGSTOP): writes time out and are not acked; after SIGCONT every acked write reads back", async () => {
    const prefix = `/kubeha-drill-test/${process.pid}/frozen`;
    const timeoutMs = 250;
    const t0 = performance.now();
    const writer = startEtcdWriter({ ...client, prefix, timeoutMs, intervalMs: 20, maxCount: 10_000, maxMs: 2400, t0 });
    let frozenAt = 0;
    let thawedAt = 0;
    try {
      await sleep(500);
      process.kill(etcd.pid, "SIGSTOP");
      frozenAt = performance.now() - t0;
      await sleep(900);
    } finally {
      process.kill(etcd.pid, "SIGCONT");
      thawedAt = performance.now() - t0;
    }
    assert.ok(writer.peek().length > 0 && writer.peek().every((w) => w.seq > 0));
    const writes = await writer.done;
    const ackedBefore = writes.filter((w) => w.acked && w.t < frozenAt);
    const inWindow = writes.filter((w) => w.t > frozenAt + 5 && w.t + timeoutMs < thawedAt - 5);
    const ackedAfter = writes.filter((w) => w.acked && w.t > thawedAt);
    assert.ok(ackedBefore.length >= 5, `${ackedBefore.length} acked before the freeze`);
    assert.ok(inWindow.length >= 2, `${inWindow.length} writes while frozen`);
    const host = etcd.endpoint.replace("https://", "");
    for (const w of inWindow) {
      assert.equal(w.acked, false, JSON.stringify(w));
      assert.equal(w.error, `timeout at ${host}`);
    }
    assert.ok(ackedAfter.length >= 3, `${ackedAfter.length} acked after the thaw: ${JSON.stringify(writes.slice(-5))}`);
    // No seq was written twice, none skipped.
    assert.deepEqual(writes.map((w) => w.seq), Array.from({ length: writes.length }, (_, i) => i + 1));

    const read = await readBack({ ...client, prefix });
    const check = checkZeroLoss(writes, read);
    assert.deepEqual(check.lost, []);
    assert.equal(check.acked, writes.filter((w) => w.acked).length);
    assert.ok(check.failed >= inWindow.length);
    await deletePrefix({ ...client, prefix });
  });

  test("with a dead endpoint first, writes fail over to the live one; read-back does too", async () => {
    const prefix = `/kubeha-drill-test/${process.pid}/failover`;
    const dead = `https://127.0.0.1:${await freePort()}`;
    const endpoints = [dead, etcd.endpoint];
    const writes = await startEtcdWriter({ ...client, endpoints, prefix, intervalMs: 5, maxCount: 15, maxMs: 10_000, t0: performance.now() }).done;
    assert.equal(writes.length, 15);
    assert.deepEqual(writes[0], { ...writes[0]!, seq: 1, acked: false, error: `ECONNREFUSED at ${dead.replace("https://", "")}` });
    assert.ok(writes.slice(1).every((w) => w.acked), JSON.stringify(writes));
    const read = await readBack({ ...client, endpoints, prefix });
    assert.deepEqual(checkZeroLoss(writes, read), { lost: [], acked: 14, failed: 1 });
    assert.equal(read.has(1), false, "the refused write never reached etcd");
    assert.equal(await deletePrefix({ ...client, endpoints, prefix }), 14);
  });

  test("read-back with no live endpoint fails naming each endpoint and reason, never the key", async () => {
    const dead = [`https://127.0.0.1:${await freePort()}`, `https://127.0.0.1:${await freePort()}`];
    const err = await readBack({ ...client, endpoints: dead, prefix: "/kubeha-drill-test/none" }).then(
      () => assert.fail("read-back succeeded without etcd"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof KubehaError);
    for (const d of dead) assert.match(err.message, new RegExp(`${d.replace(/[.:/]/g, "\\$&")}: ECONNREFUSED`));
    assert.ok(err.hint);
    const keyLines = pki.client.key.split("\n").filter((l) => l.length >= 16 && !l.startsWith("-----"));
    for (const l of keyLines) assert.ok(!`${err.message} ${err.hint}`.includes(l));
  });

  test("a client certificate from another CA is refused: nothing is acked", async () => {
    const writes = await startEtcdWriter({
      ...client,
      cert: otherPki.client.cert,
      key: otherPki.client.key,
      prefix: `/kubeha-drill-test/${process.pid}/intruder`,
      intervalMs: 5,
      maxCount: 3,
      maxMs: 5000,
      t0: performance.now(),
    }).done;
    assert.equal(writes.length, 3);
    assert.ok(writes.every((w) => !w.acked && /^(TLS: |ECONNRESET)/.test(w.error ?? "")), JSON.stringify(writes));
  });

  test("prefixes that could reach other keys are refused", () => {
    for (const prefix of ["", "/", "/kubeha/", "/registry", "/registry/pods", "a//b", "a b"]) {
      assert.throws(() => startEtcdWriter({ ...client, prefix, intervalMs: 5, maxCount: 1, maxMs: 100, t0: 0 }), KubehaError, prefix);
    }
  });
});
