/**
 * HAProxy in front of the API servers (TCP pass-through). The numbers come from the lab
 * measurements in docs/lab-notes.md: `httpchk GET /readyz` over TLS with `verify none`
 * (NOT ssl-hello-chk, which overrides httpchk), fast inter/fall/rise, `option redispatch` +
 * `retries 3` (0 failed requests when one apiserver stops), a short `timeout connect`
 * (a dead backend costs one short connect, not a second), long client/server/tunnel timeouts for
 * watches and TCP keepalives with short timers so dead peers are noticed, sessions of a server
 * marked down are cut (not left hanging), and connect errors mark a server down at once
 * (`observe layer4`) instead of after the next failed checks. docs/drill.md explains each.
 * A changed haproxy.cfg is a `systemctl reload`: Debian's unit runs HAProxy in master-worker mode
 * (`-Ws`), and on reload the master starts the new worker with `-x sockpair@N`, handing it the old
 * worker's listening sockets, so no connection attempt is refused while the configuration changes.
 */
import type { Cluster, Host } from "../spec/model.ts";
import { hostsWithRole } from "../spec/model.ts";
import type { ManagedLbCluster } from "../spec/topology.ts";
import { managesLb, runsHaproxy, usesKeepalived } from "../spec/topology.ts";
import type { RenderedFile, Secrets } from "./types.ts";
import { PATHS } from "./paths.ts";
import { file, header } from "./file.ts";

/** How long a half-closed connection (one side sent FIN) may stay (s). */
const HALF_CLOSED_TIMEOUT_S = 30;
/**
 * TCP keepalive on HAProxy's client and server sides: probes after 30 s idle, every 5 s, 3 lost
 * = dead (45 s), below client-go's HTTP/2 health check (read-idle 30 s + ping timeout 15 s).
 */
const TCPKA = { idleS: 30, intvlS: 5, cnt: 3 } as const;
/**
 * How a `/readyz` answer sets a server's state. A failed check of the API server's own (`[-]etcd`,
 * `[-]informer-sync`...: any `[-]` line but `[-]shutdown`) marks it DOWN; `[-]shutdown failed`
 * alone, what an API server answers from SIGTERM on for its `--shutdown-delay-duration` while it
 * still serves, is L7OKC: HAProxy puts the server in NOLB (drain) at the first such check, so it
 * gets no new connection and the sessions it has are left to finish (`on-marked-down
 * shutdown-sessions` would cut them; it fires only on DOWN); anything else must be 200. Written
 * without PCRE look-arounds so any HAProxy regex library reads it (no check name but `shutdown`
 * starts with "sh").
 */
export const READYZ_EXPECT = [
  "http-check expect ! rstring \\[-\\]([^s]|s[^h])",
  "http-check expect ! string [-]shutdown\\ failed error-status L7OKC",
  "http-check expect status 200",
] as const;

/** The backend of the API servers; its servers are named after the control-plane hosts (the runtime socket addresses them as BACKEND/HOST). */
export const HAPROXY_BACKEND = "kube-apiserver";
/** Consecutive connect errors (layer 4) that mark a server down before its checks do. */
const CONNECT_ERROR_LIMIT = 1;

/**
 * haproxy.cfg for one LB host. Secret when the stats page (with its password) is on. `backends`:
 * the control planes it balances (default: all; apply leaves out one that has not joined a running
 * cluster yet, see src/plan/backends.ts).
 */
export function renderHaproxyCfg(c: ManagedLbCluster, h: Host, secrets: Secrets, backends: readonly Host[] = hostsWithRole(c, "control-plane")): RenderedFile {
  const hp = c.endpoint.haproxy;
  const lines: string[] = [
    header("#", `HAProxy for the Kubernetes API of cluster ${c.name} (host ${h.name}).`).trimEnd(),
    "",
    "global",
    "    log /dev/log local0 notice",
    "    chroot /var/lib/haproxy",
    `    stats socket ${PATHS.haproxyStatsSocket} mode 600 level admin`,
    "    stats timeout 30s",
    "    user haproxy",
    "    group haproxy",
    "",
    "defaults",
    "    mode tcp",
    "    log global",
    "    option tcplog",
    "    option dontlognull",
    "    # A connection refused by a dead backend is retried on another server.",
    "    option redispatch",
    "    retries 3",
    `    timeout connect ${hp.connectTimeoutMs}ms`,
    "    # Watches, logs -f and exec streams stay idle for long: do not cut them. In TCP mode the",
    "    # tunnel timeout takes over from client/server once the connection is established.",
    `    timeout client ${hp.tunnelTimeoutSeconds}s`,
    `    timeout server ${hp.tunnelTimeoutSeconds}s`,
    `    timeout tunnel ${hp.tunnelTimeoutSeconds}s`,
    "    # A half-closed connection is not kept for the whole tunnel timeout.",
    `    timeout client-fin ${HALF_CLOSED_TIMEOUT_S}s`,
    `    timeout server-fin ${HALF_CLOSED_TIMEOUT_S}s`,
    `    timeout check ${hp.checkIntervalMs}ms`,
    "    # TCP keepalive on both sides with short timers (the kernel default waits 2 h): a client or",
    "    # server that vanished without a FIN/RST (powered off) is dropped after idle + intvl x cnt.",
    "    option clitcpka",
    `    clitcpka-idle ${TCPKA.idleS}s`,
    `    clitcpka-intvl ${TCPKA.intvlS}s`,
    `    clitcpka-cnt ${TCPKA.cnt}`,
    "    option srvtcpka",
    `    srvtcpka-idle ${TCPKA.idleS}s`,
    `    srvtcpka-intvl ${TCPKA.intvlS}s`,
    `    srvtcpka-cnt ${TCPKA.cnt}`,
    "",
    "frontend kube-apiserver",
    // All addresses: the VIP (when held), the host's own address and 127.0.0.1 for the check.
    `    bind *:${c.endpoint.port}`,
    `    default_backend ${HAPROXY_BACKEND}`,
    "",
    `backend ${HAPROXY_BACKEND}`,
    "    balance roundrobin",
    "    option httpchk GET /readyz",
    ...READYZ_EXPECT.map((l) => `    ${l}`),
    "    # Sessions to a server marked down are closed so clients reconnect at once. A failed",
    "    # connect (refused, timed out) marks the server down at once; checks bring it back.",
    `    default-server check check-ssl verify none inter ${hp.checkIntervalMs}ms fall ${hp.fall} rise ${hp.rise} on-marked-down shutdown-sessions ` +
      `observe layer4 error-limit ${CONNECT_ERROR_LIMIT} on-error mark-down`,
    ...backends.map((b) => `    server ${b.name} ${b.internalAddress}:${c.kubernetes.apiServerPort}`),
  ];
  const stats = statsListenLines(c, h, secrets);
  if (stats.length) lines.push("", ...stats);
  return file(PATHS.haproxyCfg, lines.join("\n"), { secret: stats.length > 0, restarts: ["haproxy.service"] });
}

/** The `listen stats` section of the cluster's stats page ([] when disabled). Carries the stats password. */
export function statsListenLines(c: ManagedLbCluster, h: Host, secrets: Secrets): string[] {
  const stats = c.endpoint.haproxy.statsPage;
  if (!stats.enabled) return [];
  return [
    "listen stats",
    "    mode http",
    `    bind ${stats.bind ?? h.internalAddress}:${stats.port}`,
    "    stats enable",
    "    stats uri /",
    "    stats refresh 10s",
    "    stats hide-version",
    `    stats auth admin:${secrets.haproxyStatsPassword}`,
  ];
}

/**
 * haproxy.service drop-in: systemd sees haproxy exit the instant it happens (even SIGKILL), so
 * it writes keepalived's track file then; keepalived lowers this host's priority within
 * milliseconds instead of waiting for a polling script (lab: VIP moved after 0.3 s, not 2 s).
 */
export function renderHaproxyDropIn(): RenderedFile {
  const content = [
    header("#", "Tell keepalived when haproxy starts and stops.").trimEnd(),
    "[Service]",
    `ExecStartPost=/bin/sh -c 'mkdir -p ${PATHS.runDir} && echo 0 > ${PATHS.haproxyDownFile}'`,
    `ExecStopPost=/bin/sh -c 'mkdir -p ${PATHS.runDir} && echo 1 > ${PATHS.haproxyDownFile}'`,
  ].join("\n");
  return file(PATHS.haproxyDropIn, content, { restarts: ["haproxy.service"] });
}

/** Every HAProxy file this host needs (none when it runs no HAProxy); `backends` as in renderHaproxyCfg. */
export function renderHaproxy(c: Cluster, h: Host, secrets: Secrets, backends?: readonly Host[]): RenderedFile[] {
  if (!managesLb(c) || !runsHaproxy(c, h)) return [];
  const out = [renderHaproxyCfg(c, h, secrets, backends)];
  if (usesKeepalived(c)) out.push(renderHaproxyDropIn());
  return out;
}
