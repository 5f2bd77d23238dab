/**
 * SSH transport on ssh2: one connection per host for the whole run (keepalive on), optional jump
 * host, `sudo -n` for non-root users, and host keys checked against the cluster's known_hosts the
 * way OpenSSH does. An unknown key is pinned only when the operator passed --trust-new-host-keys;
 * a changed key always stops the run.
 */
import { readFile } from "node:fs/promises";
import type { Duplex } from "node:stream";
import { Client, type ConnectConfig } from "ssh2";
import type { Host } from "../spec/model.ts";
import { stepError } from "../util/redact.ts";
import {
  appendKnownHost,
  fingerprint,
  hostKeyAlgorithms,
  keyTypeOf,
  knownHostsName,
  loadKnownHosts,
  verifyHostKey,
} from "./known-hosts.ts";
import { ShellTransport, type RunResult, type StreamOptions } from "./transport.ts";

export interface SshOptions {
  /** Pin keys of hosts missing from known_hosts (the `--trust-new-host-keys` flag). */
  trustNewHostKeys?: boolean;
  /** Time for TCP connect + handshake + auth, in ms. Default 15 000. */
  connectTimeoutMs?: number;
  /** SSH keepalive interval, in ms. Default 5 000. */
  keepaliveIntervalMs?: number;
  /** Keepalives left unanswered before the host counts as gone. Default 3. */
  keepaliveCountMax?: number;
  /** Concurrent channels on one connection (OpenSSH's MaxSessions is 10). Default 8. */
  maxChannels?: number;
}

export const DEFAULT_KEEPALIVE_INTERVAL_MS = 5_000;
export const DEFAULT_KEEPALIVE_COUNT_MAX = 3;

/**
 * How long a host that vanished (powered off, cable pulled: no TCP reset ever comes) can keep a
 * command waiting before its connection is declared dead: ssh2 gives up on the keepalive after
 * `countMax` unanswered ones, so at most `interval * (countMax + 1)`. A silent but alive host
 * still answers keepalives, so long commands are not cut by this.
 */
export function deadPeerBoundMs(opts: SshOptions = {}): number {
  return (opts.keepaliveIntervalMs ?? DEFAULT_KEEPALIVE_INTERVAL_MS) * ((opts.keepaliveCountMax ?? DEFAULT_KEEPALIVE_COUNT_MAX) + 1);
}

/** Where to dial and how to log in: a host or its bastion. */
export interface SshEndpoint {
  /** Name for messages: the host name, or `bastion ADDRESS`. */
  label: string;
  address: string;
  port: number;
  user: string;
  keyPath: string;
  knownHostsPath: string;
}

export function endpointOf(host: Host): SshEndpoint {
  const s = host.ssh;
  return { label: host.name, address: host.address, port: s.port, user: s.user, keyPath: s.keyPath, knownHostsPath: s.knownHostsPath };
}

export function bastionEndpointOf(host: Host): SshEndpoint | undefined {
  const b = host.ssh.bastion;
  if (!b) return undefined;
  return { label: `bastion ${b.address}`, address: b.address, port: b.port, user: b.user, keyPath: b.keyPath, knownHostsPath: host.ssh.knownHostsPath };
}

async function privateKey(ep: SshEndpoint): Promise<Pick<ConnectConfig, "privateKey" | "agent">> {
  try {
    return { privateKey: await readFile(ep.keyPath) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" && process.env.SSH_AUTH_SOCK) return { agent: process.env.SSH_AUTH_SOCK };
    throw stepError(
      `cannot read SSH key ${ep.keyPath} for ${ep.label}: ${(err as Error).message}`,
      { host: ep.label },
      "set spec.ssh.keyPath to a readable private key (or run an ssh-agent)",
    );
  }
}

const retryable = new WeakSet<object>();

/** True for connection errors that a later attempt may not hit (refused, timed out, reset). */
export function isRetryableConnectError(err: unknown): boolean {
  return typeof err === "object" && err !== null && retryable.has(err);
}

/**
 * Opens an authenticated ssh2 Client to `ep`, over `sock` when given (a channel through a bastion).
 * Errors are StepErrors with a hint.
 */
export async function openClient(ep: SshEndpoint, opts: SshOptions = {}, sock?: Duplex): Promise<Client> {
  const known = await loadKnownHosts(ep.knownHostsPath);
  const name = knownHostsName(ep.address, ep.port);
  const algs = hostKeyAlgorithms(known, name);
  const auth = await privateKey(ep);
  // Set by the verifier; explains a refused handshake better than ssh2's "verification failed".
  let keyProblem: Error | undefined;

  const client = new Client();
  const config: ConnectConfig = {
    host: ep.address,
    port: ep.port,
    username: ep.user,
    ...auth,
    readyTimeout: opts.connectTimeoutMs ?? 15_000,
    keepaliveInterval: opts.keepaliveIntervalMs ?? DEFAULT_KEEPALIVE_INTERVAL_MS,
    keepaliveCountMax: opts.keepaliveCountMax ?? DEFAULT_KEEPALIVE_COUNT_MAX,
    ...(sock ? { sock } : {}),
    ...(algs ? { algorithms: { serverHostKey: algs as NonNullable<ConnectConfig["algorithms"]>["serverHostKey"] } } : {}),
    hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
      const v = verifyHostKey(known, name, key);
      const fp = `${keyTypeOf(key)} ${fingerprint(key)}`;
      if (v.status === "known") return verify(true);
      if (v.status === "revoked") {
        keyProblem = stepError(`host key of ${ep.label} (${name}) is marked @revoked in ${ep.knownHostsPath}: ${fp}`, { host: ep.label }, "the host must get a new host key before kubeha connects to it");
        return verify(false);
      }
      if (v.status === "changed") {
        keyProblem = stepError(
          `HOST KEY CHANGED for ${ep.label} (${name}): it presented ${fp}, ${ep.knownHostsPath} expects ${v.expected.join("; ")}`,
          { host: ep.label },
          `someone may be intercepting the connection. If the host was reinstalled, check the new key on its console and remove the old one: ssh-keygen -R '${name}' -f ${ep.knownHostsPath}`,
        );
        return verify(false);
      }
      if (!opts.trustNewHostKeys) {
        keyProblem = stepError(
          `unknown host key for ${ep.label} (${name}): ${fp} is not in ${ep.knownHostsPath}`,
          { host: ep.label },
          `compare the fingerprint with the host's own (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on its console), then re-run with --trust-new-host-keys to pin it`,
        );
        return verify(false);
      }
      appendKnownHost(ep.knownHostsPath, name, key).then(
        () => verify(true),
        (err: Error) => {
          keyProblem = stepError(`cannot pin the host key of ${ep.label} in ${ep.knownHostsPath}: ${err.message}`, { host: ep.label }, "make the known_hosts file writable");
          verify(false);
        },
      );
    },
  };

  return new Promise((resolve, reject) => {
    const fail = (err: Error & { level?: string; code?: string }) => {
      client.removeAllListeners("ready");
      // ssh2 can report a second error after the first (a handshake timeout, then "Connection
      // lost before handshake" when the socket closes): without a listener it would be thrown
      // as an unhandled 'error' event and end the whole process (seen in a drill under load).
      client.on("error", () => {});
      client.end();
      if (keyProblem) return reject(keyProblem);
      const where = `${ep.user}@${ep.address}:${ep.port}`;
      let hint = "check that the host is up, the address and port are right and sshd is running";
      if (err.level === "client-authentication") hint = `check that ${ep.keyPath} is authorized for ${ep.user} on ${ep.label} (~${ep.user}/.ssh/authorized_keys)`;
      else if (/Timed out/.test(err.message)) hint = "the host did not answer in time: check the address, firewalls and the bastion";
      const e = stepError(`cannot connect to ${ep.label} (${where}): ${err.message}`, { host: ep.label }, hint);
      // Network trouble may pass (a host still booting); bad keys and credentials do not.
      if (err.level !== "client-authentication") retryable.add(e);
      reject(e);
    };
    client.once("error", fail);
    client.once("ready", () => {
      client.removeListener("error", fail);
      // A connection that dies later surfaces as a failed command; keep the process alive meanwhile.
      client.on("error", () => {});
      resolve(client);
    });
    client.connect(config);
  });
}

/** A channel through `bastion` to `ep`, for `openClient(ep, opts, sock)`. */
export function forwardThrough(bastion: Client, ep: SshEndpoint, bastionLabel: string): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    bastion.forwardOut("127.0.0.1", 0, ep.address, ep.port, (err, stream) => {
      if (err) {
        reject(
          stepError(`${bastionLabel} cannot reach ${ep.label} (${ep.address}:${ep.port}): ${err.message}`, { host: ep.label }, "check that the bastion can reach the host's address and port (AllowTcpForwarding must be on)"),
        );
      } else resolve(stream);
    });
  });
}

/** Bounds concurrent channels on one connection. */
class Semaphore {
  #free: number;
  #waiting: Array<() => void> = [];
  constructor(n: number) {
    this.#free = n;
  }
  async take(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((r) => this.#waiting.push(r));
  }
  give(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}

/** Commands over one SSH connection. Build it with `SshTransport.connect` or through a `ConnectionPool`. */
export class SshTransport extends ShellTransport {
  #channels: Semaphore;
  #closed = false;
  /** Why the connection died ("Keepalive timeout", a socket error), once it has. */
  #lost: string | undefined;

  constructor(
    host: string,
    user: string,
    private readonly client: Client,
    opts: SshOptions = {},
  ) {
    super(host, user);
    this.#channels = new Semaphore(opts.maxChannels ?? 8);
    client.on("error", (e: Error) => (this.#lost ??= e.message));
    client.on("close", () => (this.#closed = true));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Connects straight to `host`, or through `bastion` (an open connection to the jump host). */
  static async connect(host: Host, opts: SshOptions = {}, bastion?: Client): Promise<SshTransport> {
    const ep = endpointOf(host);
    const sock = bastion ? await forwardThrough(bastion, ep, bastionEndpointOf(host)?.label ?? "bastion") : undefined;
    const client = await openClient(ep, opts, sock);
    return new SshTransport(host.name, host.ssh.user, client, opts);
  }

  protected async spawnRaw(cmd: string, stdin: string | Buffer | undefined, timeoutMs: number, streamOpts: StreamOptions = {}): Promise<RunResult & { timedOut?: boolean; connectionLost?: string }> {
    if (this.#closed)
      throw stepError(`the SSH connection to ${this.host} is closed${this.#lost ? ` (${this.#lost})` : ""}`, { host: this.host }, "the host went away during the run (powered off, rebooted?); bring it back and re-run kubeha apply");
    await this.#channels.take();
    try {
      return await new Promise((resolve, reject) => {
        this.client.exec(cmd, (err, stream) => {
          if (err) {
            // A connection that dies under the request may fail it just before it closes: give
            // the close a moment, so a vanished host is reported as such.
            const decide = () => {
              clearTimeout(wait);
              this.client.removeListener("close", decide);
              if (this.#closed) resolve({ code: 255, stdout: "", stderr: "", connectionLost: this.#lost ?? err.message });
              else reject(stepError(`cannot start a command on ${this.host}: ${err.message}`, { host: this.host }, "the SSH connection failed; check the host and re-run"));
            };
            const wait = setTimeout(decide, this.#closed ? 0 : 500);
            this.client.once("close", decide);
            return;
          }
          const out: Buffer[] = [];
          const errb: Buffer[] = [];
          let settled = false;
          const settle = (timedOut: boolean, code: number | null, signal?: string) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            streamOpts.signal?.removeEventListener("abort", abort);
            // ssh2 closes every channel when the connection dies (keepalive timeout, reset): no
            // exit status came, so the command's fate is unknown, which is not an exit code.
            const lost = !timedOut && typeof code !== "number" && !signal && this.#closed ? this.#lost ?? "connection closed" : undefined;
            resolve({
              ...(lost !== undefined ? { connectionLost: lost } : {}),
              code: typeof code === "number" ? code : signal ? 128 + 9 : 255,
              stdout: Buffer.concat(out).toString("utf8"),
              stderr: Buffer.concat(errb).toString("utf8"),
              timedOut,
            });
          };
          const timer = setTimeout(() => {
            // OpenSSH ignores signal requests and keeps a closed channel's process running until it
            // exits, so do not wait for it: ask it to die, close our side and report.
            stream.signal("KILL");
            stream.close();
            settle(true, null);
          }, timeoutMs);
          // Aborted by the caller: same as a timeout on OpenSSH's side, but an answer, not an error.
          const abort = () => {
            stream.signal("TERM");
            stream.close();
            settle(false, 143);
          };
          if (streamOpts.signal?.aborted) queueMicrotask(abort);
          else streamOpts.signal?.addEventListener("abort", abort, { once: true });
          stream.on("data", (b: Buffer) => {
            out.push(b);
            streamOpts.onStdout?.(b.toString("utf8"));
          });
          stream.stderr.on("data", (b: Buffer) => errb.push(b));
          stream.on("close", (code: number | null, signal?: string) => settle(false, code, signal));
          stream.end(stdin ?? "");
        });
      });
    } finally {
      this.#channels.give();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await new Promise<void>((resolve) => {
      this.client.once("close", () => resolve());
      this.client.end();
      setTimeout(resolve, 2000).unref();
    });
  }
}
