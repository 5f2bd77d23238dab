/**
 * The drill probes against real servers on loopback: a node:https server that answers 200, then
 * 500, then is closed; and a real etcd (Debian's etcd-server) with client mutual TLS that is
 * frozen with SIGSTOP for a window. Every loop is bounded by the probes' own count and time limits.
 */
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:https";
import { createServer as createNetServer, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { deletePrefix, etcdKey, LATE_MS, nextSlots, readBack, shortReason, startApiProbe, startEtcdWriter, type EtcdClientOptions } from "../../src/drill/probes.ts";
import { LATE, SKIPPED } from "../../src/drill/types.ts";
import { checkZeroLoss } from "../../src/drill/figures.ts";
import type { ApiSample } from "../../src/drill/types.ts";
import { KubehaError } from "../../src/errors.ts";
import { cleanStaleRuns, freePort, startEtcd, testPki, type LocalEtcd, type TestPki } from "./local-etcd.ts";
import { alive, allStopped } from "../helpers/proc.ts";
import { until, untilAsync } from "../helpers/timing.ts";

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
  /** Every status sent, in the order the answers went out. */
  answered: number[];
  /** Requests received (answered or not). */
  received: number;
  /** Called after each answer is sent, with `answered` already updated: phases follow the server's own counts. */
  afterAnswer?: () => void;
  /** Stops listening; in-flight exchanges finish unless `abort`, which destroys every connection. */
  close(abort?: boolean): Promise<void>;
}

/** A real HTTPS server on 127.0.0.1 answering GET /readyz with `mode.status` after `mode.delayMs`. */
async function httpsServer(): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const mode = { status: 200, delayMs: 0 };
  let current = 0;
  const s: TestServer = { port: 0, url: "", mode, maxConcurrent: 0, answered: [], received: 0, close: async () => {} };
  const server: Server = createServer({ cert: pki.server.cert, key: pki.server.key }, (req, res) => {
    s.received++;
    current++;
    s.maxConcurrent = Math.max(s.maxConcurrent, current);
    const status = mode.status;
    // In flight until the answer is sent or the client gives up (a timed-out probe closes its socket).
    res.once("close", () => current--);
    const answer = () => {
      if (res.destroyed) return;
      const code = req.url === "/readyz" ? status : 404;
      res.writeHead(code, { "content-type": "text/plain" }).end(status === 200 ? "ok" : "not ready");
      s.answered.push(code);
      s.afterAnswer?.();
    };
    // unref: a pending slow answer must not keep the test process alive after the server closed.
    if (mode.delayMs > 0) setTimeout(answer, mode.delayMs).unref();
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

/**
 * For the tests that are not about time-outs (those have their own): a CPU-starved test process
 * can take seconds per TLS request, which must not turn an answer into a failure.
 */
const NO_TIMEOUT = 120_000;
/** A slot the probe did not send (the in-flight cap, or the probing process itself late): it says nothing about the server. */
const unsent = (x: ApiSample) => x.error === SKIPPED || x.error === LATE;


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
  // The server changes phase on its own counts (10 answers 200, 10 answers 500, then it stops
  // listening), so what each sample must say follows from what the server did, at any load. A
  // starved test process may take seconds per TLS request: no time-out here (they have their own
  // test), and the default in-flight cap keeps it from drowning in handshakes; slots skipped by
  // the cap are allowed (never sent, so they say nothing about the server).
  test("200, then HTTP 500, then connection refused: each sample says what the server did", async () => {
    const srv = await httpsServer();
    let closed: Promise<void> | undefined;
    srv.afterAnswer = () => {
      if (srv.answered.length === 10) srv.mode.status = 500;
      if (srv.answered.length === 20) closed ??= srv.close(false);
    };
    try {
      const probe = startApiProbe({ url: srv.url, ca: pki.ca.cert, rateHz: 50, timeoutMs: NO_TIMEOUT, maxCount: 100_000, maxMs: 600_000, t0: performance.now() });
      await until(() => probe.peek().filter((x) => x.error === "ECONNREFUSED").length >= 3, "three refused connections", 300_000);
      const samples = (await probe.stop()).filter((x) => !unsent(x));
      await closed;

      // What the server answered, each once, in kind and number; nothing else but refusals and
      // resets (connections the server had accepted but not read from when it closed).
      const count = (pred: (x: ApiSample) => boolean) => samples.filter(pred).length;
      assert.equal(count((x) => x.ok), srv.answered.filter((c) => c === 200).length);
      assert.equal(count((x) => x.error === "HTTP 500"), srv.answered.filter((c) => c === 500).length);
      assert.deepEqual(srv.answered.slice(0, 20), [...Array(10).fill(200), ...Array(10).fill(500)]);
      assert.deepEqual(new Set(samples.map((x) => (x.ok ? "ok" : x.error))), new Set(["ok", "HTTP 500", "ECONNREFUSED", ...(count((x) => x.error === "ECONNRESET") ? ["ECONNRESET"] : [])]));
      // In send order: ok first, refusals only after every answered request (the listener was
      // gone), resets only around the close (after the first 500).
      const at = (pred: (x: ApiSample) => boolean) => samples.findIndex(pred);
      const lastAnswered = samples.reduce((last, x, i) => (x.ok || x.error === "HTTP 500" ? i : last), -1);
      assert.ok(samples[0]!.ok, JSON.stringify(samples[0]));
      assert.ok(at((x) => x.error === "ECONNREFUSED") > lastAnswered, JSON.stringify(samples));
      assert.ok(samples.slice(at((x) => x.error === "ECONNREFUSED")).every((x) => x.error === "ECONNREFUSED"), "refused until stopped");
      assert.ok(samples.every((x, i) => x.error !== "ECONNRESET" || i > at((y) => y.error === "HTTP 500")), JSON.stringify(samples));
      assert.ok(samples.every((x) => x.ms >= 0));
    } finally {
      await srv.close();
    }
  });

  test("a fixed schedule: never early, exactly the slots before maxMs, nothing sent after", async () => {
    const srv = await httpsServer();
    try {
      const t0 = performance.now();
      const samples = await startApiProbe({ url: srv.url, ca: pki.ca.cert, rateHz: 50, timeoutMs: NO_TIMEOUT, maxCount: 10_000, maxMs: 1500, t0 }).done;
      // maxMs = 1500 at 20 ms per slot: slots 0..74, however late the event loop ran (how a late
      // loop catches up instead of drifting is the pure schedule's test below).
      assert.equal(samples.length, 75);
      const sent = samples.filter((x) => !unsent(x));
      assert.ok(sent.every((x) => x.ok), JSON.stringify(sent.filter((x) => !x.ok)));
      // Slot i is never sent before start + i * 20 ms (start >= t0; times are rounded to 0.1 ms).
      const lead = samples.map((x, i) => x.t - i * 20);
      assert.ok(lead.every((d) => d >= -0.05), `ahead of schedule by ${Math.min(...lead)} ms`);
      assert.ok(samples.every((x, i) => i === 0 || x.t >= samples[i - 1]!.t), "sent in slot order");
      // done means done: the server saw every sent slot once and nothing after.
      assert.equal(srv.received, sent.length);
      await sleep(100);
      assert.equal(srv.received, sent.length);
    } finally {
      await srv.close();
    }
  });

  test("the schedule (pure): a stall does not drift it; slots more than LATE_MS overdue are late, not sent; bounded by maxCount and maxMs", () => {
    const s = { periodMs: 20, maxCount: 10_000, maxMs: 1500 };
    assert.equal(LATE_MS, 100);
    assert.deepEqual(nextSlots(s, 0, 0), { late: 0, fire: 1, waitMs: 20 });
    assert.deepEqual(nextSlots(s, 1, 5), { late: 0, fire: 0, waitMs: 15 });
    assert.deepEqual(nextSlots(s, 1, 20), { late: 0, fire: 1, waitMs: 20 });
    // A 300 ms stall after slot 1: slots 2..16 are due; 2..11 (due 40-220 ms) are over 100 ms late
    // at 330 ms and are not sent; 12..16 go out now; slot 17 keeps its time (340).
    assert.deepEqual(nextSlots(s, 2, 330), { late: 10, fire: 5, waitMs: 10 });
    // Exactly LATE_MS late still goes out.
    assert.deepEqual(nextSlots(s, 2, 140), { late: 0, fire: 6, waitMs: 20 });
    assert.deepEqual(nextSlots({ ...s, lateMs: 1000 }, 2, 330), { late: 0, fire: 15, waitMs: 10 });
    // The last slot is 74 (1480 ms); a stall past maxMs still counts only the slots due before it.
    assert.deepEqual(nextSlots(s, 70, 1479), { late: 0, fire: 4, waitMs: 1 });
    assert.deepEqual(nextSlots(s, 73, 1480), { late: 0, fire: 2 });
    assert.deepEqual(nextSlots(s, 60, 99_999), { late: 15, fire: 0 });
    assert.deepEqual(nextSlots(s, 75, 99_999), { late: 0, fire: 0 });
    assert.deepEqual(nextSlots({ ...s, maxCount: 10 }, 0, 5000), { late: 10, fire: 0 });
    assert.deepEqual(nextSlots({ ...s, maxCount: 0 }, 0, 0), { late: 0, fire: 0 });
    assert.deepEqual(nextSlots({ ...s, maxMs: 0 }, 0, 0), { late: 0, fire: 0 });
    // A period that does not divide 1000: 30/s over 1000 ms is exactly 30 slots (0..29).
    const third = { periodMs: 1000 / 30, maxCount: 10_000, maxMs: 1000 };
    let sent = 0;
    for (let ms = 0; ms <= 2000; ms += 0.5) {
      const n = nextSlots(third, sent, ms);
      sent += n.late + n.fire;
    }
    assert.equal(sent, 30);
    assert.equal(nextSlots(third, 30, 2000).waitMs, undefined);
  });

  test("the probing process stalled for 600 ms: the answers that arrived are read, not called timeouts; the overdue slots are late, not sent in a burst", async () => {
    const srv = await httpsServer();
    try {
      const t0 = performance.now();
      const probe = startApiProbe({ url: srv.url, ca: pki.ca.cert, rateHz: 50, timeoutMs: 300, maxCount: 10_000, maxMs: 1500, t0 });
      // Requests in flight, then the event loop blocked (what a starved process looks like to itself).
      await until(() => probe.peek().filter((x) => x.ok).length >= 3, "three answers", 60_000);
      await sleep(15);
      const blockedAt = performance.now() - t0;
      const end = performance.now() + 600;
      while (performance.now() < end) {
        /* busy: no timer, no I/O runs */
      }
      const samples = await probe.done;
      // Slots due while the loop was blocked, more than LATE_MS before it ran again: about 25. (A
      // loaded machine may starve the process at other times too: those slots are late as well.)
      const late = samples.filter((x) => x.error === LATE && x.t >= blockedAt - 25 && x.t <= blockedAt + 600);
      assert.ok(late.length >= 20, `${late.length} late in the block: ${JSON.stringify(samples.map((x) => `${x.t} ${x.error ?? "ok"}`))}`);
      // The server answers at once: a request in flight across the stall got its answer in time
      // (the loop read it before deciding), so no sample is a timeout.
      assert.deepEqual(samples.filter((x) => x.error === "timeout"), []);
      assert.equal(srv.received, samples.filter((x) => !unsent(x)).length);
    } finally {
      await srv.close();
    }
  });

  test("stops by itself after maxCount requests, and early on stop()", async () => {
    const srv = await httpsServer();
    const sentOf = (xs: ApiSample[]) => xs.filter((x) => !unsent(x));
    try {
      // maxMs far away: ending long before it shows that maxCount ended the probe.
      const t0 = performance.now();
      const counted = await startApiProbe({ url: srv.url, ca: pki.ca.cert, rateHz: 100, timeoutMs: NO_TIMEOUT, maxCount: 10, maxMs: 600_000, t0 }).done;
      const took = performance.now() - t0;
      assert.equal(counted.length, 10);
      assert.ok(sentOf(counted).every((x) => x.ok), JSON.stringify(counted));
      assert.ok(took < 300_000, `10 requests at 100/s took ${took} ms`);
      assert.equal(srv.received, sentOf(counted).length);

      const t1 = performance.now();
      const probe = startApiProbe({ url: srv.url, ca: pki.ca.cert, rateHz: 50, timeoutMs: NO_TIMEOUT, maxCount: 100_000, maxMs: 600_000, t0: t1 });
      await until(() => sentOf(probe.peek()).length >= 10, "ten answers", 300_000);
      const seen = probe.peek();
      assert.ok(sentOf(seen).every((x) => x.ok), `peek: ${JSON.stringify(seen)}`);
      assert.ok(seen.every((x, i) => i === 0 || x.t >= seen[i - 1]!.t), "peek is in send order");
      const stoppedAt = performance.now() - t1;
      const early = await probe.stop();
      // Slots are due at 0, 20, 40... ms: at most one per 20 ms elapsed (plus slot 0).
      assert.ok(early.length >= seen.length && early.length <= Math.floor(stoppedAt / 20) + 1, `${early.length} samples in ${stoppedAt} ms at 50/s`);
      assert.ok(sentOf(early).every((x) => x.ok) && early.every((x) => x.t <= stoppedAt));
      // peek leaves out requests still in flight: what it showed is in the final list, in order.
      let j = 0;
      for (const x of early) if (j < seen.length && x === seen[j]) j++;
      assert.equal(j, seen.length, "every peeked sample is in the final list, in the same order");
      // Nothing sent after stop(): the server saw exactly the requests both probes sent.
      const total = sentOf(counted).length + sentOf(early).length;
      assert.equal(srv.received, total);
      await sleep(100);
      assert.equal(srv.received, total, "nothing sent after stop()");
      assert.equal((await probe.stop()).length, early.length);
      assert.equal((await probe.done).length, early.length);
    } finally {
      await srv.close();
    }
  });

  test("a wrong CA or a wrong name yields TLS failures, never ok; the right DNS name verifies", async () => {
    const srv = await httpsServer();
    try {
      const base = { url: srv.url, rateHz: 50, timeoutMs: NO_TIMEOUT, maxCount: 5, maxMs: 600_000, t0: performance.now() };
      // Judged on the probes sent: a slot the probing process was too late for (a loaded machine) is
      // recorded unsent, and says nothing about TLS; each run must have sent some.
      const sent = (xs: ApiSample[]) => {
        const out = xs.filter((x) => !unsent(x));
        assert.ok(out.length > 0, `nothing sent: ${JSON.stringify(xs)}`);
        return out;
      };
      const wrongCa = await startApiProbe({ ...base, ca: otherPki.ca.cert }).done;
      assert.equal(wrongCa.length, 5);
      for (const x of sent(wrongCa)) {
        assert.equal(x.ok, false);
        assert.match(x.error!, /^TLS: [A-Z_]+$/);
      }
      const wrongName = await startApiProbe({ ...base, ca: pki.ca.cert, servername: "other.kubeha.test" }).done;
      assert.deepEqual([...new Set(sent(wrongName).map((x) => `${x.ok} ${x.error}`))], ["false TLS: ERR_TLS_CERT_ALTNAME_INVALID"]);
      const rightName = await startApiProbe({ ...base, ca: pki.ca.cert, servername: "api.kubeha.test" }).done;
      assert.ok(sent(rightName).every((x) => x.ok), JSON.stringify(rightName));
    } finally {
      await srv.close();
    }
  });

  test("a slow server: requests time out, and slots beyond the in-flight cap are skipped, not queued", async () => {
    const srv = await httpsServer();
    // An answer 60 s away: a request that ends before that with "timeout" was ended by the probe.
    const SERVER_DELAY = 60_000;
    srv.mode.delayMs = SERVER_DELAY;
    try {
      const samples = await startApiProbe({ url: srv.url, ca: pki.ca.cert, rateHz: 50, timeoutMs: 200, maxCount: 1000, maxMs: 600, maxInFlight: 3, t0: performance.now() }).done;
      assert.equal(samples.length, 30);
      assert.ok(samples.every((x) => !x.ok));
      const timeouts = samples.filter((x) => x.error === "timeout");
      const skipped = samples.filter((x) => x.error === SKIPPED);
      const late = samples.filter((x) => x.error === LATE);
      assert.equal(timeouts.length + skipped.length + late.length, 30, JSON.stringify(samples));
      // Slots 0-2 find the places free. Slots 3-9 are due (60-180 ms) before any of them can
      // time out (>= 200 ms after its send), and node runs timers in the order they are due, so
      // however late the loop runs, those 7 find the places taken: skipped, not queued (or, on a
      // loop more than LATE_MS late, recorded late and not sent either).
      assert.ok(timeouts.length >= 3 && skipped.length + late.length >= 7, `${timeouts.length} timeouts, ${skipped.length} skipped, ${late.length} late`);
      assert.ok(samples.slice(3, 10).every(unsent), JSON.stringify(samples.slice(3, 10)));
      // Each sent one holds its place >= 200 ms: at most 3 per 200 ms of the schedule are sent.
      assert.ok(timeouts.length <= 3 * (Math.floor(samples.at(-1)!.t / 195) + 1), `${timeouts.length} sent by ${samples.at(-1)!.t} ms`);
      // Never before the timeout, and ended by it: long before the server would have answered.
      assert.ok(timeouts.every((x) => x.ms >= 195 && x.ms < SERVER_DELAY), JSON.stringify(timeouts));
      assert.ok(skipped.every((x) => x.ms === 0) && late.every((x) => x.ms === 0));
      assert.ok(srv.maxConcurrent <= 3, `server saw ${srv.maxConcurrent} requests at once`);
    } finally {
      await srv.close();
    }
  });

  test("a failure says where the exchange was: refused at connect, a silent TCP listener at handshake, a server that never answers at answer", async () => {
    // A listener that accepts and never speaks TLS: the kernel completes the TCP handshake.
    const conns = new Set<Socket>();
    const silent = createNetServer((c) => {
      conns.add(c);
      c.on("error", () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const silentPort = (silent.address() as { port: number }).port;
    const srv = await httpsServer();
    srv.mode.delayMs = 60_000;
    const closedPort = await freePort();
    const one = async (url: string) => (await startApiProbe({ url, ca: pki.ca.cert, rateHz: 10, timeoutMs: 1500, maxCount: 1, maxMs: 100, t0: performance.now() }).done)[0]!;
    try {
      const [refused, handshake, answer] = await Promise.all([one(`https://127.0.0.1:${closedPort}/readyz`), one(`https://127.0.0.1:${silentPort}/readyz`), one(srv.url)]);
      assert.deepEqual([refused.error, refused.phase], ["ECONNREFUSED", "connect"]);
      assert.deepEqual([handshake.error, handshake.phase], ["timeout", "handshake"]);
      assert.deepEqual([answer.error, answer.phase], ["timeout", "answer"]);
      assert.equal(srv.received, 1, "the request reached the server before the timeout");
    } finally {
      await srv.close();
      for (const c of conns) c.destroy();
      await new Promise((r) => silent.close(r));
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
    // Generous: these tests are about acks and fail-over, not speed (the frozen test sets its own).
    client = { endpoints: [etcd.endpoint], ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key, timeoutMs: NO_TIMEOUT };
  });

  after(async () => {
    await etcd?.stop();
    assert.equal(etcd ? alive(etcd.pid) : false, false);
    await cleanStaleRuns();
  });

  test("writes are acked and read back; the checker reports a deleted and a changed key by seq", async () => {
    const prefix = `/kubeha-drill-test/${process.pid}/basic`;
    const writes = await startEtcdWriter({ ...client, prefix, intervalMs: 5, maxCount: 25, maxMs: 600_000, t0: performance.now() }).done;
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

  // Freeze and thaw follow what the writer has done (acks before, time-outs during, acks after),
  // not fixed sleeps, so a loaded machine changes how long it takes, never what it proves.
  test("etcd frozen (SIGSTOP): writes time out and are not acked; after SIGCONT every acked write reads back", async () => {
    const prefix = `/kubeha-drill-test/${process.pid}/frozen`;
    // Long enough for a starved test process to get its acks before the freeze; the freeze is
    // held until two writes have timed out, however long that takes.
    const timeoutMs = 1000;
    const t0 = performance.now();
    const writer = startEtcdWriter({ ...client, prefix, timeoutMs, intervalMs: 20, maxCount: 10_000, maxMs: 600_000, t0 });
    const acked = (from: number) => writer.peek().filter((w) => w.acked && w.t > from).length;
    let frozenAt = 0;
    let thawedAt = 0;
    let writes: Awaited<typeof writer.done>;
    try {
      await until(() => acked(-1) >= 5, "five acked writes", 300_000);
      process.kill(etcd.pid, "SIGSTOP");
      // Frozen once every etcd thread is: a write sent before that could still be answered.
      await untilAsync(() => allStopped(etcd.pid), "every etcd thread stopped", 30_000, 1);
      frozenAt = performance.now() - t0;
      // Two writes started and ended (timed out) while etcd was stopped.
      await until(() => writer.peek().filter((w) => w.t > frozenAt + 5).length >= 2, "two writes while frozen", 300_000);
    } finally {
      process.kill(etcd.pid, "SIGCONT");
      thawedAt = performance.now() - t0;
    }
    try {
      await until(() => acked(thawedAt) >= 3, "three acked writes after the thaw", 300_000);
    } finally {
      writes = await writer.stop();
    }
    const ackedBefore = writes.filter((w) => w.acked && w.t < frozenAt);
    const inWindow = writes.filter((w) => w.t > frozenAt + 5 && w.t + w.ms < thawedAt);
    const ackedAfter = writes.filter((w) => w.acked && w.t > thawedAt);
    assert.ok(ackedBefore.length >= 5, `${ackedBefore.length} acked before the freeze`);
    assert.ok(inWindow.length >= 2, `${inWindow.length} writes while frozen`);
    const host = etcd.endpoint.replace("https://", "");
    for (const w of inWindow) {
      assert.equal(w.acked, false, JSON.stringify(w));
      assert.equal(w.error, `timeout at ${host}`);
      assert.ok(w.ms >= timeoutMs - 5, JSON.stringify(w));
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
    const writes = await startEtcdWriter({ ...client, endpoints, prefix, intervalMs: 5, maxCount: 15, maxMs: 600_000, t0: performance.now() }).done;
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
      maxMs: 600_000,
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
