/**
 * The persistent-client lane: K clients that behave like client-go (kubelets, controllers,
 * kubectl) rather than like the new-connection probe in probes.ts. Each keeps ONE long-lived
 * connection through the VIP and reuses it:
 * - HTTP/2 when the server offers it in ALPN (the real kube-apiserver does); otherwise HTTP/1.1
 *   keep-alive, and the result says which protocol was measured (`protocol`).
 * - a GET every `intervalMs` (default 200 ms) on that connection, with no per-request timeout
 *   (client-go sets none for ordinary requests: a request to a vanished holder just waits);
 * - optionally one watch-like long stream (`watchPath`), reopened when the server ends it;
 * - HTTP/2 health check as client-go's http2 transport: after `readIdleMs` (default 30 s) with no
 *   frame read, send a PING; no ACK within `pingTimeoutMs` (default 15 s) closes the connection.
 *   A connection that errors or closes (RST, FIN) is replaced on the next request: a reconnect.
 * HTTP/1.1 has no PING: like Go's Transport, a request that finds no idle connection opens a
 * new one, so a hung request holds only its own connection.
 *
 * Figures (per client, in figures.ts terms "answers" are 2xx responses): the longest time
 * without an answer and the number of reconnects. This module is an edge (sockets, clock).
 */
import { connect as tlsConnect, checkServerIdentity, type PeerCertificate, type TLSSocket } from "node:tls";
import { connect as h2Connect, constants as h2c, type ClientHttp2Session } from "node:http2";
import { Agent, request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import { performance } from "node:perf_hooks";
import { KubehaError } from "../errors.ts";
import { shortReason } from "./probes.ts";

export type Protocol = "h2" | "http/1.1";

export interface PersistentOptions {
  /** `https://VIP:PORT` + API_PROBE_PATH (load.ts): what each client GETs. */
  url: string;
  ca: string;
  /** Name the certificate must be valid for; default: the URL's host. */
  servername?: string;
  /** K: how many clients (default 3). */
  clients?: number;
  /** Time between two GETs of one client (default 200 ms). */
  intervalMs?: number;
  /** A path whose answer streams (a watch). Omitted: no stream. */
  watchPath?: string;
  /** HTTP/2 health check, client-go's defaults: PING after 30 s without a frame read... */
  readIdleMs?: number;
  /** ...and the connection is closed when the PING is not acknowledged within 15 s. */
  pingTimeoutMs?: number;
  /** `performance.now()` at the scenario's t = 0; times are relative to it. */
  t0: number;
  /** Hard bound on the lane's life (ms after t0). */
  maxMs: number;
}

/** What one client saw, on the scenario's clock. */
export interface ClientRecord {
  /** Times (ms) of the 2xx answers, ascending. */
  answers: number[];
  /** Failed requests: when each was sent and why (a request still waiting at the end is "no answer"). */
  failures: { t: number; error: string }[];
  /** Connections opened after the first one. */
  reconnects: number;
  /** When each connection was declared dead and why ("PING timeout", "ECONNRESET", "closed"...). */
  drops: { t: number; why: string }[];
  /** Times the watch stream was (re)opened after its first start. */
  watchRestarts: number;
}

export interface LaneResult {
  protocol: Protocol;
  /** The lane's start and end on the scenario's clock. */
  from: number;
  to: number;
  clients: ClientRecord[];
  settings: { clients: number; intervalMs: number; readIdleMs: number; pingTimeoutMs: number; watchPath: string | null };
}

export interface RunningLane {
  /** Resolves once the protocol is known and every client has its first connection. */
  ready: Promise<Protocol>;
  /** Each client's record so far (live; read it, do not change it). */
  peek(): readonly ClientRecord[];
  stop(): Promise<LaneResult>;
}

/** Which protocol the server selects when offered h2 and http/1.1 (one TLS handshake). */
export function negotiate(o: { url: URL; ca: string; verifyName: string }, timeoutMs = 5000): Promise<Protocol> {
  return new Promise((resolve, reject) => {
    const s = tlsSocket(o, ["h2", "http/1.1"]);
    const timer = setTimeout(() => s.destroy(new Error("timeout")), timeoutMs);
    s.once("secureConnect", () => {
      clearTimeout(timer);
      resolve(s.alpnProtocol === "h2" ? "h2" : "http/1.1");
      s.end();
    });
    s.once("error", (e) => {
      clearTimeout(timer);
      reject(new KubehaError(`persistent clients: TLS to ${o.url.host} failed (${shortReason(e)})`, "the drill's new-connection probe shows whether the endpoint answers at all"));
    });
  });
}

function tlsSocket(o: { url: URL; ca: string; verifyName: string }, alpn: string[]): TLSSocket {
  return tlsConnect({
    host: o.url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: Number(o.url.port || 443),
    ca: o.ca,
    ALPNProtocols: alpn,
    ...(isIP(o.verifyName) ? {} : { servername: o.verifyName }),
    checkServerIdentity: (_h: string, cert: PeerCertificate) => checkServerIdentity(o.verifyName, cert),
  });
}

/** Starts K persistent clients; they run until `stop()` or `maxMs`. */
export function startPersistentClients(opts: PersistentOptions): RunningLane {
  const url = new URL(opts.url);
  if (url.protocol !== "https:") throw new KubehaError(`persistent clients: ${opts.url} is not https`);
  const o = {
    url,
    ca: opts.ca,
    verifyName: opts.servername ?? url.hostname.replace(/^\[(.*)\]$/, "$1"),
    clients: opts.clients ?? 3,
    intervalMs: opts.intervalMs ?? 200,
    readIdleMs: opts.readIdleMs ?? 30_000,
    pingTimeoutMs: opts.pingTimeoutMs ?? 15_000,
    watchPath: opts.watchPath ?? null,
  };
  const now = () => Math.round(performance.now() - opts.t0);
  const from = now();
  let stopped = false;
  const stoppers: (() => void)[] = [];
  const records: ClientRecord[] = [];
  let protocol: Protocol = "http/1.1";
  const bound = setTimeout(() => void stop(), Math.max(0, opts.maxMs - from));

  const ready = negotiate(o).then(async (p) => {
    protocol = p;
    const starts: Promise<void>[] = [];
    for (let i = 0; i < o.clients; i++) {
      const rec: ClientRecord = { answers: [], failures: [], reconnects: 0, drops: [], watchRestarts: 0 };
      records.push(rec);
      const c = p === "h2" ? h2Client(o, rec, now, () => stopped) : h1Client(o, rec, now, () => stopped);
      stoppers.push(c.stop);
      starts.push(c.started);
    }
    await Promise.all(starts);
    return p;
  });

  async function stop(): Promise<LaneResult> {
    if (!stopped) {
      stopped = true;
      clearTimeout(bound);
      await ready.catch(() => undefined);
      for (const s of stoppers) s();
    }
    return { protocol, from, to: now(), clients: records, settings: { clients: o.clients, intervalMs: o.intervalMs, readIdleMs: o.readIdleMs, pingTimeoutMs: o.pingTimeoutMs, watchPath: o.watchPath } };
  }
  return { ready, stop, peek: () => records };
}

type Conf = { url: URL; ca: string; verifyName: string; intervalMs: number; readIdleMs: number; pingTimeoutMs: number; watchPath: string | null };

/** One HTTP/2 client: one session, GETs on it, PING health check, a reconnect when it dies. */
function h2Client(o: Conf, rec: ClientRecord, now: () => number, isStopped: () => boolean): { started: Promise<void>; stop: () => void } {
  let session: ClientHttp2Session | undefined;
  let lastRead = now();
  let pingSent: number | undefined;
  let opened = 0;
  let watchOpen = false;
  let watchStarts = 0;

  const drop = (s: ClientHttp2Session, why: string) => {
    if (session !== s) return;
    session = undefined;
    watchOpen = false;
    rec.drops.push({ t: now(), why });
    s.destroy();
  };
  const open = (): ClientHttp2Session => {
    if (session && !session.closed && !session.destroyed) return session;
    if (opened++ > 0) rec.reconnects++;
    const s = h2Connect(o.url.origin, { createConnection: () => tlsSocket(o, ["h2"]) });
    session = s;
    lastRead = now();
    pingSent = undefined;
    s.on("error", (e) => drop(s, shortReason(e)));
    s.on("close", () => drop(s, "closed"));
    s.on("goaway", () => drop(s, "GOAWAY"));
    s.on("frameError", () => drop(s, "frame error"));
    return s;
  };
  const get = () => {
    const t = now();
    let s: ClientHttp2Session;
    try {
      s = open();
    } catch (e) {
      rec.failures.push({ t, error: shortReason(e) });
      return;
    }
    const req = s.request({ [h2c.HTTP2_HEADER_PATH]: o.url.pathname + o.url.search });
    let status = 0;
    req.on("response", (h) => {
      lastRead = now();
      status = Number(h[h2c.HTTP2_HEADER_STATUS]);
    });
    req.on("data", () => (lastRead = now()));
    req.on("end", () => {
      lastRead = now();
      if (status >= 200 && status < 300) rec.answers.push(now());
      else rec.failures.push({ t, error: `HTTP ${status}` });
    });
    req.on("error", (e) => rec.failures.push({ t, error: shortReason(e) }));
    req.end();
  };
  const watch = () => {
    if (!o.watchPath || watchOpen || isStopped()) return;
    let s: ClientHttp2Session;
    try {
      s = open();
    } catch {
      return;
    }
    watchOpen = true;
    if (watchStarts++ > 0) rec.watchRestarts++;
    const w = s.request({ [h2c.HTTP2_HEADER_PATH]: o.watchPath });
    w.on("response", () => (lastRead = now()));
    w.on("data", () => (lastRead = now()));
    const ended = () => {
      if (session === s) watchOpen = false;
    };
    w.on("end", ended);
    w.on("close", ended);
    w.on("error", ended);
    w.end();
  };
  // client-go's health check (golang.org/x/net/http2 ReadIdleTimeout / PingTimeout).
  const health = () => {
    const s = session;
    if (!s || s.destroyed) return;
    const t = now();
    if (pingSent !== undefined) {
      // Decided after this turn's I/O: when kubeha's own event loop stalled, the timers run before
      // the socket is read, and an acknowledgement that arrived in time must not count as missing.
      const sent = pingSent;
      if (t - sent >= o.pingTimeoutMs) setImmediate(() => pingSent === sent && drop(s, "PING timeout"));
      return;
    }
    if (t - lastRead >= o.readIdleMs) {
      pingSent = t;
      s.ping((err) => {
        if (session !== s) return;
        if (err) return drop(s, shortReason(err));
        lastRead = now();
        pingSent = undefined;
      });
    }
  };
  const tick = setInterval(() => {
    if (isStopped()) return;
    get();
    watch();
  }, o.intervalMs);
  const hc = setInterval(health, Math.max(10, Math.min(1000, Math.floor(o.pingTimeoutMs / 5), Math.floor(o.readIdleMs / 5))));
  const started = new Promise<void>((resolve) => {
    const s = open();
    const done = () => resolve();
    s.once("connect", done);
    s.once("error", done);
    s.once("close", done);
    watch();
  });
  return {
    started,
    stop: () => {
      clearInterval(tick);
      clearInterval(hc);
      const s = session;
      session = undefined;
      s?.destroy();
    },
  };
}

/**
 * One HTTP/1.1 keep-alive client: an agent that reuses an idle connection and opens another only
 * when none is idle (Go's Transport does the same), the watch on a connection of its own.
 */
function h1Client(o: Conf, rec: ClientRecord, now: () => number, isStopped: () => boolean): { started: Promise<void>; stop: () => void } {
  let opened = 0;
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const base = agent.createConnection.bind(agent);
  agent.createConnection = ((options: object, cb?: unknown) => {
    if (opened++ > 0) rec.reconnects++;
    return base({ ...options, ALPNProtocols: ["http/1.1"] } as never, cb as never);
  }) as typeof agent.createConnection;
  const reqOpts = (path: string) => ({
    host: o.url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: Number(o.url.port || 443),
    path,
    agent,
    ca: o.ca,
    ...(isIP(o.verifyName) ? {} : { servername: o.verifyName }),
    checkServerIdentity: (_h: string, cert: PeerCertificate) => checkServerIdentity(o.verifyName, cert),
  });
  const pending = new Set<ReturnType<typeof httpsRequest>>();
  const get = (): Promise<void> =>
    new Promise((resolve) => {
      const t = now();
      const req = httpsRequest(reqOpts(o.url.pathname + o.url.search), (res) => {
        res.resume();
        res.on("end", () => {
          pending.delete(req);
          const st = res.statusCode ?? 0;
          if (st >= 200 && st < 300) rec.answers.push(now());
          else rec.failures.push({ t, error: `HTTP ${st}` });
          resolve();
        });
      });
      pending.add(req);
      req.on("error", (e) => {
        pending.delete(req);
        if (!isStopped()) {
          rec.failures.push({ t, error: shortReason(e) });
          rec.drops.push({ t: now(), why: shortReason(e) });
        }
        resolve();
      });
      req.end();
    });
  let watchStarts = 0;
  let watchOpen = false;
  const watch = () => {
    if (!o.watchPath || watchOpen || isStopped()) return;
    watchOpen = true;
    if (watchStarts++ > 0) rec.watchRestarts++;
    const req = httpsRequest(reqOpts(o.watchPath), (res) => {
      res.resume();
      res.on("end", () => (watchOpen = false));
    });
    pending.add(req);
    req.on("error", () => (watchOpen = false));
    req.on("close", () => {
      pending.delete(req);
      watchOpen = false;
    });
    req.end();
  };
  // The schedule starts after the first answer, so the first GETs do not race the first handshake
  // into opening a second connection.
  let tick: NodeJS.Timeout | undefined;
  const started = get().then(() => {
    if (isStopped()) return;
    tick = setInterval(() => {
      if (isStopped()) return;
      void get();
      watch();
    }, o.intervalMs);
    watch();
  });
  return {
    started,
    stop: () => {
      clearInterval(tick);
      for (const r of pending) r.destroy();
      agent.destroy();
    },
  };
}

/** The lane's figures: the longest time any client went without an answer, and reconnects. */
export interface PersistentFigures {
  protocol: Protocol;
  clients: number;
  /**
   * Longest time one client went without a 2xx answer: the largest gap between two consecutive
   * answers of a client, including from the lane's start to its first answer and from its last
   * answer to the lane's end; the maximum over the clients.
   */
  longestNoAnswerMs: number;
  /** Connections opened after each client's first, summed over the clients. */
  reconnects: number;
  failedRequests: number;
}

/**
 * Figures of one lane run (pure). `windowFrom`: gaps that end before it are not counted (the
 * lane's start-up); default the lane's start.
 */
export function persistentFigures(r: LaneResult, windowFrom = r.from): PersistentFigures {
  let longest = 0;
  for (const c of r.clients) {
    const ts = [r.from, ...c.answers.filter((t) => t >= r.from && t <= r.to), r.to].sort((a, b) => a - b);
    for (let i = 1; i < ts.length; i++) if (ts[i]! >= windowFrom) longest = Math.max(longest, ts[i]! - Math.max(ts[i - 1]!, windowFrom));
  }
  return {
    protocol: r.protocol,
    clients: r.clients.length,
    longestNoAnswerMs: longest,
    reconnects: r.clients.reduce((n, c) => n + c.reconnects, 0),
    failedRequests: r.clients.reduce((n, c) => n + c.failures.length, 0),
  };
}
