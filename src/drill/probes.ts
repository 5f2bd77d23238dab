/**
 * The two probes a drill runs from the machine that runs kubeha while a fault is injected, and
 * the etcd read-back that proves no acknowledged write was lost. This module is the drill's edge:
 * it opens sockets and reads the clock. Everything that can be pure (what the samples mean) is
 * in figures.ts.
 *
 * Both probes are bounded in count and time, stop early on `stop()`, and never retry: a retried
 * API request would hide a failed one, a retried etcd write (same seq) would hide a lost one.
 * Errors name the endpoint and the reason, never key material.
 */
import { request, type RequestOptions } from "node:https";
import { checkServerIdentity, createSecureContext, type PeerCertificate, type SecureContext } from "node:tls";
import { isIP } from "node:net";
import { performance } from "node:perf_hooks";
import { X509Certificate } from "node:crypto";
import { KubehaError } from "../errors.ts";
import type { ApiSample, EtcdWrite, ExchangePhase } from "./types.ts";

/** A running probe. Both promises resolve with every record, in send order. */
export interface RunningProbe<T> {
  /** Ends the probe early: no new request is sent; the ones in flight finish or time out. */
  stop(): Promise<T[]>;
  /** Resolves once the probe has ended, by its bounds or by `stop()`, and nothing is in flight. */
  done: Promise<T[]>;
  /** The records finished so far, in send order (requests still in flight are left out). */
  peek(): T[];
}

// The two errors of slots that were not sent (defined with the sample type, which figures.ts reads).
import { LATE, SKIPPED } from "./types.ts";

/** How late a slot may still go out (five slots at 50/s); later ones are recorded as LATE. */
export const LATE_MS = 100;

/** Default cap on API requests in flight at once (see ApiProbeOptions.maxInFlight). */
export const DEFAULT_MAX_IN_FLIGHT = 8;

export interface ApiProbeOptions {
  /** `https://VIP:PORT` + API_PROBE_PATH (load.ts). */
  url: string;
  /** PEM CA bundle the server certificate must chain to. */
  ca: string;
  /** Name the server certificate must be valid for; default: the URL's host. Sent as SNI when it is a DNS name. */
  servername?: string;
  /** Requests per second, on a fixed schedule. */
  rateHz: number;
  /** Per-request limit, from send to the end of the answer. */
  timeoutMs: number;
  /** At most this many requests (slots) in all. */
  maxCount: number;
  /** No slot is scheduled this long or later after the start. */
  maxMs: number;
  /** `performance.now()` at the scenario's t = 0; sample times are relative to it. */
  t0: number;
  /**
   * At most this many requests in flight at once (default DEFAULT_MAX_IN_FLIGHT). A slot that
   * finds the cap reached is recorded as failed with error SKIPPED instead of being queued, so
   * the send times stay on the schedule. Optional addition to the brief's shape.
   */
  maxInFlight?: number;
}

/** Options shared by every etcd call: the client endpoints and mutual-TLS material. */
export interface EtcdClientOptions {
  /** `https://IP:2379` client URLs, tried in this order. */
  endpoints: string[];
  /** PEM CA bundle of etcd's server certificates. */
  ca: string;
  /** PEM client certificate (clientAuth) and its key. The key is never logged. */
  cert: string;
  key: string;
  /** Key prefix, e.g. `/kubeha-drill/<run id>`: keys are `<prefix>/<seq, zero-padded>`. */
  prefix: string;
  /** Per-request limit. */
  timeoutMs: number;
}

export interface EtcdWriterOptions extends EtcdClientOptions {
  /** Time between the starts of two writes (a write that takes longer delays the next one). */
  intervalMs: number;
  /** At most this many writes. */
  maxCount: number;
  /** No write starts this long or later after the start. */
  maxMs: number;
  /** `performance.now()` at the scenario's t = 0. */
  t0: number;
}

/** Answer bodies larger than this are refused (a range page of 1000 small keys is ~200 kB). */
const MAX_BODY = 16 * 1024 * 1024;
/** Keys per range page in readBack, unless told otherwise. */
const PAGE_LIMIT = 1000;
/** readBack gives up after this many pages (PAGE_LIMIT each): the probes never write that many. */
const MAX_PAGES = 10_000;
const SEQ_DIGITS = 10;

const round = (ms: number) => Math.round(ms * 10) / 10;

/** The etcd key of write `seq`: zero-padded so key order is numeric order. */
export function etcdKey(prefix: string, seq: number): string {
  return `${prefix}/${String(seq).padStart(SEQ_DIGITS, "0")}`;
}

/** Short reason for a failed request: the syscall code, or "TLS: <code>" for TLS failures. */
export function shortReason(e: unknown): string {
  const err = e as { code?: unknown; message?: unknown };
  const code = typeof err.code === "string" ? err.code : undefined;
  if (code) {
    // Socket errors: ECONNREFUSED, ECONNRESET, EHOSTUNREACH, ETIMEDOUT...
    if (/^E[A-Z0-9]+$/.test(code)) return code;
    // Node's TLS codes and OpenSSL verify codes (UNABLE_TO_VERIFY_LEAF_SIGNATURE...).
    if (/^ERR_(TLS|SSL)_/.test(code) || !/^(ERR_|HPE_)/.test(code)) return `TLS: ${code}`;
    return code;
  }
  const msg = typeof err.message === "string" ? err.message : String(e);
  return msg.length > 80 ? `${msg.slice(0, 77)}...` : msg;
}

interface Target {
  url: URL;
  ctx: SecureContext;
  /** Name the server certificate is checked against. */
  verifyName: string;
}

type CallResult = { status: number; body: string } | { error: string; phase: ExchangePhase };

/** How late a timeout check may run before the probing process counts as stalled (timers run a few ms late on a busy machine). */
const STALL_MS = 50;
/** A stalled process extends one exchange's deadline at most this often (each stall is bounded, so is the wait). */
const MAX_STALL_EXTENSIONS = 3;

/** One HTTPS request on a new connection; never throws; bounded by timeoutMs of time the process could run (see STALL_MS). */
function call(t: Target, method: "GET" | "POST", path: string, body: string | undefined, timeoutMs: number): Promise<CallResult> {
  return new Promise((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let phase: ExchangePhase = "connect";
    const finish = (r: { status: number; body: string } | { error: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve("error" in r ? { error: r.error, phase } : r);
    };
    const host = t.url.hostname.replace(/^\[(.*)\]$/, "$1");
    const options: RequestOptions & { secureContext: SecureContext } = {
      host,
      port: Number(t.url.port || 443),
      path,
      method,
      // A new connection per request: a failover must be seen by the TLS handshake, not hidden
      // behind a kept-alive socket to the old holder.
      agent: false,
      secureContext: t.ctx,
      rejectUnauthorized: true,
      // SNI must be a DNS name (RFC 6066); an IP is verified through checkServerIdentity only.
      ...(isIP(t.verifyName) ? {} : { servername: t.verifyName }),
      checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(t.verifyName, cert),
      headers: body === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
    };
    let req: ReturnType<typeof request>;
    try {
      req = request(options, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY) {
            finish({ error: "answer too large" });
            req.destroy();
          } else chunks.push(c);
        });
        res.on("end", () => finish({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", (e) => finish({ error: shortReason(e) }));
      });
    } catch (e) {
      finish({ error: shortReason(e) });
      return;
    }
    // Decided after the I/O the loop has pending (setImmediate runs after the poll phase): when the
    // probing process itself stalled, an answer that arrived in time is read, not called a timeout.
    // A stall also halts an exchange midway (a TLS handshake takes several turns of the loop), so a
    // check that runs more than STALL_MS late gives the exchange back the time the process lost,
    // at most MAX_STALL_EXTENSIONS times: timeoutMs is time the probing process could run.
    let extensions = 0;
    const arm = (ms: number) => {
      const due = performance.now() + ms;
      timer = setTimeout(() => setImmediate(() => {
        if (settled) return;
        const lost = performance.now() - due;
        if (lost > STALL_MS && extensions < MAX_STALL_EXTENSIONS) {
          extensions++;
          arm(lost);
          return;
        }
        finish({ error: "timeout" });
        req.destroy();
      }), ms);
    };
    arm(timeoutMs);
    req.on("socket", (sock) => {
      sock.once("connect", () => (phase = phase === "connect" ? "handshake" : phase));
      sock.once("secureConnect", () => (phase = "answer"));
    });
    req.on("error", (e) => finish({ error: shortReason(e) }));
    req.end(body);
  });
}

function positive(name: string, v: number, allowZero = false): void {
  if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
    throw new KubehaError(`drill probe: ${name} must be a ${allowZero ? "non-negative" : "positive"} number, got ${v}`);
  }
}

function httpsUrl(u: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    throw new KubehaError(`${what} ${JSON.stringify(u)} is not a URL`, "give an https:// URL with host and port");
  }
  if (url.protocol !== "https:") throw new KubehaError(`${what} ${u} is not https`, "the probes speak TLS only: give an https:// URL");
  return url;
}

function secureContext(material: { ca: string; cert?: string; key?: string }, what: string): SecureContext {
  try {
    // createSecureContext quietly ignores a CA that is not PEM (every handshake would then fail
    // later, looking like an outage): parse it first.
    new X509Certificate(material.ca);
    return createSecureContext(material);
  } catch (e) {
    // OpenSSL's message names the failing decoder, never the key; the code alone is enough.
    const code = (e as { code?: string }).code ?? "unreadable PEM";
    throw new KubehaError(`${what}: the TLS material cannot be loaded (${code})`, "check that the CA, certificate and key are PEM and that the key matches the certificate");
  }
}

/** What the API probe's schedule says at one moment: slots to send now, then how long to wait. */
export interface SlotStep {
  /** The first due slots, each more than lateMs overdue: record them LATE, unsent (a late loop does not drift). */
  late: number;
  /** The due slots after those: send them now, in order. */
  fire: number;
  /** Time until the next slot is due; undefined when no slot is left (maxCount or maxMs reached). */
  waitMs?: number;
}

/**
 * The API probe's fixed schedule, pure: slot i is due at i * periodMs after the start, no slot is
 * due at maxMs or later, at most maxCount slots. `sent` slots went out already; `elapsedMs` is
 * the time since the start.
 */
export function nextSlots(s: { periodMs: number; maxCount: number; maxMs: number; lateMs?: number }, sent: number, elapsedMs: number): SlotStep {
  // Counted with the same products the due times use (i * periodMs), so that a period such as
  // 1000/30 ms cannot gain or lose a slot to division rounding.
  let inTime = Math.ceil(s.maxMs / s.periodMs);
  while (inTime > 0 && (inTime - 1) * s.periodMs >= s.maxMs) inTime--;
  while (inTime * s.periodMs < s.maxMs) inTime++;
  const last = Math.min(s.maxCount, inTime) - 1;
  let due = Math.floor(elapsedMs / s.periodMs);
  while (due >= 0 && due * s.periodMs > elapsedMs) due--;
  while ((due + 1) * s.periodMs <= elapsedMs) due++;
  const dueNow = Math.min(last, due);
  const dueCount = Math.max(0, dueNow - sent + 1);
  // Slot i is late when elapsedMs - i * periodMs > lateMs; the late ones are the first due ones.
  let late = 0;
  while (late < dueCount && elapsedMs - (sent + late) * s.periodMs > (s.lateMs ?? LATE_MS)) late++;
  const fire = dueCount - late;
  const after = sent + dueCount;
  if (after > last) return { late, fire };
  return { late, fire, waitMs: Math.max(0, after * s.periodMs - elapsedMs) };
}

/**
 * Starts the API probe: GET `url` on a fixed schedule (one slot every 1000/rateHz ms from the
 * start), each on a new TLS connection with the server certificate verified against `ca` and
 * `servername` (or the URL's host). A sample is ok on HTTP 200. Failures: "timeout",
 * "ECONNREFUSED", "ECONNRESET", "EHOSTUNREACH", "HTTP <code>", "TLS: <code>", SKIPPED, LATE.
 * Ends by itself after maxCount slots or maxMs; a late event loop sends the slots due within
 * LATE_MS (each keeps its own actual send time) and records the older ones LATE.
 */
export function startApiProbe(o: ApiProbeOptions): RunningProbe<ApiSample> {
  positive("rateHz", o.rateHz);
  positive("timeoutMs", o.timeoutMs);
  positive("maxCount", o.maxCount, true);
  positive("maxMs", o.maxMs, true);
  const url = httpsUrl(o.url, "API probe URL");
  const target: Target = {
    url,
    ctx: secureContext({ ca: o.ca }, `API probe of ${url.host}`),
    verifyName: o.servername ?? url.hostname.replace(/^\[(.*)\]$/, "$1"),
  };
  const path = url.pathname + url.search;
  const cap = o.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  positive("maxInFlight", cap);
  const period = 1000 / o.rateHz;

  const samples: ApiSample[] = [];
  const pending = new Set<Promise<void>>();
  let inFlight = 0;
  let slot = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let resolveDone!: (s: ApiSample[]) => void;
  const done = new Promise<ApiSample[]>((r) => (resolveDone = r));
  const start = performance.now();

  const fire = (i: number) => {
    const sent = performance.now();
    const t = round(sent - o.t0);
    if (inFlight >= cap) {
      samples[i] = { t, ms: 0, ok: false, error: SKIPPED };
      return;
    }
    inFlight++;
    const p = call(target, "GET", path, undefined, o.timeoutMs).then((r) => {
      inFlight--;
      const ms = round(performance.now() - sent);
      if ("error" in r) samples[i] = { t, ms, ok: false, error: r.error, phase: r.phase };
      else if (r.status === 200) samples[i] = { t, ms, ok: true };
      else samples[i] = { t, ms, ok: false, error: `HTTP ${r.status}` };
    });
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  const end = () => {
    if (stopped) return;
    stopped = true;
    if (timer) clearTimeout(timer);
    void Promise.all([...pending]).then(() => resolveDone(samples.slice(0, slot)));
  };

  const tick = () => {
    timer = undefined;
    if (stopped) return;
    const now = performance.now();
    const next = nextSlots({ periodMs: period, maxCount: o.maxCount, maxMs: o.maxMs }, slot, now - start);
    for (let k = 0; k < next.late; k++, slot++) samples[slot] = { t: round(start + slot * period - o.t0), ms: 0, ok: false, error: LATE };
    for (let k = 0; k < next.fire && !stopped; k++) fire(slot++);
    if (stopped) return;
    if (next.waitMs === undefined) return end();
    timer = setTimeout(tick, next.waitMs);
  };
  tick();

  return {
    stop() {
      end();
      return done;
    },
    done,
    // A sparse slot is a request still in flight; filter() skips holes.
    peek: () => samples.slice(0, slot).filter(() => true),
  };
}

function etcdTargets(o: EtcdClientOptions, what: string): Target[] {
  checkPrefix(o.prefix);
  positive("timeoutMs", o.timeoutMs);
  if (o.endpoints.length === 0) throw new KubehaError(`${what}: no etcd endpoints`, "give at least one https://IP:2379 client URL");
  const ctx = secureContext({ ca: o.ca, cert: o.cert, key: o.key }, what);
  return o.endpoints.map((e) => {
    const url = httpsUrl(e, "etcd endpoint");
    return { url, ctx, verifyName: url.hostname.replace(/^\[(.*)\]$/, "$1") };
  });
}

/**
 * The probes write and delete under the prefix only: refuse prefixes that could reach anything
 * else (an empty one, `/`, or Kubernetes's own `/registry`).
 */
function checkPrefix(prefix: string): void {
  const ok = /^\/?[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(prefix) && !/^\/?registry(\/|$)/.test(prefix);
  if (!ok) {
    throw new KubehaError(
      `etcd probe prefix ${JSON.stringify(prefix)} is not allowed`,
      "use a dedicated prefix such as /kubeha-drill/<run id>: letters, digits, . _ - and single slashes, no trailing slash, not under /registry",
    );
  }
}

const b64 = (b: Buffer | string) => Buffer.from(b).toString("base64");
const unb64 = (s: unknown) => Buffer.from(typeof s === "string" ? s : "", "base64");

/** The first key after every key that starts with `p` (etcd's prefix range_end). */
function prefixEnd(p: Buffer): Buffer {
  const end = Buffer.from(p);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

interface EtcdHeader {
  revision: string;
}

/** A gateway answer is valid when it carries a response header with a revision. */
function parseEtcd(body: string): (Record<string, unknown> & { header: EtcdHeader }) | undefined {
  try {
    const j = JSON.parse(body) as Record<string, unknown>;
    const h = j.header as { revision?: unknown } | undefined;
    if (h && typeof h === "object" && /^\d+$/.test(String(h.revision ?? ""))) return j as Record<string, unknown> & { header: EtcdHeader };
  } catch {
    // Not JSON: reported as a bad answer by the caller.
  }
  return undefined;
}

/** The reason a gateway call failed: transport error, or HTTP status with etcd's own message. */
function etcdFailure(r: CallResult): string {
  if ("error" in r) return r.error;
  let msg = "";
  try {
    const j = JSON.parse(r.body) as { message?: unknown; error?: unknown };
    msg = String(j.message ?? j.error ?? "");
  } catch {
    // Body not JSON: the status alone.
  }
  msg = msg.length > 60 ? `${msg.slice(0, 57)}...` : msg;
  return r.status === 200 ? "bad answer" : `HTTP ${r.status}${msg ? ` ${msg}` : ""}`;
}

/**
 * Starts the etcd writer: writes `<prefix>/<seq>` = `String(seq)` for seq = 1, 2, ... one at a
 * time through etcd's v3 JSON gateway (`POST /v3/kv/put`) with mutual TLS. A write is acked only
 * on HTTP 200 with a valid response header. After a failure or timeout the next write goes to the
 * next endpoint (client-side failover); a failed seq is never retried, the next write takes the
 * next seq. Writes start `intervalMs` apart (or right after a slower one). Ends by itself after
 * maxCount writes or maxMs. Failed writes' errors read "<reason> at <host:port>".
 */
export function startEtcdWriter(o: EtcdWriterOptions): RunningProbe<EtcdWrite> {
  const targets = etcdTargets(o, "etcd writer");
  positive("intervalMs", o.intervalMs, true);
  positive("maxCount", o.maxCount, true);
  positive("maxMs", o.maxMs, true);
  if (o.maxCount >= 10 ** SEQ_DIGITS) throw new KubehaError(`etcd writer: maxCount ${o.maxCount} is too large`);

  const writes: EtcdWrite[] = [];
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((r) => {
      wake = r;
      timer = setTimeout(r, ms);
    });

  const run = async (): Promise<EtcdWrite[]> => {
    const start = performance.now();
    let next = start;
    let ep = 0;
    for (let seq = 1; seq <= o.maxCount; seq++) {
      if (next - start >= o.maxMs) break;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
      if (stopped) break;
      const target = targets[ep]!;
      const sent = performance.now();
      next = sent + o.intervalMs;
      const body = JSON.stringify({ key: b64(etcdKey(o.prefix, seq)), value: b64(String(seq)) });
      const r = await call(target, "POST", "/v3/kv/put", body, o.timeoutMs);
      const ms = round(performance.now() - sent);
      const t = round(sent - o.t0);
      const acked = !("error" in r) && r.status === 200 && parseEtcd(r.body) !== undefined;
      if (acked) writes.push({ seq, t, ms, acked });
      else {
        writes.push({ seq, t, ms, acked, error: `${etcdFailure(r)} at ${target.url.host}` });
        ep = (ep + 1) % targets.length;
      }
      if (stopped) break;
    }
    stopped = true;
    return writes.slice();
  };
  const done = run();

  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      wake?.();
      return done;
    },
    done,
    peek: () => writes.slice(),
  };
}

/**
 * POSTs to the endpoints in turn, starting at `from`, until one gives a valid answer.
 * Throws a KubehaError naming each endpoint and its reason when none does.
 */
async function postAny(
  targets: Target[],
  from: number,
  path: string,
  body: unknown,
  timeoutMs: number,
  what: string,
): Promise<{ json: Record<string, unknown> & { header: EtcdHeader }; at: number }> {
  const reasons: string[] = [];
  for (let k = 0; k < targets.length; k++) {
    const at = (from + k) % targets.length;
    const t = targets[at]!;
    const r = await call(t, "POST", path, JSON.stringify(body), timeoutMs);
    const json = !("error" in r) && r.status === 200 ? parseEtcd(r.body) : undefined;
    if (json) return { json, at };
    reasons.push(`${t.url.origin}: ${etcdFailure(r)}`);
  }
  throw new KubehaError(
    `etcd ${what} failed on every endpoint (${reasons.join("; ")})`,
    "check that etcd is running and has quorum (`kubeha status`), then run the check again",
  );
}

/**
 * Reads back every key under `<prefix>/` with linearizable range reads (`POST /v3/kv/range`,
 * range_end = the prefix range's end), in pages of `pageSize` (default 1000) pinned to the first
 * page's revision,
 * trying the endpoints in turn. Returns seq → value for keys whose last segment is a number.
 */
export async function readBack(o: EtcdClientOptions & { pageSize?: number }): Promise<Map<number, string>> {
  const targets = etcdTargets(o, "etcd read-back");
  const base = Buffer.from(`${o.prefix}/`);
  const rangeEnd = prefixEnd(base);
  const limit = o.pageSize ?? PAGE_LIMIT;
  positive("pageSize", limit);
  const out = new Map<number, string>();
  let key = base;
  let revision: string | undefined;
  let at = 0;
  for (let page = 0; page < MAX_PAGES; page++) {
    const req = { key: b64(key), range_end: b64(rangeEnd), limit: String(limit), ...(revision ? { revision } : {}) };
    const r = await postAny(targets, at, "/v3/kv/range", req, o.timeoutMs, `read-back of ${o.prefix}/`);
    at = r.at;
    revision ??= r.json.header.revision;
    const kvs = Array.isArray(r.json.kvs) ? (r.json.kvs as { key?: unknown; value?: unknown }[]) : [];
    for (const kv of kvs) {
      const k = unb64(kv.key);
      const suffix = k.subarray(base.length).toString("utf8");
      // proto3 JSON leaves out empty values: an absent value is "".
      if (/^\d+$/.test(suffix)) out.set(Number(suffix), unb64(kv.value).toString("utf8"));
    }
    const last = kvs.at(-1);
    if (r.json.more !== true || !last) return out;
    key = Buffer.concat([unb64(last.key), Buffer.from([0])]);
  }
  throw new KubehaError(`etcd read-back of ${o.prefix}/ did not end after ${MAX_PAGES} pages`, "use a fresh prefix per drill run");
}

/** Deletes every key under `<prefix>/` (the drill's clean-up after the check). Returns how many. */
export async function deletePrefix(o: EtcdClientOptions): Promise<number> {
  const targets = etcdTargets(o, "etcd clean-up");
  const base = Buffer.from(`${o.prefix}/`);
  const r = await postAny(targets, 0, "/v3/kv/deleterange", { key: b64(base), range_end: b64(prefixEnd(base)) }, o.timeoutMs, `clean-up of ${o.prefix}/`);
  return Number(r.json.deleted ?? 0);
}
