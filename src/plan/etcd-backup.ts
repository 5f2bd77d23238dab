/**
 * etcd snapshot and restore, the pure part: snapshot file names and retention, the sha256 file
 * beside each snapshot, the remote commands (etcdutl where the host has it, etcdctl otherwise:
 * Debian's etcd 3.4 ships no etcdutl), the parsers of their output, and the ordered steps of a
 * restore. src/ops/etcd-snapshot.ts and src/ops/etcd-restore.ts run them.
 */
import { KubehaError } from "../errors.ts";
import { ETCD_BACKUP_PATHS as P } from "../render/paths.ts";
import { parseBigJson, etcdctlCommand } from "../probe/status.ts";
import { sections } from "../probe/facts.ts";
import { peerUrl } from "./etcd.ts";
import type { Cluster, Host } from "../spec/model.ts";
import { hostByName } from "../spec/model.ts";
import { controlPlanes, externalEtcd, noHairpin } from "../spec/topology.ts";
import { shq } from "../util/shell.ts";

// ------------------------------------------------------------------ files on the operator machine

/** `snapshot status -w json` (etcdutl and etcdctl print the same fields). */
export interface SnapshotStatus {
  hash: number;
  revision: number;
  /** Keys in the snapshot's key bucket: every revision of every key not compacted away. */
  totalKey: number;
  totalSize: number;
}

/** `20261202T020304Z`: sorts as time, no characters a shell or Windows minds. */
export function compactUtc(at: Date): string {
  return at.toISOString().replace(/\.\d+Z$/, "Z").replace(/[-:]/g, "");
}

/** `<cluster>-<UTC time>-rev<revision>.db`. */
export function snapshotFileName(cluster: string, at: Date, revision: number): string {
  return `${cluster}-${compactUtc(at)}-rev${revision}.db`;
}

const nameRe = (cluster: string) => new RegExp(`^${cluster.replace(/[-]/g, "\\-")}-(\\d{8}T\\d{6}Z)-rev(\\d+)\\.db$`);

/**
 * The snapshots of `cluster` among `names` (a directory listing) that `--keep N` removes: all but
 * the N newest by the time in their names. Other files are never touched.
 */
export function retention(names: readonly string[], cluster: string, keep: number): string[] {
  const re = nameRe(cluster);
  const ours = names.filter((n) => re.test(n)).sort((a, b) => re.exec(b)![1]!.localeCompare(re.exec(a)![1]!) || b.localeCompare(a));
  return ours.slice(keep).reverse();
}

/** The sha256 file beside a snapshot, in `sha256sum` format (`sha256sum -c` checks it). */
export const sha256FileOf = (snapshotPath: string): string => `${snapshotPath}.sha256`;
export const sha256Line = (hex: string, fileName: string): string => `${hex}  ${fileName}\n`;

/** The hex digest of a `sha256sum`-format file (its first line). */
export function parseSha256File(text: string, file: string): string {
  const m = /^([0-9a-f]{64})\s/i.exec(text.trim() + " ");
  if (!m) throw new KubehaError(`${file} holds no sha256 digest`, "it should read `<64 hex digits>  <snapshot name>`, as `sha256sum` writes it");
  return m[1]!.toLowerCase();
}

// ------------------------------------------------------------------ remote commands

/** `snapshot status|restore` through etcdutl when the host has it (etcd 3.5+), else etcdctl (3.4). */
export function snapshotTool(args: string): string {
  return `if command -v etcdutl >/dev/null 2>&1; then etcdutl ${args}; else ETCDCTL_API=3 etcdctl ${args}; fi`;
}

/** Parses `snapshot status -w json`. */
export function parseSnapshotStatus(stdout: string): SnapshotStatus {
  const line = stdout.trim().split("\n").find((l) => l.trim().startsWith("{"));
  let doc: Record<string, unknown> | undefined;
  try {
    doc = line ? (JSON.parse(line) as Record<string, unknown>) : undefined;
  } catch {
    doc = undefined;
  }
  const num = (k: string) => (typeof doc?.[k] === "number" ? (doc[k] as number) : NaN);
  const s = { hash: num("hash"), revision: num("revision"), totalKey: num("totalKey"), totalSize: num("totalSize") };
  if (Object.values(s).some((v) => !Number.isFinite(v))) throw new Error(`snapshot status printed no status: ${stdout.trim().slice(0, 200)}`);
  return s;
}

/**
 * Saves a snapshot through `member`, prints its status, sha256 and content (base64) in one round
 * trip, and removes the remote copy. Sections: `@@status`, `@@sha256`, `@@data`.
 */
export function saveScript(c: Cluster, member: Host): string {
  const f = `${P.scratchDir}/save.db`;
  return [
    "set -e",
    "umask 077",
    `mkdir -p ${P.scratchDir}`,
    `f=${f}`,
    'e=$(mktemp); trap \'rm -f "$e" "$f" "$f.part"\' EXIT',
    'rm -f "$f" "$f.part"',
    // etcdctl prints its progress on stdout: keep stdout for the sections below.
    `${etcdctlCommand(c, [member], 'snapshot save "$f"', 120)} >"$e" 2>&1 || { tail -n 5 "$e" >&2; exit 1; }`,
    'echo "@@status"',
    `{ ${snapshotTool('snapshot status "$f" -w json')}; } 2>"$e" || { tail -n 5 "$e" >&2; exit 1; }`,
    'echo "@@sha256"; sha256sum "$f" | cut -d" " -f1',
    'echo "@@data"; base64 -w0 "$f"; echo',
  ].join("\n");
}

export interface SavedSnapshot {
  status: SnapshotStatus;
  sha256: string;
  data: Buffer;
}

function section(s: Map<string, string[]>, name: string, what: string): string {
  const v = s.get(name);
  if (v === undefined) throw new Error(`${what} printed no @@${name} section`);
  return v.join("\n").trim();
}

function sha256Of(s: Map<string, string[]>, what: string): string {
  const v = section(s, "sha256", what);
  if (!/^[0-9a-f]{64}$/.test(v)) throw new Error(`${what} printed no sha256: ${v.slice(0, 80)}`);
  return v;
}

/** Splits `saveScript`'s output. */
export function parseSaveOutput(stdout: string): SavedSnapshot {
  const s = sections(stdout);
  const what = "the snapshot script";
  return { status: parseSnapshotStatus(section(s, "status", what)), sha256: sha256Of(s, what), data: Buffer.from(section(s, "data", what), "base64") };
}

/** Checks the uploaded snapshot on a member: its sha256 and `snapshot status` (nothing is stopped yet). */
export function verifyScript(): string {
  const f = P.restoreSnapshot;
  return [
    'e=$(mktemp); trap \'rm -f "$e"\' EXIT',
    `echo "@@sha256"; sha256sum ${f} | cut -d" " -f1`,
    `echo "@@status"; { ${snapshotTool(`snapshot status ${f} -w json`)}; } 2>"$e" || { tail -n 5 "$e" >&2; exit 1; }`,
  ].join("\n");
}

/** Parses `verifyScript`'s output. */
export function parseVerifyOutput(stdout: string): { sha256: string; status: SnapshotStatus } {
  const s = sections(stdout);
  const what = "the snapshot check";
  return { sha256: sha256Of(s, what), status: parseSnapshotStatus(section(s, "status", what)) };
}

// ------------------------------------------------------------------ the cluster after a restore

/** One entry of `etcdctl endpoint status --cluster -w json`. */
export interface EndpointStatus {
  endpoint: string;
  clusterId: string;
  memberId: string;
  leader: string;
  revision: number;
}

export function parseEndpointStatus(stdout: string): EndpointStatus[] {
  const doc = parseBigJson(stdout.trim() || "[]") as Array<{ Endpoint?: string; Status?: { header?: { cluster_id?: string; member_id?: string; revision?: string | number }; leader?: string } }>;
  if (!Array.isArray(doc)) throw new Error("etcdctl endpoint status printed no JSON list");
  return doc.map((e) => ({
    endpoint: e.Endpoint ?? "",
    clusterId: String(e.Status?.header?.cluster_id ?? ""),
    memberId: String(e.Status?.header?.member_id ?? ""),
    leader: String(e.Status?.leader ?? "0"),
    revision: Number(e.Status?.header?.revision ?? 0),
  }));
}

export interface EtcdVerdict {
  ok: boolean;
  clusterIds: string[];
  /** The member id every member names as leader, when they agree. */
  leader?: string;
  problems: string[];
}

/** A restored cluster is done when every member answers, with one cluster ID and one leader among them. */
export function judgeRestored(statuses: readonly EndpointStatus[], expectedMembers: number): EtcdVerdict {
  const problems: string[] = [];
  const clusterIds = [...new Set(statuses.map((s) => s.clusterId))];
  const leaders = [...new Set(statuses.map((s) => s.leader))];
  if (statuses.length !== expectedMembers) problems.push(`${statuses.length} of ${expectedMembers} members answered`);
  if (clusterIds.length !== 1) problems.push(`${clusterIds.length} cluster IDs: ${clusterIds.join(", ")}`);
  if (leaders.length !== 1 || leaders[0] === "0") problems.push(`no single leader (${leaders.join(", ")})`);
  else if (!statuses.some((s) => s.memberId === leaders[0])) problems.push(`the leader ${leaders[0]} is not one of the members`);
  const v: EtcdVerdict = { ok: problems.length === 0, clusterIds, problems };
  if (leaders.length === 1 && leaders[0] !== "0") v.leader = leaders[0]!;
  return v;
}

/** `get "" --from-key --keys-only --limit 1 -w json`: its `count` is the number of keys now in etcd. */
export function parseKeyCount(stdout: string): number {
  const doc = parseBigJson(stdout.trim()) as { count?: number | string };
  const n = Number(doc?.count ?? 0);
  if (!Number.isInteger(n) || n < 0) throw new Error(`etcdctl get printed no count: ${stdout.trim().slice(0, 120)}`);
  return n;
}

// ------------------------------------------------------------------ the restore plan

/** A command on one host; the steps run their hosts in parallel. */
export interface HostCommand {
  host: Host;
  command: string;
}

export type RestoreStepId =
  | "upload"
  | "verify"
  | "stop-apiservers"
  | "stop-etcd"
  | "restore"
  | "start-etcd"
  | "wait-etcd"
  | "start-apiservers"
  | "wait-apiservers"
  | "clean-up";

export interface RestoreStep {
  id: RestoreStepId;
  /** Verb-object, as the progress output shows it. */
  title: string;
  /** Changes something on the hosts (what a dry run lists as "would"). */
  changes: boolean;
  run: HostCommand[];
}

export interface RestorePlan {
  /** The new `--initial-cluster-token` every member is restored with. */
  token: string;
  /** `name=peerURL,...`, the configured members. */
  initialCluster: string;
  members: Host[];
  controlPlanes: Host[];
  steps: RestoreStep[];
}

/** A fresh cluster token: etcd derives the cluster ID from it, so the restored cluster gets a new one. */
export const restoreToken = (c: Cluster, at: Date): string => `${c.name}-etcd-restore-${compactUtc(at).toLowerCase()}`;

/** Polls `cond` (a shell test) every half second for at most `seconds`; exits 1 if it never held. */
const waitFor = (cond: string, seconds: number, what: string): string =>
  `i=0; until ${cond}; do i=$((i+1)); if [ $i -gt ${seconds * 2} ]; then echo "${what} after ${seconds} s" >&2; exit 1; fi; sleep 0.5; done`;

/** Prints the HTTP status of `url` (000 when nothing answered), one line. */
const readyz = (url: string) => `curl -sk -m 3 -o /dev/null -w '%{http_code}' ${url}; echo`;

const apiUrl = (c: Cluster, h: Host) => `https://${h.internalAddress}:${c.kubernetes.apiServerPort}`;

/** How a member's etcd is stopped and started: the systemd unit (external) or kubeadm's static pod (stacked). */
function etcdLifecycle(c: Cluster): { stop: string; start: string; owner?: string } {
  if (externalEtcd(c)) return { stop: "systemctl stop etcd.service", start: "systemctl reset-failed etcd.service 2>/dev/null; systemctl start --no-block etcd.service", owner: "etcd:etcd" };
  const parked = `${P.parkedManifestsDir}/etcd.yaml`;
  return {
    stop: `mkdir -p ${P.parkedManifestsDir} && if [ -e ${P.etcdManifest} ]; then mv ${P.etcdManifest} ${parked}; fi && ${waitFor("! pgrep -x etcd >/dev/null", 60, "etcd still runs")}`,
    start: `if [ -e ${parked} ]; then mv ${parked} ${P.etcdManifest}; fi`,
  };
}

/** The restore of `host`'s member into a fresh directory, swapped in for the data directory. */
function restoreCommand(c: Cluster, host: Host, token: string, initialCluster: string, owner: string | undefined): string {
  const d = c.etcd.dataDir;
  const fresh = `${d}.kubeha-restore`;
  const args = [
    `snapshot restore ${P.restoreSnapshot}`,
    `--name ${shq(host.name)}`,
    `--initial-cluster ${shq(initialCluster)}`,
    `--initial-cluster-token ${shq(token)}`,
    `--initial-advertise-peer-urls ${shq(peerUrl(c, host))}`,
    `--data-dir ${shq(fresh)}`,
  ].join(" ");
  return [
    "set -e",
    'e=$(mktemp); trap \'rm -f "$e"\' EXIT',
    `rm -rf ${shq(fresh)}`,
    `{ ${snapshotTool(args)}; } >"$e" 2>&1 || { tail -n 5 "$e" >&2; exit 1; }`,
    // The directory before the restore is kept once, beside it, until the next restore.
    `rm -rf ${shq(`${d}.before-restore`)}`,
    `if [ -e ${shq(d)} ]; then mv ${shq(d)} ${shq(`${d}.before-restore`)}; fi`,
    `mv ${shq(fresh)} ${shq(d)}`,
    ...(owner ? [`chown -R ${owner} ${shq(d)}`] : []),
    `chmod 700 ${shq(d)}`,
  ].join("\n");
}

/**
 * The ordered steps of a restore. The snapshot is uploaded and checked on every member before
 * anything stops; the apiservers stop before etcd (they must not write into, or keep watching, the
 * old cluster) and come back after it has one leader again.
 */
export function planRestore(c: Cluster, at: Date): RestorePlan {
  const members = c.etcd.members.map((n) => hostByName(c, n));
  const cps = controlPlanes(c);
  const token = restoreToken(c, at);
  const initialCluster = members.map((h) => `${h.name}=${peerUrl(c, h)}`).join(",");
  const life = etcdLifecycle(c);
  const parkedApi = `${P.parkedManifestsDir}/kube-apiserver.yaml`;
  const on = (hosts: Host[], command: (h: Host) => string): HostCommand[] => hosts.map((host) => ({ host, command: command(host) }));
  const steps: RestoreStep[] = [
    // The upload itself is a file write (Transport.put); its command is what a dry run shows.
    { id: "upload", title: "Upload the snapshot to every etcd member", changes: true, run: on(members, () => `write ${P.restoreSnapshot} (0600)`) },
    { id: "verify", title: "Check the uploaded snapshot's sha256 and status on every member", changes: false, run: on(members, () => verifyScript()) },
    {
      id: "stop-apiservers",
      title: "Stop the API servers (static pod manifests moved away)",
      changes: true,
      run: on(cps, (h) => `mkdir -p ${P.parkedManifestsDir} && if [ -e ${P.apiserverManifest} ]; then mv ${P.apiserverManifest} ${parkedApi}; fi && ${waitFor(`! curl -sk -m 1 -o /dev/null ${apiUrl(c, h)}/healthz`, 60, "the API server still answers")}`),
    },
    { id: "stop-etcd", title: "Stop etcd on every member", changes: true, run: on(members, () => life.stop) },
    { id: "restore", title: "Restore the snapshot into every member's data directory", changes: true, run: on(members, (h) => restoreCommand(c, h, token, initialCluster, life.owner)) },
    { id: "start-etcd", title: "Start etcd on every member", changes: true, run: on(members, () => life.start) },
    { id: "wait-etcd", title: "Wait for one leader and one cluster ID", changes: false, run: on(members.slice(0, 1), () => etcdctlCommand(c, members, "endpoint status --cluster -w json", 5)) },
    { id: "start-apiservers", title: "Start the API servers (manifests back)", changes: true, run: on(cps, () => `if [ -e ${parkedApi} ]; then mv ${parkedApi} ${P.apiserverManifest}; fi`) },
    {
      id: "wait-apiservers",
      title: "Wait for /readyz on every API server and through the endpoint",
      changes: false,
      // Behind a cloud LB without hairpin the control planes cannot reach the endpoint: direct only.
      run: on(cps, (h) => [readyz(`${apiUrl(c, h)}/readyz`), ...(noHairpin(c) ? [] : [readyz(`https://${c.endpoint.address}:${c.endpoint.port}/readyz`)])].join("; ")),
    },
    { id: "clean-up", title: "Remove the uploaded snapshot", changes: true, run: on(members, () => `rm -f ${P.restoreSnapshot}`) },
  ];
  return { token, initialCluster, members, controlPlanes: cps, steps };
}

/** The key count command, run after the restore through every member. */
export const keyCountCommand = (c: Cluster, members: readonly Host[]): string => etcdctlCommand(c, members, `get "" --from-key --keys-only --limit 1 -w json`, 10);
