/**
 * One connection per host for the whole run, shared jump-host connections, round-trip counts per
 * host, and bounded parallel work over hosts that reports every host's failure at once.
 */
import type { Client } from "ssh2";
import { KubehaError, StepError } from "../errors.ts";
import type { Host } from "../spec/model.ts";
import { retry } from "../util/retry.ts";
import { SshTransport, bastionEndpointOf, isRetryableConnectError, openClient, type SshOptions } from "./ssh.ts";
import type { Transport } from "./transport.ts";

export interface PoolOptions extends SshOptions {
  /** Connection attempts per host for network errors (not for key or auth errors). Default 3. */
  connectAttempts?: number;
  /** Replaces SSH (e.g. `LocalTransport` in tests); the pool still reuses and closes what it returns. */
  connect?: (host: Host) => Promise<Transport>;
}

export interface HostStats {
  host: string;
  /** Commands sent to the host (connection setup not included). */
  roundTrips: number;
}

/** Transports keyed by host name, opened on first use and reused until `closeAll`. */
export class ConnectionPool {
  #transports = new Map<string, Promise<Transport>>();
  #bastions = new Map<string, Promise<Client>>();

  constructor(private readonly opts: PoolOptions = {}) {}

  /**
   * The host's transport, connecting on first use. Concurrent callers share one connection; a
   * connection that has closed (the host rebooted or was powered off) is replaced by a new one.
   */
  async get(host: Host): Promise<Transport> {
    let t = this.#transports.get(host.name);
    if (t && (await t.catch(() => undefined))?.closed && this.#transports.get(host.name) === t) {
      this.#transports.delete(host.name);
      t = undefined;
    }
    t = this.#transports.get(host.name);
    if (!t) {
      t = this.#open(host);
      // A failed connect is not cached: the next phase may try again.
      t.catch(() => this.#transports.delete(host.name));
      this.#transports.set(host.name, t);
    }
    return t;
  }

  async #open(host: Host): Promise<Transport> {
    if (this.opts.connect) return this.opts.connect(host);
    return retry(
      async () => {
        const b = bastionEndpointOf(host);
        const bastion = b ? await this.#bastion(host) : undefined;
        return SshTransport.connect(host, this.opts, bastion);
      },
      { attempts: this.opts.connectAttempts ?? 3, delayMs: 1000, retryIf: isRetryableConnectError },
    );
  }

  #bastion(host: Host): Promise<Client> {
    const ep = bastionEndpointOf(host)!;
    const key = `${ep.user}@${ep.address}:${ep.port} ${ep.keyPath} ${ep.knownHostsPath}`;
    let c = this.#bastions.get(key);
    if (!c) {
      c = openClient(ep, this.opts);
      c.catch(() => this.#bastions.delete(key));
      this.#bastions.set(key, c);
    }
    return c;
  }

  /** Closes and forgets the host's connection (the next `get` connects again). */
  async drop(host: Host): Promise<void> {
    const t = this.#transports.get(host.name);
    this.#transports.delete(host.name);
    await (await t?.catch(() => undefined))?.close();
  }

  /** Round trips per connected host, in host-name order. */
  async stats(): Promise<HostStats[]> {
    const out: HostStats[] = [];
    for (const [host, t] of this.#transports) {
      const tr = await t.catch(() => undefined);
      if (tr) out.push({ host, roundTrips: tr.roundTrips });
    }
    return out.sort((a, b) => a.host.localeCompare(b.host));
  }

  /** Closes every host connection, then the bastions. Safe to call twice. */
  async closeAll(): Promise<void> {
    const ts = [...this.#transports.values()];
    this.#transports.clear();
    await Promise.all(ts.map(async (t) => (await t.catch(() => undefined))?.close()));
    const bs = [...this.#bastions.values()];
    this.#bastions.clear();
    await Promise.all(bs.map(async (b) => (await b.catch(() => undefined))?.end()));
  }
}

export interface HostFailure {
  host: string;
  error: unknown;
}

/** Several hosts failed: carries every failure; the message lists them one per line. */
export class HostsError extends KubehaError {
  constructor(readonly failures: HostFailure[]) {
    const lines = failures.map((f) => `  ${f.host}: ${describe(f.error)}`);
    const hints = [...new Set(failures.map((f) => (f.error instanceof KubehaError ? f.error.hint : undefined)).filter((h): h is string => !!h))];
    super(`failed on ${failures.length} hosts:\n${lines.join("\n")}`, hints.join("; ") || undefined);
  }
}

function describe(err: unknown): string {
  if (err instanceof StepError) {
    const d = err.detail;
    const extra = [d.command ? `command: ${d.command}` : "", d.exitCode !== undefined ? `exit ${d.exitCode}` : ""].filter(Boolean).join(", ");
    return extra ? `${err.message} (${extra})` : err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * Runs `fn` for every host, at most `limit` at a time, and waits for all of them. One failure is
 * rethrown as is (it already names its host); several become one `HostsError` listing each.
 * Results are keyed by host name.
 */
export async function forEachHost<T>(hosts: readonly Host[], limit: number, fn: (host: Host) => Promise<T>): Promise<Map<string, T>> {
  const results = new Map<string, T>();
  const failures: HostFailure[] = [];
  let next = 0;
  async function worker(): Promise<void> {
    for (;;) {
      const h = hosts[next++];
      if (!h) return;
      try {
        results.set(h.name, await fn(h));
      } catch (error) {
        failures.push({ host: h.name, error });
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, hosts.length)) }, worker));
  if (failures.length === 1) throw failures[0]!.error;
  if (failures.length > 1) {
    const order = new Map(hosts.map((h, i) => [h.name, i]));
    failures.sort((a, b) => (order.get(a.host) ?? 0) - (order.get(b.host) ?? 0));
    throw new HostsError(failures);
  }
  return results;
}
