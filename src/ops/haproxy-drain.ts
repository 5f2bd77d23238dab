/**
 * Taking one API server out of HAProxy's rotation and putting it back, on every LB host, through
 * HAProxy's runtime socket (`stats socket ... level admin` in haproxy.cfg): `state drain` stops new
 * connections to it (those open finish), `state ready` lets them in again. Used around every planned
 * apiserver restart (upgrade, certificate renewal) so clients never meet a restarting server.
 */
import type { Cluster } from "../spec/model.ts";
import { lbHosts } from "../spec/topology.ts";
import type { ConnectionPool } from "../exec/pool.ts";
import { forEachHost } from "../exec/pool.ts";
import { PATHS } from "../render/paths.ts";
import { HAPROXY_BACKEND } from "../render/haproxy.ts";
import { shq } from "../util/shell.ts";
import { KubehaError, StepError } from "../errors.ts";
import { parseServersState } from "../probe/status.ts";

/** How long HAProxy may take to mark a server that was put back UP (its checks: rise × interval, with room). */
export const HAPROXY_UP_S = 30;

/** The administrative states kubeha sets (HAProxy's `set server ... state`). */
export type ServerState = "drain" | "ready";

/** The hosts whose HAProxy balances the API servers ([] when kubeha manages no HAProxy). */
export const haproxyHosts = lbHosts;

/** The runtime-socket command that sets `server`'s state in the API backend (pure). */
export function setServerStateCommand(server: string, state: ServerState): string {
  if (!/^[a-z0-9][a-z0-9.-]*$/.test(server)) throw new Error(`not a host name: ${JSON.stringify(server)}`);
  // HAProxy answers nothing on success and a sentence on failure ("No such server.").
  return `out=$(echo ${shq(`set server ${HAPROXY_BACKEND}/${server} state ${state}`)} | socat stdio ${shq(PATHS.haproxyStatsSocket)}) || exit 1; [ -z "$(printf %s "$out" | tr -d '[:space:]')" ] || { echo "$out" >&2; exit 2; }`;
}

/**
 * Sets `server`'s state on every LB host, in parallel; every host's failure is reported (an LB host
 * that kept sending connections to a restarting server would be the one that fails clients).
 */
export async function setServerState(c: Cluster, pool: ConnectionPool, server: string, state: ServerState): Promise<void> {
  await forEachHost(haproxyHosts(c), 10, async (lb) => {
    const t = await pool.get(lb);
    const r = await t.run(setServerStateCommand(server, state), { sudo: true, timeoutMs: 15_000 });
    if (r.code !== 0)
      throw new StepError(
        `${lb.name}: HAProxy did not set ${server} to ${state}`,
        { host: lb.name, command: `set server ${HAPROXY_BACKEND}/${server} state ${state}`, exitCode: r.code, stderrTail: r.stderr.trim().slice(-400) },
        `check haproxy on ${lb.name} (\`systemctl status haproxy\`, socket ${PATHS.haproxyStatsSocket}) and run the command again`,
      );
  });
}

/**
 * Runs `fn` (which restarts `server`'s API server) with `server` drained on every LB host, then puts
 * it back once `ready()` resolves (its /readyz answered). When `fn` fails the server stays drained,
 * so clients keep away from a server left broken; the error says so.
 */
export async function withServerDrained<T>(c: Cluster, pool: ConnectionPool, server: string, fn: () => Promise<T>, ready: () => Promise<void>): Promise<T> {
  await setServerState(c, pool, server, "drain");
  const out = await fn();
  await ready();
  await setServerState(c, pool, server, "ready");
  await waitServerUp(c, pool, server);
  return out;
}

/**
 * Waits until every LB host's HAProxy marks `server` UP (its health checks passed), bounded by
 * HAPROXY_UP_S: until then the next server must not be drained, or two would be out at once.
 */
export async function waitServerUp(c: Cluster, pool: ConnectionPool, server: string): Promise<void> {
  await forEachHost(haproxyHosts(c), 10, async (lb) => {
    const t = await pool.get(lb);
    for (let i = 0; i < HAPROXY_UP_S * 2; i++) {
      const r = await t.run(`echo ${shq(`show servers state ${HAPROXY_BACKEND}`)} | socat stdio ${shq(PATHS.haproxyStatsSocket)}`, { sudo: true, timeoutMs: 15_000 });
      if (parseServersState(r.stdout.split("\n")).some((b) => b.server === server && b.state === "UP")) return;
      await new Promise((res) => setTimeout(res, 500));
    }
    throw new KubehaError(`HAProxy on ${lb.name} does not mark ${server} UP ${HAPROXY_UP_S} s after it was put back`, `see /readyz on ${server} and \`kubeha status\``);
  });
}
