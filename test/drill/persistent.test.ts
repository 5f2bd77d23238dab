/**
 * The persistent-client lane (src/drill/persistent.ts) against a real local HTTPS server with
 * HTTP/2 (node:http2, TLS, ALPN h2) behind a TCP relay that plays the VIP: new connections are
 * always forwarded (the new holder), while the relay can make the existing ones vanish (stop
 * forwarding, no FIN, no RST: the holder lost power) or reset them (RST). And an HTTP/1.1-only
 * server, where the lane must say it measured HTTP/1.1.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createSecureServer, type Http2SecureServer } from "node:http2";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { createServer, connect, type Server, type Socket, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { persistentFigures, startPersistentClients, type ClientRecord, type LaneResult } from "../../src/drill/persistent.ts";
import { until } from "../helpers/timing.ts";

let dir: string;
let cert: string;
let key: string;
let h2: Http2SecureServer;
let h1: HttpsServer;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const portOf = (s: { address(): AddressInfo | string | null }) => (s.address() as AddressInfo).port;

/** A TCP relay to `target`; `vanish()` silences every connection open now, `reset()` RSTs them. */
function relay(target: number): Promise<{ port: number; vanish(): void; reset(): void; close(): void }> {
  const pairs: [Socket, Socket][] = [];
  const server: Server = createServer((down) => {
    const up = connect(target, "127.0.0.1");
    const fwd = (a: Socket, b: Socket) => a.on("data", (d) => b.write(d));
    fwd(down, up);
    fwd(up, down);
    const end = () => {
      down.destroy();
      up.destroy();
    };
    down.on("error", end).on("close", end);
    up.on("error", end).on("close", end);
    pairs.push([down, up]);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: portOf(server),
        vanish() {
          for (const [d, u] of pairs.splice(0)) {
            for (const s of [d, u]) {
              s.removeAllListeners("data");
              s.removeAllListeners("close");
              s.pause();
            }
            // Keep both ends open and silent; free them when the test is over.
            after(() => {
              d.destroy();
              u.destroy();
            });
          }
        },
        reset() {
          for (const [d, u] of pairs.splice(0)) {
            d.resetAndDestroy();
            u.destroy();
          }
        },
        close() {
          server.close();
          for (const [d, u] of pairs.splice(0)) {
            d.destroy();
            u.destroy();
          }
        },
      }),
    ),
  );
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "kubeha-persistent-"));
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "k.pem"),
    "-out", join(dir, "c.pem"), "-days", "1", "-subj", "/CN=api", "-addext", "subjectAltName=IP:127.0.0.1,DNS:api.test"], { stdio: "ignore" });
  cert = readFileSync(join(dir, "c.pem"), "utf8");
  key = readFileSync(join(dir, "k.pem"), "utf8");
  h2 = createSecureServer({ cert, key, allowHTTP1: true }, (req, res) => {
    if (req.url === "/watch") {
      res.writeHead(200, { "content-type": "application/json" });
      const t = setInterval(() => res.write('{"type":"BOOKMARK"}\n'), 100);
      res.on("close", () => clearInterval(t));
      return;
    }
    res.writeHead(req.url === "/readyz" ? 200 : 404).end("ok");
  });
  h1 = createHttpsServer({ cert, key }, (req, res) => res.writeHead(req.url === "/readyz" ? 200 : 404).end("ok"));
  await new Promise<void>((r) => h2.listen(0, "127.0.0.1", r));
  await new Promise<void>((r) => h1.listen(0, "127.0.0.1", r));
});

after(() => {
  h2.close();
  h1.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs a lane of 2 clients (GET every 100 ms) through `port`; `during` gets the lane's clock and
 * records to wait on (events, not sleeps: a starved test process may take seconds per request).
 */
async function lane(
  port: number,
  over: Partial<Parameters<typeof startPersistentClients>[0]>,
  during: (l: { now: () => number; clients: () => readonly ClientRecord[] }) => Promise<void>,
): Promise<LaneResult> {
  const t0 = performance.now();
  const l = startPersistentClients({ url: `https://127.0.0.1:${port}/readyz`, ca: cert, servername: "api.test", clients: 2, intervalMs: 100, t0, maxMs: 120_000, ...over });
  let res: LaneResult;
  try {
    assert.equal(await l.ready, port === portOf(h1) ? "http/1.1" : "h2", "the protocol ALPN selected");
    await during({ now: () => performance.now() - t0, clients: l.peek });
  } finally {
    res = await l.stop();
  }
  return res;
}

/** Every client has at least `n` answers after `t`. */
const answeredAfter = (clients: () => readonly ClientRecord[], t: number, n: number) => () => clients().every((c) => c.answers.filter((a) => a > t).length >= n);

test("a server that vanishes (no RST): the HTTP/2 PING health check drops the dead connection and the clients reconnect", async () => {
  const r = await relay(portOf(h2));
  let vanishedAt = 0;
  try {
    const res = await lane(r.port, { readIdleMs: 600, pingTimeoutMs: 400, watchPath: "/watch" }, async (l) => {
      await until(answeredAfter(l.clients, 0, 2), "two answers per client", 300_000);
      r.vanish();
      vanishedAt = l.now();
      await until(() => l.clients().every((c) => c.reconnects >= 1 && c.watchRestarts >= 1 && c.answers.filter((a) => a > c.drops.at(-1)!.t).length >= 2), "reconnects, reopened watches and answers", 300_000);
    });
    const f = persistentFigures(res);
    assert.equal(f.protocol, "h2");
    for (const c of res.clients) {
      // (A stall of this process can also time out a PING to the in-process server before the
      // vanish; the drop that counts is the one after it.)
      const ping = c.drops.find((d) => d.why === "PING timeout" && d.t >= vanishedAt);
      assert.ok(ping, `no PING timeout: ${JSON.stringify(c.drops)}`);
      // Well before client-go's defaults (30 s + 15 s) would have acted: these settings were used.
      // (No lower bound from the vanish: a PING that a stall of this process sent just before it
      // times out 400 ms after it was sent, as client-go's would.)
      assert.ok(ping.t - vanishedAt < 30_000, `dropped ${ping.t - vanishedAt} ms after the vanish`);
    }
  } finally {
    r.close();
  }
});

test("with client-go's default health check (30 s + 15 s) the same vanish leaves the clients hanging for the whole outage", async () => {
  const r = await relay(portOf(h2));
  try {
    const res = await lane(r.port, {}, async (l) => {
      await until(answeredAfter(l.clients, 0, 2), "two answers per client", 300_000);
      r.vanish();
      await sleep(2500);
    });
    const f = persistentFigures(res);
    assert.equal(f.reconnects, 0);
    assert.ok(f.longestNoAnswerMs >= 2400, `longest without an answer ${f.longestNoAnswerMs} ms`);
  } finally {
    r.close();
  }
});

test("a server that resets (RST): the clients notice at once and reconnect", async () => {
  const r = await relay(portOf(h2));
  let resetAt = 0;
  try {
    const res = await lane(r.port, {}, async (l) => {
      await until(answeredAfter(l.clients, 0, 2), "two answers per client", 300_000);
      r.reset();
      resetAt = l.now();
      await until(answeredAfter(l.clients, resetAt, 2), "two answers per client after the reset", 300_000);
    });
    const f = persistentFigures(res);
    assert.equal(f.protocol, "h2");
    assert.ok(f.reconnects >= 2, `reconnects ${f.reconnects}`);
    assert.ok(res.clients.every((c) => c.drops.some((d) => /ECONNRESET|closed/.test(d.why))), JSON.stringify(res.clients.map((c) => c.drops)));
    // At once: the reset itself ends the connection, no health check (30 s + 15 s) involved.
    assert.ok(res.clients.every((c) => c.drops.every((d) => d.why !== "PING timeout")), JSON.stringify(res.clients.map((c) => c.drops)));
    assert.ok(f.longestNoAnswerMs < 30_000, `longest without an answer ${f.longestNoAnswerMs} ms`);
  } finally {
    r.close();
  }
});

test("an HTTP/1.1-only server: the lane measures HTTP/1.1 keep-alive and says so; one connection per client when nothing hangs", async () => {
  const res = await lane(portOf(h1), {}, (l) => until(answeredAfter(l.clients, 0, 20), "twenty answers per client", 300_000));
  const f = persistentFigures(res);
  assert.equal(f.protocol, "http/1.1");
  assert.equal(f.failedRequests, 0);
  // Keep-alive: connections are reused. (A GET still in flight at the next tick opens a second
  // connection, as Go's Transport does; a starved test process makes that happen, so the proof is
  // far fewer connections than requests, not exactly one.)
  for (const c of res.clients) assert.ok(c.answers.length >= 20 && c.reconnects < c.answers.length / 2, `answers ${c.answers.length}, reconnects ${c.reconnects}`);
  assert.ok(res.clients.every((c) => c.drops.length === 0), JSON.stringify(res.clients.map((c) => c.drops)));
});

test("persistentFigures: gaps from the start, between answers and to the end; the max over clients; reconnects summed", () => {
  const client = (answers: number[], reconnects: number) => ({ answers, failures: [], reconnects, drops: [], watchRestarts: 0 });
  const r: LaneResult = {
    protocol: "h2", from: 1000, to: 5000,
    clients: [client([1200, 1400, 3400, 4900], 1), client([1100, 4000], 2)],
    settings: { clients: 2, intervalMs: 200, readIdleMs: 30_000, pingTimeoutMs: 15_000, watchPath: null },
  };
  const f = persistentFigures(r);
  assert.equal(f.longestNoAnswerMs, 2900);
  assert.equal(f.reconnects, 3);
  assert.equal(persistentFigures({ ...r, clients: [client([], 0)] }).longestNoAnswerMs, 4000, "no answer at all: the whole lane");
  assert.equal(persistentFigures(r, 4100).longestNoAnswerMs, 900, "only the parts of gaps inside the window (4100..5000)");
});
