/**
 * Which control planes HAProxy balances while apply runs (pure). HAProxy 2.6 starts every server
 * of a new configuration UP, before its first health check (`init-state` exists only from 3.1):
 * a control plane added to a running cluster and put into the backend before its API server runs
 * takes client connections at once. Its connect fails, `observe layer4` marks it down, and
 * `on-marked-down shutdown-sessions` then cuts the other sessions still connecting to it: lab
 * journal right after the reload, "Server kube-apiserver/master4 is DOWN, reason: Health analyze,
 * info: "Detected 1 consecutive errors, last one was: L4 unsuccessful connection" ... 2 sessions
 * active", one redispatch and one failed client probe. So a control plane enters the backend only
 * once it joined and its API server answers /readyz (the phase control-plane/backends); the file
 * `render` and install.sh write, with every control plane, is what apply converges to.
 */
import type { Cluster, Host } from "../spec/model.ts";
import { controlPlanes } from "../spec/topology.ts";
import { readyzWaitScript } from "./host.ts";

/**
 * The backend of a cluster whose control planes `joined` tells: every control plane while none
 * has joined (a new cluster: no client yet, and the first join reaches the API through the
 * endpoint), else the joined ones, in file order.
 */
export function apiBackends(c: Cluster, joined: (h: Host) => boolean): Host[] {
  const cps = controlPlanes(c);
  return cps.some(joined) ? cps.filter(joined) : cps;
}

/** The control planes `after` adds to `before` (both from apiBackends), in file order. */
export function enteringBackends(before: readonly Host[], after: readonly Host[]): Host[] {
  return after.filter((h) => !before.some((b) => b.name === h.name));
}

/**
 * Run on control plane `h`: waits, bounded (5 minutes), until its API server answers /readyz on
 * the address and port HAProxy's check uses.
 */
export function apiReadyScript(c: Cluster, h: Host): string {
  return readyzWaitScript(`https://${h.internalAddress}:${c.kubernetes.apiServerPort}/readyz`, { tries: 150, curlMaxS: 2, sleepS: 2, what: "the API server" });
}
