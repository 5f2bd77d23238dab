/**
 * `kubeha status`, the pure parts: the read-only script each host runs (ONE round trip per host),
 * the parser of its output, and `evaluate`, which turns what was observed into a report with a
 * verdict. Only `src/exec` talks to hosts; the CLI and `src/status.ts` glue them together.
 */
import { table } from "../report/format.ts";
import { sections } from "./facts.ts";
import type { Cluster, EndpointMode, Host, Role } from "../spec/model.ts";
import { hostByName } from "../spec/model.ts";
import { PATHS } from "../render/paths.ts";
import type { CertStatus } from "../pki/index.ts";
import { holdsVip, isControlPlane, isKubernetesNode, noHairpin, runsExternalEtcd, runsHaproxy, runsKeepalived } from "../spec/topology.ts";
import { evaluateLeaders, leasesScript, parseLeases, renderLeaders, type LeaderStatus, type LeaseReading } from "./leaders.ts";
import { certsScript, etcdPkiDir, evaluateHostCerts, issuedFingerprints, parseCerts, runsEtcdMember, type CertReading, type HostCertificate } from "./certs.ts";

export { runsEtcdMember } from "./certs.ts";
export type { LeaderStatus } from "./leaders.ts";

/** One systemd unit kubeha expects on a host, and its `systemctl is-active` state. */
export interface ServiceStatus {
  name: string;
  state: string;
}

export interface HostStatus {
  name: string;
  address: string;
  roles: Role[];
  reachable: boolean;
  /** Why the host could not be read (connection or script failure). */
  error?: string;
  /** Only the units this host should run, in a fixed order. */
  services: ServiceStatus[];
}

/** One server line of HAProxy's `show servers state`. */
export interface BackendStatus {
  backend: string;
  server: string;
  address: string;
  /** UP, DOWN, STARTING, STOPPING, or MAINT (administratively disabled). */
  state: string;
}

export interface HaproxyStatus {
  host: string;
  backends: BackendStatus[];
  /** Why the runtime socket could not be read. */
  error?: string;
}

export interface EtcdMemberStatus {
  name: string;
  endpoint: string;
  healthy: boolean;
  leader: boolean;
  version?: string;
  dbSizeBytes?: number;
  raftIndex?: number;
  raftTerm?: number;
  error?: string;
}

export interface EtcdStatus {
  /** Name of the member every reachable member names as leader; absent when there is none or no agreement. */
  leader?: string;
  members: EtcdMemberStatus[];
}

/** One `/readyz` probe: from a host, straight to a control plane or through the cluster endpoint. */
export interface ReadyzStatus {
  from: string;
  via: "direct" | "endpoint";
  url: string;
  /** HTTP status; 0 = no answer. */
  code: number;
}

/** What `kubeha status` reports; `status.schema.json` describes its JSON form. */
export interface StatusReport {
  cluster: string;
  /** False when any problem was found; the CLI then exits 1. */
  healthy: boolean;
  /** Each makes the cluster degraded. */
  problems: string[];
  /**
   * What could not be checked: each unreachable host (by name) and `certificates` when the local
   * state directory could not be read. Non-empty: the CLI exits 4 ("could not check"), not 1.
   */
  unchecked: string[];
  /** Worth knowing, not degraded (a certificate expiring soon, a socket that cannot be read). */
  warnings: string[];
  hosts: HostStatus[];
  /** Where the Kubernetes binaries came from; `description` is the offline bundle's own words. */
  kubernetes: { version: string; source: "upstream" | "mirror" | "bundle"; description?: string };
  vip: { mode: EndpointMode; address: string; port: number; holders: string[] };
  haproxy: HaproxyStatus[];
  etcd: EtcdStatus;
  apiserver: ReadyzStatus[];
  /** Who leads kube-controller-manager and kube-scheduler (their Leases); [] when no control plane could say. */
  leaders: LeaderStatus[];
  /** The certificates read from each host (no key material), with their expiry. */
  certificates: HostCertificate[];
}

/** What was gathered: each host's script output (or why there is none) and the local PKI view. */
export interface Observations {
  hosts: Record<string, { output: string } | { error: string }>;
  /** The state directory's certificates: what the hosts' certificates are compared with. */
  certificates: CertStatus[] | { error: string };
  /** When the hosts were read (operator clock, ms since the epoch): certificate expiry is counted from it. */
  now: number;
  /** Days before expiry that make a host certificate a warning. Default 30. */
  thresholdDays?: number;
  /** The offline bundle manifest's description, when Kubernetes comes from a bundle. */
  bundleDescription?: string;
}

// ------------------------------------------------------------------ the script

/** Hosts that may hold the VIP: LB hosts with keepalived, control planes with kube-vip. */
export const vipCandidate = holdsVip;


/** The systemd units this host should have active, in report order. */
export function expectedUnits(c: Cluster, h: Host): string[] {
  const u: string[] = [];
  if (runsHaproxy(c, h)) u.push("haproxy");
  if (runsKeepalived(c, h)) u.push("keepalived");
  if (runsExternalEtcd(c, h)) u.push("etcd");
  if (isKubernetesNode(h)) u.push(c.kubernetes.containerRuntime === "cri-o" ? "crio" : "containerd", "kubelet");
  return u;
}

/** Whether this host probes `/readyz` through the endpoint (not from behind a non-hairpin LB). */
function probesEndpoint(c: Cluster, h: Host): boolean {
  if (!isKubernetesNode(h) && !runsHaproxy(c, h)) return false;
  return !(noHairpin(c) && isControlPlane(h));
}

/** etcdctl against `members` with the healthcheck client certificate (external or stacked paths). */
export function etcdctlCommand(c: Cluster, members: readonly Host[], args: string, commandTimeoutSeconds = 4): string {
  const dir = etcdPkiDir(c);
  const endpoints = members.map((m) => `https://${m.internalAddress}:${c.etcd.clientPort}`).join(",");
  return `ETCDCTL_API=3 etcdctl --endpoints=${endpoints} --cacert=${dir}/ca.crt --cert=${dir}/healthcheck-client.crt --key=${dir}/healthcheck-client.key --dial-timeout=2s --command-timeout=${commandTimeoutSeconds}s ${args}`;
}

const readyzUrl = (addr: string, port: number) => `https://${addr}:${port}/readyz`;
const curl = (url: string) => `curl -sk -m 3 -o /dev/null -w '%{http_code}' ${url} 2>/dev/null; echo`;

/** The read-only status script for one host (run as root); prints `@@section` blocks. */
export function statusScript(c: Cluster, h: Host): string {
  const lines = ["export LC_ALL=C"];
  const units = expectedUnits(c, h);
  lines.push(`echo "@@units"; for u in ${units.join(" ") || "none"}; do echo "$u $(systemctl is-active "$u" 2>/dev/null)"; done`);
  // Hosts from Ignition configs: whether their install unit succeeded (nothing printed where it is absent).
  const installUnit = PATHS.installUnit.replace(/^.*\//, "");
  lines.push(`echo "@@install"; [ -e ${PATHS.installUnit} ] && { systemctl show ${installUnit} -p ActiveState -p Result 2>/dev/null; [ -e ${PATHS.installedMarker} ] && echo Installed=yes; }; true`);
  if (vipCandidate(c, h)) lines.push(`echo "@@vip"; ip -o -4 addr show to ${c.endpoint.address}/32 2>/dev/null; true`);
  if (runsHaproxy(c, h)) {
    lines.push(
      `echo "@@haproxy"; if ! command -v socat >/dev/null 2>&1; then echo "!socat is not installed"; ` +
        `elif [ ! -S ${PATHS.haproxyStatsSocket} ]; then echo "!no runtime socket at ${PATHS.haproxyStatsSocket}"; ` +
        `else echo 'show servers state' | timeout 3 socat stdio UNIX-CONNECT:${PATHS.haproxyStatsSocket} 2>&1 || echo "!socat exited $?"; fi`,
    );
  }
  if (runsEtcdMember(c, h)) {
    const e = (args: string) => `${etcdctlCommand(c, [h], args)} 2>"$e"`;
    lines.push(
      'e=$(mktemp); trap \'rm -f "$e"\' EXIT',
      'echo "@@etcdctl"; command -v etcdctl >/dev/null 2>&1 && echo yes || echo no',
      `echo "@@etcdmembers"; ${e("member list -w json")}; echo; echo "@@etcdmembers_err"; tail -n 3 "$e"`,
      `echo "@@etcdstatus"; ${e("endpoint status -w json --cluster")}; echo; echo "@@etcdstatus_err"; tail -n 5 "$e"`,
      `echo "@@etcdhealth"; ${e("endpoint health -w json --cluster")}; echo; echo "@@etcdhealth_err"; tail -n 5 "$e"`,
    );
  }
  if (h.roles.includes("control-plane")) lines.push(`echo "@@readyz"; ${curl(readyzUrl(h.internalAddress, c.kubernetes.apiServerPort))}`, ...leasesScript());
  if (probesEndpoint(c, h)) lines.push(`echo "@@readyzendpoint"; ${curl(readyzUrl(c.endpoint.address, c.endpoint.port))}`);
  lines.push(...certsScript(c, h));
  lines.push('echo "@@end"');
  return lines.join("\n");
}

// ------------------------------------------------------------------ parsing

/** etcd ids are uint64: quote them before JSON.parse so they keep every digit. */
export function parseBigJson(text: string): unknown {
  return JSON.parse(text.replace(/("(?:ID|member_id|cluster_id|leader)"\s*:\s*)(\d+)/g, '$1"$2"'));
}

/** A JSON value per line of etcdctl output (it prints one document; stray lines are skipped). */
function jsonOf(lines: string[] | undefined): unknown {
  const text = (lines ?? []).join("\n").trim();
  if (!text) return undefined;
  try {
    return parseBigJson(text);
  } catch {
    return undefined;
  }
}

const OP_STATES: Record<string, string> = { "0": "DOWN", "1": "STARTING", "2": "UP", "3": "STOPPING" };

/** Parses `show servers state` (format version 1). */
export function parseServersState(lines: string[]): BackendStatus[] {
  const out: BackendStatus[] = [];
  for (const l of lines) {
    if (l.startsWith("#") || !/^\d+ \S+ \d+ /.test(l)) continue;
    const col = l.trim().split(/\s+/);
    if (col.length < 7) continue;
    const admin = Number(col[6]);
    // srv_admin_state bits: any "maintenance" bit set means the server is out of rotation.
    const state = admin & 0x2f ? "MAINT" : OP_STATES[col[5]!] ?? `state ${col[5]}`;
    out.push({ backend: col[1]!, server: col[3]!, address: col[4]!, state });
  }
  return out.sort((a, b) => a.backend.localeCompare(b.backend) || a.server.localeCompare(b.server));
}

/** What one host's script output says (pure). */
export interface HostReading {
  units: Map<string, string>;
  /** Undefined when the host is not a VIP candidate. */
  holdsVip?: boolean;
  haproxy?: { backends: BackendStatus[]; error?: string };
  etcd?: {
    etcdctl: boolean;
    members?: Array<{ id: string; name: string; clientURLs: string[] }>;
    status?: Array<{ endpoint: string; memberId: string; leader: string; version: string; dbSize: number; raftIndex: number; raftTerm: number }>;
    health?: Array<{ endpoint: string; health: boolean; error?: string }>;
    errors: string[];
  };
  readyz?: number;
  readyzEndpoint?: number;
  /** The Leases a control plane read (absent from outputs without a `@@leases` section). */
  leases?: LeaseReading;
  /** The certificate files read from the host; undefined when the output has no `@@certs` section. */
  certs?: Map<string, CertReading>;
  /**
   * The first-boot install unit of a host provisioned from an Ignition config (absent elsewhere):
   * `systemctl show`'s ActiveState and Result.
   */
  install?: { active: string; result: string; installed: boolean };
}

/** Parses a status script's output. Throws when the output is truncated. */
export function parseStatus(out: string): HostReading {
  const s = sections(out);
  if (!s.has("end")) throw new Error("status output is incomplete (the script did not finish)");
  const r: HostReading = { units: new Map() };
  for (const l of s.get("units") ?? []) {
    const [u, state] = l.trim().split(/\s+/);
    if (u && u !== "none") r.units.set(u, state || "unknown");
  }
  if (s.has("vip")) r.holdsVip = (s.get("vip") ?? []).length > 0;
  const install = s.get("install") ?? [];
  if (install.length) {
    const v = (k: string) => install.find((l) => l.startsWith(`${k}=`))?.slice(k.length + 1).trim() ?? "unknown";
    r.install = { active: v("ActiveState"), result: v("Result"), installed: v("Installed") === "yes" };
  }
  if (s.has("haproxy")) {
    const lines = s.get("haproxy") ?? [];
    const bang = lines.find((l) => l.startsWith("!"));
    const backends = parseServersState(lines);
    r.haproxy = bang ? { backends, error: bang.slice(1) } : backends.length || lines.length ? { backends } : { backends, error: "the runtime socket answered nothing" };
  }
  if (s.has("etcdctl")) {
    // etcdctl's JSON log lines repeat what its plain error lines say, less readably.
    const errors = ["etcdmembers_err", "etcdstatus_err", "etcdhealth_err"].flatMap((k) => s.get(k) ?? []).map((l) => l.trim()).filter((l) => !l.startsWith("{"));
    const e: NonNullable<HostReading["etcd"]> = { etcdctl: (s.get("etcdctl") ?? [])[0] === "yes", errors: [...new Set(errors)] };
    const members = jsonOf(s.get("etcdmembers")) as { members?: Array<{ ID: string; name?: string; clientURLs?: string[] }> } | undefined;
    if (members?.members) e.members = members.members.map((m) => ({ id: String(m.ID), name: m.name ?? "", clientURLs: m.clientURLs ?? [] }));
    const status = jsonOf(s.get("etcdstatus"));
    if (Array.isArray(status)) {
      e.status = status.map((x: { Endpoint: string; Status: { header: { member_id: string; raft_term?: number }; leader: string; version: string; dbSize: number; raftIndex: number; raftTerm: number } }) => ({
        endpoint: x.Endpoint,
        memberId: String(x.Status.header.member_id),
        leader: String(x.Status.leader),
        version: x.Status.version,
        dbSize: Number(x.Status.dbSize),
        raftIndex: Number(x.Status.raftIndex),
        raftTerm: Number(x.Status.raftTerm),
      }));
    }
    const health = jsonOf(s.get("etcdhealth"));
    if (Array.isArray(health)) e.health = health.map((x: { endpoint: string; health: boolean; error?: string }) => ({ endpoint: x.endpoint, health: x.health === true, ...(x.error ? { error: x.error } : {}) }));
    r.etcd = e;
  }
  const code = (k: string) => (s.has(k) ? Number((s.get(k) ?? [])[0] ?? 0) || 0 : undefined);
  const rz = code("readyz");
  if (rz !== undefined) r.readyz = rz;
  const rze = code("readyzendpoint");
  if (rze !== undefined) r.readyzEndpoint = rze;
  if (s.has("certs")) r.certs = parseCerts(s.get("certs") ?? []);
  if (s.has("leases")) r.leases = parseLeases(s.get("leases") ?? []);
  return r;
}

// ------------------------------------------------------------------ the verdict

const hostOfUrl = (u: string) => /^\w+:\/\/\[?([^\]/]+?)\]?:\d+/.exec(u)?.[1] ?? u;

/**
 * The report and its verdict from what was observed (pure). Every problem names the host or
 * member it is about; an unreachable host is a problem, never an exception.
 */
export function evaluate(c: Cluster, obs: Observations): StatusReport {
  const problems: string[] = [];
  const warnings: string[] = [];
  const unchecked: string[] = [];
  const readings = new Map<string, HostReading>();
  const hosts: HostStatus[] = c.hosts.map((h) => {
    const o = obs.hosts[h.name];
    const base = { name: h.name, address: h.address, roles: [...h.roles] };
    const expected = expectedUnits(c, h);
    if (!o || "error" in o) {
      const error = o ? o.error : "not probed";
      problems.push(`${h.name}: unreachable (${error})`);
      unchecked.push(h.name);
      return { ...base, reachable: false, error, services: expected.map((name) => ({ name, state: "unknown" })) };
    }
    let r: HostReading;
    try {
      r = parseStatus(o.output);
    } catch (err) {
      const error = (err as Error).message;
      problems.push(`${h.name}: ${error}`);
      return { ...base, reachable: true, error, services: expected.map((name) => ({ name, state: "unknown" })) };
    }
    readings.set(h.name, r);
    const services = expected.map((name) => ({ name, state: r.units.get(name) ?? "unknown" }));
    for (const s of services) if (s.state !== "active") problems.push(`${h.name}: ${s.name} is ${s.state}`);
    // After a success the marker stays and later boots skip the unit (inactive, Result=success).
    if (r.install && !r.install.installed && r.install.result !== "success") {
      problems.push(`${h.name}: kubeha-install.service failed (${r.install.result}, ${r.install.active}): its reason is in \`journalctl -u kubeha-install\` on ${h.name}`);
    } else if (r.install && !r.install.installed) {
      problems.push(`${h.name}: kubeha-install.service is ${r.install.active} (the host is still installing itself from its Ignition config)`);
    }
    return { ...base, reachable: true, services };
  });

  // The VIP: exactly one holder among the hosts that may hold it.
  const candidates = c.hosts.filter((h) => vipCandidate(c, h));
  const holders = candidates.filter((h) => readings.get(h.name)?.holdsVip).map((h) => h.name);
  if (candidates.length) {
    if (holders.length > 1) problems.push(`split brain: the VIP ${c.endpoint.address} is on ${holders.length} hosts: ${holders.join(", ")}`);
    else if (holders.length === 0) problems.push(`no host holds the VIP ${c.endpoint.address}`);
  }

  // HAProxy: every server of every backend UP, as seen by each LB host.
  const haproxy: HaproxyStatus[] = [];
  for (const h of c.hosts.filter((x) => runsHaproxy(c, x))) {
    const hp = readings.get(h.name)?.haproxy;
    if (!hp) continue;
    haproxy.push({ host: h.name, backends: hp.backends, ...(hp.error ? { error: hp.error } : {}) });
    if (hp.error) warnings.push(`${h.name}: HAProxy backend states unknown: ${hp.error}`);
    for (const b of hp.backends) if (b.state !== "UP") problems.push(`${h.name}: HAProxy backend ${b.backend}/${b.server} (${b.address}) is ${b.state}`);
  }

  const etcd = evaluateEtcd(c, readings, problems, warnings);

  // apiserver /readyz: each control plane directly, and through the endpoint from every node.
  const apiserver: ReadyzStatus[] = [];
  for (const h of c.hosts) {
    const r = readings.get(h.name);
    if (!r) continue;
    if (r.readyz !== undefined) {
      apiserver.push({ from: h.name, via: "direct", url: readyzUrl(h.internalAddress, c.kubernetes.apiServerPort), code: r.readyz });
      if (r.readyz !== 200) problems.push(`${h.name}: apiserver /readyz ${r.readyz ? `answered ${r.readyz}` : "did not answer"}`);
    }
    if (r.readyzEndpoint !== undefined) {
      apiserver.push({ from: h.name, via: "endpoint", url: readyzUrl(c.endpoint.address, c.endpoint.port), code: r.readyzEndpoint });
      if (r.readyzEndpoint !== 200) problems.push(`${h.name}: /readyz through ${c.endpoint.address}:${c.endpoint.port} ${r.readyzEndpoint ? `answered ${r.readyzEndpoint}` : "did not answer"}`);
    }
  }

  const leaseReadings = c.hosts.flatMap((h) => {
    const l = readings.get(h.name)?.leases;
    return l ? [{ host: h.name, reading: l }] : [];
  });
  const leaders = evaluateLeaders(leaseReadings, problems, warnings);

  // Certificates as found on each host, compared with the state directory's (no key is read).
  if ("error" in obs.certificates) {
    problems.push(`certificates: ${obs.certificates.error}`);
    unchecked.push("certificates");
  }
  const issued = "error" in obs.certificates ? new Map<string, string>() : issuedFingerprints(obs.certificates);
  const certificates: HostCertificate[] = c.hosts.flatMap((h) => {
    const certs = readings.get(h.name)?.certs;
    return certs ? evaluateHostCerts(c, h, certs, issued, obs.now, obs.thresholdDays ?? 30, problems, warnings) : [];
  });

  return {
    cluster: c.name,
    healthy: problems.length === 0,
    problems,
    unchecked,
    warnings,
    hosts,
    kubernetes: { version: c.kubernetes.version, source: c.packages.source, ...(obs.bundleDescription ? { description: obs.bundleDescription } : {}) },
    vip: { mode: c.endpoint.mode, address: c.endpoint.address, port: c.endpoint.port, holders },
    haproxy,
    etcd,
    apiserver,
    leaders,
    certificates,
  };
}

function evaluateEtcd(c: Cluster, readings: Map<string, HostReading>, problems: string[], warnings: string[]): EtcdStatus {
  const views = c.hosts.filter((h) => runsEtcdMember(c, h)).flatMap((h) => {
    const e = readings.get(h.name)?.etcd;
    return e ? [{ host: h, e }] : [];
  });
  if (!views.length) {
    if (c.etcd.members.length) problems.push("etcd: no member could be asked (every etcd host is unreachable)");
    return { members: [] };
  }
  if (views.every((v) => !v.e.etcdctl)) {
    warnings.push("etcd: etcdctl is not installed on the etcd hosts; member details unknown");
    return { members: c.etcd.members.map((name) => ({ name, endpoint: memberUrl(c, name), healthy: false, leader: false, error: "etcdctl not installed" })) };
  }
  // Merge every view: a member is healthy when any member vouches for it.
  const ids = new Map<string, string>(); // member id -> name
  for (const v of views) for (const m of v.e.members ?? []) ids.set(m.id, m.name);
  const status = new Map<string, NonNullable<NonNullable<HostReading["etcd"]>["status"]>[number]>();
  const health = new Map<string, { health: boolean; error?: string }>();
  for (const v of views) {
    for (const s of v.e.status ?? []) status.set(hostOfUrl(s.endpoint), s);
    for (const x of v.e.health ?? []) {
      const k = hostOfUrl(x.endpoint);
      if (!health.get(k)?.health) health.set(k, x);
    }
  }
  const leaders = new Set([...status.values()].map((s) => s.leader).filter((l) => l && l !== "0"));
  const leaderName = leaders.size === 1 ? ids.get([...leaders][0]!) : undefined;
  const errs = [...new Set(views.flatMap((v) => v.e.errors))];
  const members: EtcdMemberStatus[] = c.etcd.members.map((name) => {
    const addr = hostByName(c, name).internalAddress;
    const s = status.get(addr);
    const hh = health.get(addr);
    const healthy = hh?.health === true && s !== undefined;
    const error = healthy ? undefined : hh?.error ?? errs.find((e) => e.includes(addr)) ?? "no answer";
    const m: EtcdMemberStatus = { name, endpoint: memberUrl(c, name), healthy, leader: s !== undefined && s.memberId === s.leader };
    if (s) Object.assign(m, { version: s.version, dbSizeBytes: s.dbSize, raftIndex: s.raftIndex, raftTerm: s.raftTerm });
    if (error) m.error = error;
    if (!healthy) problems.push(`etcd member ${name} (${m.endpoint}) is unhealthy: ${error}`);
    return m;
  });
  const known = new Set(c.etcd.members);
  for (const name of new Set(ids.values())) if (name && !known.has(name)) problems.push(`etcd has a member ${name} that is not in the cluster file`);
  if (leaders.size === 0) problems.push("etcd has no leader");
  else if (leaders.size > 1) problems.push(`etcd members disagree about the leader (${leaders.size} leaders seen)`);
  return { ...(leaderName ? { leader: leaderName } : {}), members };
}

const memberUrl = (c: Cluster, name: string) => `https://${hostByName(c, name).internalAddress}:${c.etcd.clientPort}`;

// ------------------------------------------------------------------ the table

const mib = (b: number | undefined) => (b === undefined ? "-" : `${(b / 1048576).toFixed(1)} MiB`);

/** The human form of a report (deterministic: no timestamps, stable order). */
export function renderStatus(r: StatusReport): string {
  const out: string[] = [];
  out.push(`cluster ${r.cluster}: ${r.healthy ? "healthy" : `DEGRADED (${r.problems.length} problem${r.problems.length === 1 ? "" : "s"})`}`, "");
  const vipCol = r.vip.mode === "haproxy-keepalived" || r.vip.mode === "kube-vip";
  out.push(
    table([
      ["HOST", "ADDRESS", "ROLES", "REACHABLE", ...(vipCol ? ["VIP"] : []), "SERVICES"],
      ...r.hosts.map((h) => [
        h.name,
        h.address,
        h.roles.join(","),
        h.reachable ? (h.error ? "error" : "yes") : "NO",
        ...(vipCol ? [r.vip.holders.includes(h.name) ? "holder" : "-"] : []),
        h.services.map((s) => `${s.name}=${s.state}`).join(" ") || "-",
      ]),
    ]),
    "",
  );
  const k = r.kubernetes;
  out.push(`Kubernetes ${k.version} from ${k.source}${k.description ? `: ${k.description}` : ""}`);
  out.push(`endpoint ${r.vip.address}:${r.vip.port} (${r.vip.mode})${vipCol ? `: VIP held by ${r.vip.holders.join(", ") || "nobody"}` : ""}`, "");
  if (r.haproxy.length) {
    const rows = [["LB HOST", "BACKEND", "SERVER", "ADDRESS", "STATE"]];
    for (const h of r.haproxy) {
      if (h.error) rows.push([h.host, "-", "-", "-", `unknown: ${h.error}`]);
      for (const b of h.backends) rows.push([h.host, b.backend, b.server, b.address, b.state]);
    }
    out.push(table(rows), "");
  }
  if (r.etcd.members.length) {
    out.push(
      table([
        ["ETCD MEMBER", "ENDPOINT", "HEALTHY", "LEADER", "DB SIZE", "RAFT INDEX", "VERSION"],
        ...r.etcd.members.map((m) => [m.name, m.endpoint, m.healthy ? "yes" : `NO: ${m.error ?? ""}`.trim(), m.leader ? "leader" : "-", mib(m.dbSizeBytes), m.raftIndex === undefined ? "-" : String(m.raftIndex), m.version ?? "-"]),
      ]),
      "",
    );
  }
  if (r.apiserver.length) {
    out.push(table([["READYZ FROM", "VIA", "URL", "HTTP"], ...r.apiserver.map((a) => [a.from, a.via, a.url, a.code ? String(a.code) : "no answer"])]), "");
  }
  if (r.leaders.length) out.push(renderLeaders(r.leaders), "");
  if (r.certificates.length) {
    const issuer = (x: HostCertificate) => (x.issuedByKubeha === undefined ? "-" : x.issuedByKubeha ? "kubeha" : "OTHER");
    out.push(
      table([
        ["HOST", "CERTIFICATE", "EXPIRES", "DAYS LEFT", "STATUS", "ISSUED BY"],
        ...r.certificates.map((x) => [x.host, x.id, x.notAfter?.slice(0, 10) ?? "-", x.daysLeft === undefined ? "-" : String(x.daysLeft), x.status, issuer(x)]),
      ]),
      "",
    );
  }
  for (const w of r.warnings) out.push(`warning: ${w}`);
  for (const p of r.problems) out.push(`problem: ${p}`);
  return out.join("\n").trimEnd();
}
