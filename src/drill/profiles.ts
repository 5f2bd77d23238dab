/**
 * The load-balancer configurations `kubeha drill --compare seeds` measures against kubeha's own:
 * what the seed guides put in haproxy.cfg and keepalived.conf, rendered onto the SAME lab hosts
 * (same VIP, interface, virtual_router_id, frontend port, backends, file paths and unicast or
 * multicast VRRP as the cluster), so the comparison isolates the checks and the timing.
 *
 * Pure: no clock, no I/O. A profile is applied by writing `files` and deleting `remove` on every
 * LB host, `systemctl daemon-reload` when `daemonReload`, then restarting the units named in the
 * files' `restarts` (haproxy before keepalived). Any profile can follow any other: each one
 * removes the paths the others write and it does not, so kubeha's systemd drop-ins are gone while
 * a seed profile runs (the seeds use Debian's stock units) and a seed's check script is gone
 * when kubeha's profile is back.
 *
 * Where a seed does something the lab cannot do, or that would make the drill meaningless, the
 * rendered file says what was changed and why, next to the changed line. The seeds' figures as
 * measured by hand are in docs/lab-notes.md ("The seeds' own configurations").
 */
import type { Cluster, Host } from "../spec/model.ts";
import { hostsWithRole } from "../spec/model.ts";
import { KubehaError } from "../errors.ts";
import type { RenderedFile, Secrets } from "../render/types.ts";
import { PATHS } from "../render/paths.ts";
import { file } from "../render/file.ts";
import { renderHaproxy, statsListenLines } from "../render/haproxy.ts";
import { downTimerAdverts, FRONTEND_CHECK, renderKeepalived } from "../render/keepalived.ts";
import { PROFILES, type ProfileName } from "./types.ts";
import type { KeepalivedCluster, ManagedLbCluster } from "../spec/topology.ts";
import { keepalivedHosts, runsHaproxy, runsKeepalived, usesKeepalived } from "../spec/topology.ts";

/** The profiles that are not kubeha's own configuration. */
export type SeedProfileName = Exclude<ProfileName, "kubeha">;

/** Where the kubeadm guide's (and seed 004's) keepalived check script lives, as in the guide. */
export const CHECK_APISERVER_PATH = "/etc/keepalived/check_apiserver.sh";

/** What one profile puts on one host. */
export interface LbProfileRender {
  profile: ProfileName;
  /** Files to write (mode and owner as given; `restarts` says which unit each one needs restarted). */
  files: RenderedFile[];
  /**
   * Paths to delete while this profile is active: files another profile writes on this host and
   * this one does not (for a seed: kubeha's haproxy/keepalived drop-ins, check and notify
   * scripts; for kubeha: the seeds' check scripts). Sorted. Deleting a missing path is not an error.
   */
  remove: string[];
  /** True when a written or removed path is a systemd unit file or drop-in: run `systemctl daemon-reload` before restarting. */
  daemonReload: boolean;
  /** Debian packages the profile's scripts need on this host beyond kubeha's own (e.g. psmisc for `killall`). */
  packages: string[];
}

/** Where each profile comes from, for headers and the report. */
const SOURCES: Record<SeedProfileName, string> = {
  "seed-002": "seed 002: keepalived + HAProxy on the three masters, `killall -0 haproxy` check",
  "kubeadm-guide":
    "the kubeadm HA guide (kubernetes/kubeadm docs/ha-considerations.md): check_apiserver.sh + HAProxy httpchk",
  "seed-004": "seed 004: three HAProxy + keepalived hosts, the kubeadm guide's keepalived with ssl-hello-chk backend checks",
};

/**
 * keepalived's `advert_int` when a configuration names none: seed 004 and the kubeadm guide rely
 * on it, seed 002 writes it out.
 */
export const KEEPALIVED_DEFAULT_ADVERT_SECONDS = 1;

/** The seeds' vrrp_script: a check every 3 s; seed 002 sets no `rise` (keepalived's default, 1), the guide and seed 004 rise 2. */
const SEED_CHECK_INTERVAL_S = 3;
const seedRise = (p: SeedProfileName): number => (p === "seed-002" ? 1 : 2);

/**
 * How long (ms) the VIP may still move by itself once the LB hosts look healthy, so how long the
 * drill waits without a VIP change before it plans a fault: a keepalived that preempts takes the
 * VIP back to its preferred host once that host's check passes again (check interval x rise),
 * after `preempt_delay` if set, and one master-down interval later (`downTimerAdverts` adverts +
 * skew, under one advert more); 500 ms for scheduling. kubeha's `preempt: never` keeps the holder:
 * that interval + 500 ms.
 * Without keepalived (kube-vip, a single proxy): 500 ms.
 */
export function vipSettleMs(c: Cluster, p: ProfileName): number {
  const advert = profileAdvertSeconds(c, p);
  if (advert === null || c.endpoint.mode !== "haproxy-keepalived") return 500;
  let goHomeS = 0;
  if (p !== "kubeha") goHomeS = SEED_CHECK_INTERVAL_S * seedRise(p);
  else if (c.endpoint.keepalived.preempt !== "never") {
    goHomeS = FRONTEND_CHECK.intervalS * FRONTEND_CHECK.rise + (c.endpoint.keepalived.preempt === "delay" ? c.endpoint.keepalived.preemptDelaySeconds : 0);
  }
  return Math.round((goHomeS + (downTimerAdverts(advert) + 1) * advert) * 1000) + 500;
}

/** The VRRP advert interval (seconds) the LB hosts run with under profile `p`; null without keepalived. */
export function profileAdvertSeconds(c: Cluster, p: ProfileName): number | null {
  if (c.endpoint.mode !== "haproxy-keepalived") return null;
  return p === "kubeha" ? c.endpoint.keepalived.advertInterval : KEEPALIVED_DEFAULT_ADVERT_SECONDS;
}

/**
 * One line per profile for the drill report. `lbCount` (default 3) only changes how many
 * priorities are listed.
 */
export function profileSummary(profile: ProfileName, lbCount = 3): string {
  const prio = (master: number, backup: number) =>
    [master, ...Array.from({ length: Math.max(0, lbCount - 1) }, () => backup)].join("/");
  switch (profile) {
    case "kubeha":
      return "kubeha: systemd flips a track file the instant haproxy dies, 1 s local frontend check, VRRP timing and priorities from the cluster file, haproxy httpchk /readyz with redispatch";
    case "seed-002":
      return `seed 002: killall -0 haproxy every ${SEED_CHECK_INTERVAL_S} s, weight -11, priorities ${prio(100, 90)}, advert ${KEEPALIVED_DEFAULT_ADVERT_SECONDS} s, haproxy default checks (TCP connect every 2 s, fall 3), timeout connect 10 s`;
    case "kubeadm-guide":
      return `kubeadm guide: check_apiserver.sh every ${SEED_CHECK_INTERVAL_S} s, fall 10, rise ${seedRise(profile)}, weight -2, priorities ${prio(101, 100)}, advert ${KEEPALIVED_DEFAULT_ADVERT_SECONDS} s, haproxy httpchk GET /healthz over TLS every 10 s, fall 2`;
    case "seed-004":
      return `seed 004: check_apiserver.sh every ${SEED_CHECK_INTERVAL_S} s, fall 10, rise ${seedRise(profile)}, weight -2, priorities ${prio(101, 100)}, advert ${KEEPALIVED_DEFAULT_ADVERT_SECONDS} s, haproxy ssl-hello-chk every 2 s, fall 3`;
  }
}

/**
 * Everything `profile` puts on host `h`, and what it removes. Hosts without haproxy or
 * keepalived get nothing. Seed profiles need `controlPlaneEndpoint.mode: haproxy-keepalived`.
 */
export function lbProfile(c: Cluster, h: Host, profile: ProfileName, secrets: Secrets): LbProfileRender {
  const files = profileFiles(c, h, profile, secrets);
  const mine = new Set(files.map((f) => f.path));
  const others = new Set<string>();
  if (runsHaproxy(c, h) || runsKeepalived(c, h)) {
    for (const p of PROFILES) {
      if (p === profile || (p !== "kubeha" && !usesKeepalived(c))) continue;
      for (const f of profileFiles(c, h, p, secrets)) if (!mine.has(f.path)) others.add(f.path);
    }
  }
  const remove = [...others].sort();
  const daemonReload = [...mine, ...remove].some((p) => p.startsWith("/etc/systemd/"));
  const packages = files.length === 0 ? [] : PACKAGES[profile];
  return { profile, files, remove, daemonReload, packages: [...packages] };
}

/** The files of `lbProfile` alone (for `render`-style views; the drill applies `lbProfile`). */
export function renderLbProfile(c: Cluster, h: Host, profile: ProfileName, secrets: Secrets): RenderedFile[] {
  return lbProfile(c, h, profile, secrets).files;
}

/** curl is in kubeha's own package set already; killall is not (psmisc). */
const PACKAGES: Record<ProfileName, readonly string[]> = {
  kubeha: [],
  "seed-002": ["psmisc"],
  "kubeadm-guide": ["curl"],
  "seed-004": ["curl"],
};

function profileFiles(c: Cluster, h: Host, profile: ProfileName, secrets: Secrets): RenderedFile[] {
  if (profile === "kubeha") return [...renderHaproxy(c, h, secrets), ...renderKeepalived(c, h, secrets)];
  if (!usesKeepalived(c)) {
    throw new KubehaError(
      `profile ${profile} needs controlPlaneEndpoint.mode haproxy-keepalived; cluster ${c.name} uses ${c.endpoint.mode}`,
      "the seeds' configurations are HAProxy + keepalived: run `kubeha drill` without `--compare seeds` on this cluster",
    );
  }
  if (!runsHaproxy(c, h)) return [];
  const out = [seedHaproxyCfg(c, h, profile, secrets), seedKeepalivedConf(c, h, profile, secrets)];
  if (profile !== "seed-002") out.push(checkApiserverScript(c, h, profile));
  return out;
}

function profileHeader(comment: string, c: Cluster, h: Host, profile: SeedProfileName, what: string): string[] {
  return [
    `${comment} ${what}`,
    `${comment} drill comparison profile "${profile}"; not kubeha's configuration.`,
    `${comment} From ${SOURCES[profile]}.`,
    `${comment} Rendered by \`kubeha drill --compare seeds\` for host ${h.name} of cluster ${c.name}, onto the same`,
    `${comment} VIP, interface, router id, ports, backends and paths as kubeha's own; the drill puts kubeha's files back.`,
  ];
}

/** The stats page and runtime socket are the drill's instruments, not part of what is compared. */
function instrumentLines(c: ManagedLbCluster, h: Host, secrets: Secrets): string[] {
  const stats = statsListenLines(c, h, secrets);
  if (!stats.length) return [];
  return [
    "",
    "# The cluster's own stats page (address, port and password from the cluster file), not the seed's",
    "# published one: it plays no part in failover.",
    ...stats,
  ];
}

const SOCKET_LINES = [
  "    # Added for the drill: `kubeha status` reads the backend states through this socket.",
  `    stats socket ${PATHS.haproxyStatsSocket} mode 600 level admin`,
];

function seedHaproxyCfg(c: KeepalivedCluster, h: Host, profile: SeedProfileName, secrets: Secrets): RenderedFile {
  const port = c.endpoint.port;
  const backends = hostsWithRole(c, "control-plane");
  const server = (suffix: string) =>
    backends.map((b) => `    server ${b.name} ${b.internalAddress}:${c.kubernetes.apiServerPort}${suffix}`);
  const L = profileHeader("#", c, h, profile, `HAProxy for the Kubernetes API (profile ${profile}).`);
  if (profile === "seed-002") {
    L.push(
      "",
      "global",
      "    log 127.0.0.1 local2",
      "    chroot /var/lib/haproxy",
      "    pidfile /var/run/haproxy.pid",
      "    maxconn 4000",
      "    user haproxy",
      "    group haproxy",
      "    daemon",
      "    stats socket /var/lib/haproxy/stats",
      ...SOCKET_LINES,
      "",
      "defaults",
      "    mode http",
      "    log global",
      "    option httplog",
      "    option dontlognull",
      "    option http-server-close",
      "    # haproxy -c warns that forwardfor is ignored in the TCP frontend and backend; kept as the seed has it.",
      "    option forwardfor except 127.0.0.0/8",
      "    option redispatch",
      "    retries 3",
      "    timeout http-request 10s",
      "    timeout queue 1m",
      "    timeout connect 10s",
      "    timeout client 1m",
      "    timeout server 1m",
      "    timeout http-keep-alive 10s",
      "    timeout check 10s",
      "    maxconn 3000",
      "",
      "frontend kubernetes-apiserver",
      "    mode tcp",
      `    bind *:${port}`,
      "    option tcplog",
      "    default_backend kubernetes-apiserver",
      "",
      "# The seed's backend: `check` alone is a TCP connect every 2 s, down after 3 failures.",
      "backend kubernetes-apiserver",
      "    mode tcp",
      "    balance roundrobin",
      ...server(" check"),
    );
  } else {
    L.push(
      "",
      "global",
      "    log /dev/log local0",
      "    log /dev/log local1 notice",
      "    daemon",
      ...SOCKET_LINES,
      "",
      "defaults",
      "    mode http",
      "    log global",
      "    option httplog",
      "    option dontlognull",
      "    option http-server-close",
      "    # haproxy -c warns that forwardfor is ignored in the TCP frontend and backend; kept as the guide has it.",
      "    option forwardfor except 127.0.0.0/8",
      "    option redispatch",
      "    retries 1",
      "    timeout http-request 10s",
      "    timeout queue 20s",
      "    timeout connect 5s",
      "    timeout client 20s",
      "    timeout server 20s",
      "    timeout http-keep-alive 10s",
      "    timeout check 10s",
      "",
      "frontend apiserver",
      `    bind *:${port}`,
      "    mode tcp",
      "    option tcplog",
      "    default_backend apiserver",
      "",
      "backend apiserver",
      "    option httpchk GET /healthz",
      "    http-check expect status 200",
      "    mode tcp",
    );
    if (profile === "seed-004") {
      L.push(
        "    # As in the seed: ssl-hello-chk comes last and replaces httpchk, so each check is a TLS hello",
        "    # (any TLS answer counts as up), every 2 s, down after 3 failures.",
        "    option ssl-hello-chk",
        "    balance roundrobin",
        ...server(" check"),
      );
    } else {
      L.push(
        "    # Changed from the guide: it also has `option ssl-hello-chk` here. The last check option wins, and an",
        "    # SSLv3 hello sent inside check-ssl's TLS session marks every server DOWN (docs/lab-notes.md), which",
        "    # would measure nothing. Rendered as the guide means it: httpchk GET /healthz over TLS, verify none.",
        "    balance roundrobin",
        "    default-server inter 10s downinter 5s rise 2 fall 2 slowstart 60s maxconn 250 maxqueue 256 weight 100",
        ...server(" check check-ssl verify none"),
      );
    }
  }
  L.push(...instrumentLines(c, h, secrets));
  return file(PATHS.haproxyCfg, L.join("\n"), {
    secret: c.endpoint.haproxy.statsPage.enabled,
    restarts: ["haproxy.service"],
  });
}

function seedKeepalivedConf(c: KeepalivedCluster, h: Host, profile: SeedProfileName, secrets: Secrets): RenderedFile {
  const ka = c.endpoint.keepalived;
  const first = h.lbIndex === 0;
  const seed002 = profile === "seed-002";
  const [master, backup] = seed002 ? [100, 90] : [101, 100];
  const L = profileHeader("!", c, h, profile, `keepalived VRRP for the Kubernetes API VIP (profile ${profile}).`);
  L.push(
    "",
    "global_defs {",
    `    router_id ${profile === "seed-004" ? "LVS_K8S" : "LVS_DEVEL"}`,
  );
  if (!seed002) {
    L.push(
      "    # Added: the guide has neither line. Without them keepalived 2.2.7 reports a SECURITY VIOLATION",
      "    # (`keepalived -t` fails) and runs the check as root anyway; with them it runs as root too.",
    );
  }
  L.push("    script_user root", "    enable_script_security", "}", "");
  if (seed002) {
    L.push(
      "# killall is in psmisc: without it keepalived disables the check and the priority never drops.",
      "vrrp_script check_haproxy {",
      '    script "/usr/bin/killall -0 haproxy"',
      `    interval ${SEED_CHECK_INTERVAL_S}`,
      "    weight -11",
      "}",
    );
  } else {
    L.push(
      "# Fails after 10 consecutive failures, 3 s apart (about 30 s), and only lowers the priority by 2.",
      "vrrp_script check_apiserver {",
      `    script "${CHECK_APISERVER_PATH}"`,
      `    interval ${SEED_CHECK_INTERVAL_S}`,
      "    weight -2",
      "    fall 10",
      `    rise ${seedRise(profile)}`,
      "}",
    );
  }
  L.push(
    "",
    "vrrp_instance VI_1 {",
    `    state ${first ? "MASTER" : "BACKUP"}`,
    `    interface ${h.interface}`,
    `    virtual_router_id ${ka.routerId}`,
  );
  if (first) L.push(`    priority ${master}`);
  else L.push("    # As in the seed: every backup has the same priority (lab: costs about 5 s per failover).", `    priority ${backup}`);
  if (seed002) L.push(`    advert_int ${KEEPALIVED_DEFAULT_ADVERT_SECONDS}`);
  if (ka.unicast) {
    L.push(
      "    # Added: the cluster uses unicast VRRP, so this profile does too (the seed multicasts); the drill",
      "    # compares checks and timing, not the transport.",
      `    unicast_src_ip ${h.internalAddress}`,
      "    unicast_peer {",
    );
    for (const p of keepalivedHosts(c)) if (p.name !== h.name) L.push(`        ${p.internalAddress}`);
    L.push("    }");
  }
  L.push(
    "    authentication {",
    "        auth_type PASS",
    "        # The cluster's VRRP password, not the one printed in the seed.",
    `        auth_pass ${secrets.vrrpAuthPass}`,
    "    }",
    "    virtual_ipaddress {",
    `        ${c.endpoint.address}`,
    "    }",
    "    track_script {",
    `        ${seed002 ? "check_haproxy" : "check_apiserver"}`,
    "    }",
    "}",
  );
  return file(PATHS.keepalivedConf, L.join("\n"), { secret: true, restarts: ["keepalived.service"] });
}

/** The guide's check script (seed 004 copies it): local haproxy answers, and through the VIP when held. */
function checkApiserverScript(c: KeepalivedCluster, h: Host, profile: SeedProfileName): RenderedFile {
  const L = [
    "#!/bin/sh",
    ...profileHeader("#", c, h, profile, "keepalived check script of the kubeadm guide."),
    "# Any HTTP answer counts as success (no --fail), as in the guide. Mode 0755: keepalived silently",
    "# disables a check script that group or others can write.",
    "",
    "errorExit() {",
    '    echo "*** $*" 1>&2',
    "    exit 1",
    "}",
    "",
    `APISERVER_DEST_PORT=${c.endpoint.port}`,
    `APISERVER_VIP=${c.endpoint.address}`,
    "",
    'curl --silent --max-time 2 --insecure "https://localhost:${APISERVER_DEST_PORT}/" -o /dev/null || errorExit "Error GET https://localhost:${APISERVER_DEST_PORT}/"',
    'if ip addr | grep -q "${APISERVER_VIP}"; then',
    '    curl --silent --max-time 2 --insecure "https://${APISERVER_VIP}:${APISERVER_DEST_PORT}/" -o /dev/null || errorExit "Error GET https://${APISERVER_VIP}:${APISERVER_DEST_PORT}/"',
    "fi",
  ];
  return file(CHECK_APISERVER_PATH, L.join("\n"), { mode: 0o755 });
}
