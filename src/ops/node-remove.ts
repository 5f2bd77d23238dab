/**
 * `kubeha node remove` (effects): takes hosts out of a running cluster. The guard and the order of
 * the actions are pure (src/plan/remove.ts); this runs them as phases behind the wet gate, so
 * `--dry-run` records exactly what a real run does. The remaining LB hosts are converged by apply's
 * own lb phase on the cluster without the removed hosts: no second LB updater.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Cluster, Host } from "../spec/model.ts";
import type { ClusterFile } from "../spec/file.ts";
import { loadCluster, parseCluster } from "../spec/read.ts";
import { readYaml } from "../spec/yaml.ts";
import { normalize } from "../spec/normalize.ts";
import { hostEntryLines, hostEntryOf, removeHostsFromText, type HostEntryLines } from "../spec/edit-hosts.ts";
import { controlPlanes, etcdMembers, keepalivedHosts, lbHosts, managesLb } from "../spec/topology.ts";
import { KubehaError, UsageError } from "../errors.ts";
import { ensureState } from "../pki/index.ts";
import { readManagedHosts, writeManagedHosts, type ManagedHost } from "../pki/managed-hosts.ts";
import { ConnectionPool, forEachHost } from "../exec/pool.ts";
import { withHostLocks } from "../exec/lock.ts";
import { knownHostsName, removeKnownHosts } from "../exec/known-hosts.ts";
import type { Transport } from "../exec/transport.ts";
import { runPhases, type Phase } from "../phases/runner.ts";
import { newApplyData, type ApplyData, type Ctx } from "../phases/data.ts";
import { connect } from "../phases/connect.ts";
import { gatherFacts } from "../phases/facts.ts";
import { lbPhase } from "../phases/lb.ts";
import { runSteps, stepsOf } from "../phases/steps.ts";
import type { Step } from "../plan/host.ts";
import { etcdctlCommand } from "../probe/status.ts";
import { etcdMemberRemoveCommand, hexId, memberOf, parseMemberList } from "../plan/etcd.ts";
import { describeAction, planRemoval, removalRefusals, type RemovalAction, type RemovalPlan } from "../plan/remove.ts";
import { PATHS } from "../render/paths.ts";
import { shq } from "../util/shell.ts";
import { registerSecret } from "../util/redact.ts";
import type { Reporter } from "../report/index.ts";
import type { Change } from "../report/summary.ts";
import { binaryNotBuilt } from "./not-built.ts";

/** `--drain-timeout` default: long enough for pods with a normal grace period, bounded. */
export const DEFAULT_DRAIN_TIMEOUT_SECONDS = 120;

export interface RemoveOptions {
  /** The cluster file (read; edited with `write`). */
  file: string;
  names: string[];
  /** Go on although the guard refuses (quorum, last control plane / LB host), and past a failed drain. */
  force?: boolean;
  drainTimeoutSeconds?: number;
  /** Delete the hosts' entries from the cluster file when done (comments kept). */
  write?: boolean;
  dryRun?: boolean;
  trustNewHostKeys?: boolean;
  reporter?: Reporter;
  /** Told warnings (a forced removal, an unreachable host). */
  warn?: (message: string) => void;
}

export interface RemoveResult {
  dryRun: boolean;
  hosts: string[];
  /** What the guard said; non-empty only with `force`. */
  refusals: string[];
  unreachable: string[];
  /** The planned actions, in order, in words. */
  actions: string[];
  changes: Change[];
  file: { path: string; written: boolean; entries: HostEntryLines[] };
  durationMs: number;
}

/** The cluster before (the file plus the recorded hosts being removed that left it) and after the removal. */
export interface RemovalClusters {
  before: Cluster;
  after: Cluster;
  text: string;
  /** Named hosts still in the file. */
  inFile: string[];
  /** Hosts of `after` that kubeha applied before (the others are left to apply). */
  managedStaying: Host[];
}

/** Reads the file and the managed-hosts record; unknown names are a usage error. */
export async function removalClusters(file: string, names: readonly string[]): Promise<RemovalClusters> {
  const { cluster } = await loadCluster(file, { operate: true });
  const text = await readFile(file, "utf8");
  const recorded = await readManagedHosts(cluster.pki.stateDir);
  const inFile = names.filter((n) => cluster.hosts.some((h) => h.name === n));
  const former = names.filter((n) => !inFile.includes(n)).map((n) => recorded.find((h) => h.name === n));
  const unknown = names.filter((n) => !inFile.includes(n) && !recorded.some((h) => h.name === n));
  if (unknown.length)
    throw new UsageError(
      `node remove: no host ${unknown.join(", ")} in ${file} or among the hosts kubeha managed for cluster ${cluster.name}`,
      `hosts: ${[...new Set([...cluster.hosts.map((h) => h.name), ...recorded.map((h) => h.name)])].join(", ")}`,
    );
  const data = readYaml(text).data as ClusterFile;
  const withHosts = (hosts: unknown[]) => normalize({ ...data, spec: { ...data.spec, hosts: hosts as ClusterFile["spec"]["hosts"] } }, { sourcePath: file });
  const before = withHosts([...data.spec.hosts, ...former.filter((h): h is ManagedHost => h !== undefined).map(hostEntryOf)]);
  const after = withHosts(data.spec.hosts.filter((h) => !names.includes(h.name)));
  const managedStaying = after.hosts.filter((h) => recorded.some((x) => x.name === h.name));
  return { before, after, text, inFile, managedStaying };
}

/** The hosts that stay and that the removal works through: a control plane for kubectl, the etcd members, the LB hosts. */
function workingHosts(after: Cluster): Host[] {
  const all = [...controlPlanes(after).slice(0, 1), ...etcdMembers(after), ...(managesLb(after) ? [...lbHosts(after), ...keepalivedHosts(after)] : [])];
  return after.hosts.filter((h) => all.some((x) => x.name === h.name));
}

const KUBECTL = `kubectl --kubeconfig ${PATHS.adminConf}`;

/** `kubectl drain`, bounded; a Node that no longer exists has nothing to drain. */
export function drainScript(name: string, timeoutSeconds: number): string {
  return [
    `out=$(${KUBECTL} get node ${shq(name)} -o name 2>&1) || { case "$out" in *NotFound*) echo "node ${name} not found: nothing to drain"; exit 0;; *) echo "$out" >&2; exit 1;; esac; }`,
    `${KUBECTL} drain ${shq(name)} --ignore-daemonsets --delete-emptydir-data --force --timeout=${timeoutSeconds}s`,
  ].join("\n");
}

interface RemovalRun {
  before: Cluster;
  names: string[];
  force: boolean;
  drainTimeoutSeconds: number;
  gone: ConnectionPool;
  managedStaying: Host[];
  plan?: RemovalPlan;
  /** Removed hosts that answered over SSH (set by the reach phase). */
  reachable?: Set<string>;
  warn: (m: string) => void;
}

const ofKind = <K extends RemovalAction["kind"]>(r: RemovalRun, kind: K) => (r.plan?.actions ?? []).filter((a): a is Extract<RemovalAction, { kind: K }> => a.kind === kind);

async function onRemoved(r: RemovalRun, h: Host): Promise<Transport> {
  return r.gone.get(h);
}

function removalPhases(r: RemovalRun): Phase<ApplyData>[] {
  const has = (kind: RemovalAction["kind"]) => () => ofKind(r, kind).length > 0;
  return [
    connect,
    gatherFacts,
    {
      id: "reach",
      title: "Reach the hosts to remove",
      async run(ctx) {
        const reachable = new Set<string>();
        for (const n of r.names) {
          const h = r.before.hosts.find((x) => x.name === n)!;
          try {
            await (await onRemoved(r, h)).mustRun("true");
            reachable.add(n);
          } catch (err) {
            ctx.note(`${n} does not answer: ${(err as Error).message.split("\n")[0]}`, n);
          }
        }
        r.reachable = reachable;
        r.plan = planRemoval(r.before, ctx.data.cluster, r.names, reachable, { drainTimeoutSeconds: r.drainTimeoutSeconds });
        for (const m of r.plan.notes) r.warn(m);
      },
    },
    {
      id: "drain",
      title: "Cordon and drain the nodes",
      shouldRun: has("drain"),
      async run(ctx) {
        for (const a of ofKind(r, "drain")) {
          const t = await ctx.data.pool.get(a.via);
          try {
            await ctx.wet(a.via, `kubectl drain ${a.host.name} --ignore-daemonsets --delete-emptydir-data --timeout=${a.timeoutSeconds}s`, () =>
              t.mustRun(drainScript(a.host.name, a.timeoutSeconds), { sudo: true, timeoutMs: (a.timeoutSeconds + 60) * 1000, hint: `see which pods stay with \`kubectl get pods -A --field-selector spec.nodeName=${a.host.name}\`` }),
            );
          } catch (err) {
            const gone = !r.reachable?.has(a.host.name);
            if (!r.force && !gone) throw err;
            r.warn(`drain of ${a.host.name} failed (${(err as Error).message.split("\n")[0]}); going on ${gone ? "since the host is unreachable" : "because of --force"}`);
          }
        }
      },
    },
    {
      id: "vip-handover",
      title: "Hand the VIP over from the removed LB hosts",
      shouldRun: has("hand-over-vip"),
      async run(ctx) {
        for (const a of ofKind(r, "hand-over-vip")) await handOverVip(ctx, r, a);
      },
    },
    {
      id: "lb-stop",
      title: "Stop the load balancer on the removed hosts",
      shouldRun: has("stop-lb"),
      async run(ctx) {
        for (const a of ofKind(r, "stop-lb")) {
          const t = await onRemoved(r, a.host);
          // keepalived first: when the hand-over did not happen, its stop sends priority 0, so a peer takes the VIP at once.
          await ctx.wet(a.host, `stop and disable ${a.units.join(", ")}`, () => t.mustRun(a.units.map((u) => `systemctl disable --now ${u}`).join(" && "), { sudo: true, timeoutMs: 60_000 }));
        }
      },
    },
    { ...lbPhase, shouldRun: (ctx) => managesLb(ctx.data.cluster) && ofKind(r, "converge-lb").length > 0 },
    {
      id: "etcd-remove",
      title: "Remove the etcd members",
      shouldRun: has("etcd-remove"),
      async run(ctx) {
        for (const a of ofKind(r, "etcd-remove")) await removeMember(ctx, r, a.host, a.via);
      },
    },
    {
      id: "reset",
      title: "Reset the removed nodes",
      shouldRun: has("reset"),
      async run(ctx) {
        for (const a of ofKind(r, "reset")) {
          const t = await onRemoved(r, a.host);
          await ctx.wet(a.host, "kubeadm reset -f; stop and disable the kubelet", () =>
            t.mustRun("kubeadm reset -f && systemctl disable --now kubelet", { sudo: true, timeoutMs: 5 * 60_000, hint: `run \`kubeadm reset -f\` on ${a.host.name} by hand; the host is out of the cluster either way` }),
          );
        }
      },
    },
    {
      id: "etcd-stop",
      title: "Stop the removed etcd members",
      shouldRun: has("stop-etcd"),
      async run(ctx) {
        const dir = r.before.etcd.dataDir;
        if (!dir.startsWith("/") || dir === "/") throw new KubehaError(`refusing to remove etcd data directory "${dir}"`, "spec.etcd.dataDir must be an absolute path below /");
        for (const a of ofKind(r, "stop-etcd")) {
          const t = await onRemoved(r, a.host);
          // Emptied, not removed: etcd (user etcd) could not create it again when the host comes back.
          await ctx.wet(a.host, `stop and disable etcd; empty ${dir}`, () => t.mustRun(`systemctl disable --now etcd && { [ ! -d ${shq(dir)} ] || find ${shq(dir)} -mindepth 1 -delete; }`, { sudo: true, timeoutMs: 60_000 }));
        }
      },
    },
    {
      id: "node-delete",
      title: "Delete the Node objects",
      shouldRun: has("delete-node"),
      async run(ctx) {
        for (const a of ofKind(r, "delete-node")) {
          const t = await ctx.data.pool.get(a.via);
          await ctx.wet(a.via, `kubectl delete node ${a.host.name}`, () => t.mustRun(`${KUBECTL} delete node ${shq(a.host.name)} --ignore-not-found`, { sudo: true, timeoutMs: 60_000 }));
        }
      },
    },
    {
      id: "hosts-file",
      title: "Update /etc/hosts on the hosts that stay",
      shouldRun: has("hosts-file"),
      async run(ctx) {
        await forEachHost(r.managedStaying, 10, async (h) => {
          try {
            await ctx.data.pool.get(h);
          } catch (err) {
            r.warn(`${h.name}: cannot update its /etc/hosts now (${(err as Error).message.split("\n")[0]}); the next apply does`);
            return;
          }
          await runSteps(ctx, h, hostsFileSteps(stepsOf(ctx, h, "os")));
        });
      },
    },
    {
      id: "forget",
      title: "Forget the hosts in kubeha's state",
      async run(ctx) {
        const dir = ctx.data.state.dir;
        for (const a of ofKind(r, "forget")) {
          await ctx.wet("local", `remove ${join(dir, "pki", "hosts", a.host.name)}; drop ${a.host.name} from the managed hosts`, async () => {
            await rm(join(dir, "pki", "hosts", a.host.name), { recursive: true, force: true });
            const recorded = await readManagedHosts(dir);
            if (recorded.length) await writeManagedHosts(dir, recorded.filter((h) => h.name !== a.host.name));
          });
          // A machine reinstalled at that address later would otherwise be refused (HOST KEY CHANGED).
          const keys = forgottenHostKeys(a.host, ctx.data.cluster);
          if (keys.length)
            await ctx.wet("local", `remove ${a.host.name}'s host key (${keys.join(", ")}) from ${a.host.ssh.knownHostsPath}`, async () => {
              await removeKnownHosts(a.host.ssh.knownHostsPath, keys);
            });
        }
      },
    },
  ];
}

/**
 * The known_hosts names of a removed host whose keys kubeha forgets: its SSH address, unless a host
 * that stays is reached at the same address and port through the same known_hosts file (a machine
 * replaced under a new name keeps its pinned key).
 */
export function forgottenHostKeys(removed: Host, after: Cluster): string[] {
  const name = knownHostsName(removed.address, removed.ssh.port);
  const inUse = after.hosts.some((h) => h.ssh.knownHostsPath === removed.ssh.knownHostsPath && knownHostsName(h.address, h.ssh.port) === name);
  return inUse ? [] : [name];
}

/** Of a host's os steps, only kubeha's /etc/hosts block: the fragment and the merge that runs when it changed. */
export function hostsFileSteps(steps: readonly Step[]): Step[] {
  return steps.flatMap((s): Step[] => {
    if (s.kind === "files") {
      const files = s.files.filter((f) => f.path === PATHS.hostsFragment);
      return files.length ? [{ ...s, files, ensure: [] }] : [];
    }
    return s.kind === "run" && s.onChange?.includes(PATHS.hostsFragment) ? [s] : [];
  });
}

/** Bound on the VIP's move by preemption (3 adverts and the skew: well under a second at any sub-second advert_int). */
const HANDOVER_TIMEOUT_MS = 15_000;

/**
 * Moves the VIP off a removed LB host while its HAProxy and keepalived still run: its priority
 * drops by the penalty of the track file a dying HAProxy sets (below every healthy host; FAULT
 * when the penalty is 0, `preempt: delay`), the highest remaining host takes the VIP by preemption
 * and the removed host gives it up on that host's first advert, so for a moment both hold it and
 * never neither. Waits (bounded) until a remaining host holds it and the removed one does not;
 * only then are its units stopped. A connection open through the removed host at the instant of
 * the move cannot follow it (the new holder's kernel answers its next packet with a reset).
 */
async function handOverVip(ctx: Ctx, r: RemovalRun, a: Extract<RemovalAction, { kind: "hand-over-vip" }>): Promise<void> {
  const vip = r.before.endpoint.address;
  const t = await onRemoved(r, a.host);
  await ctx.wet(a.host, `lower keepalived's priority (${PATHS.haproxyDownFile} = 1) so that ${a.to.map((h) => h.name).join(" or ")} takes the VIP`, () =>
    t.mustRun(`mkdir -p ${PATHS.runDir} && echo 1 > ${PATHS.haproxyDownFile}`, { sudo: true, timeoutMs: 30_000 }),
  );
  if (ctx.dryRun) return;
  const holds = async (tr: Transport) => (await tr.run(`ip -o -4 addr show to ${vip}/32`, { timeoutMs: 10_000 })).stdout.trim() !== "";
  const deadline = performance.now() + HANDOVER_TIMEOUT_MS;
  let holders: string[] = [];
  for (;;) {
    holders = [];
    for (const h of a.to) if (await holds(await ctx.data.pool.get(h))) holders.push(h.name);
    const still = await holds(t);
    if (holders.length && !still) return ctx.note(`the VIP ${vip} moved to ${holders.join(", ")}`, a.host);
    if (performance.now() > deadline) {
      r.warn(`${a.host.name}: the VIP ${vip} did not move within ${HANDOVER_TIMEOUT_MS / 1000} s (held by ${[...holders, ...(still ? [a.host.name] : [])].join(", ") || "no host"}); stopping keepalived there moves it`);
      return;
    }
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** `etcdctl member remove` of `host`'s member through the members that stay (nothing when it is no member). */
async function removeMember(ctx: Ctx, r: RemovalRun, host: Host, via: Host[]): Promise<void> {
  const c = ctx.data.cluster;
  if (!via.length) throw new KubehaError(`no etcd member is left to remove ${host.name}'s member through`, "an etcd cluster cannot remove its last member: reset the cluster instead (`kubeha reset FILE`)");
  const t = await ctx.data.pool.get(via[0]!);
  const read = t.mustRun(etcdctlCommand(c, via, "member list -w json", 5), { sudo: true, hint: "etcd must be healthy to remove a member: see `kubeha status`" });
  const members = ctx.dryRun ? await read.then((x) => parseMemberList(x.stdout), () => undefined) : parseMemberList((await read).stdout);
  if (!members) {
    ctx.note(`cannot read the etcd member list now; a real run removes ${host.name}'s member if it is one`, host);
    await ctx.wet(via[0]!, `etcdctl member remove <${host.name}'s member id>`, async () => undefined);
    return;
  }
  const m = memberOf(r.before, host, members);
  if (!m) {
    ctx.note(`${host.name} is no etcd member (already removed)`, host);
    return;
  }
  await ctx.wet(via[0]!, `etcdctl member remove ${hexId(m.id)} (${m.name || host.name})`, () => t.mustRun(etcdMemberRemoveCommand(c, via, m.id), { sudo: true, timeoutMs: 30_000 }));
}

/**
 * Takes `names` out of the cluster in `file`. The guard runs first, before any connection: a
 * refusal (without `force`) is a UsageError and nothing is touched anywhere.
 */
export async function removeNodes(opts: RemoveOptions): Promise<RemoveResult> {
  const t0 = performance.now();
  const names = [...new Set(opts.names)];
  if (names.length === 0) throw new UsageError("node remove: name at least one host", "kubeha node remove cluster.yaml worker2");
  const warn = opts.warn ?? (() => undefined);
  const { before, after, text, inFile, managedStaying } = await removalClusters(opts.file, names);
  const refused = binaryNotBuilt(before, "node remove");
  if (refused) throw refused;
  const refusals = removalRefusals(before, names);
  if (refusals.length && !opts.force)
    throw new UsageError(
      `node remove: refusing to remove ${names.join(", ")}: ${refusals.join("; ")}. Nothing was changed on any host`,
      "remove fewer hosts (add new ones first with apply), or pass --force to remove them anyway",
    );
  for (const m of refusals) warn(`--force: going on although ${m}`);
  // What the file says once the hosts are out of it: a cluster that works but cannot lose a member
  // (2 etcd members) is read by status and the repair commands, refused by plan and apply.
  for (const p of parseCluster(removeHostsFromText(text, inFile), { sourcePath: opts.file, operate: true }).problems.filter((x) => x.degraded))
    warn(`without ${names.join(", ")} in ${opts.file}: ${p.message}: ${p.hint}`);
  const dryRun = opts.dryRun ?? false;
  const state = await ensureState(after, { readOnly: true });
  if (state.report.wouldCreateDir) throw new KubehaError(`node remove: the state directory ${state.dir} does not exist: kubeha never applied this cluster from here`, "run node remove where the cluster was applied from (the state directory holds its CAs and the hosts it manages)");
  const s = state.secrets;
  registerSecret(s.join.token, s.join.certificateKey, s.haproxyStatsPassword, s.vrrpAuthPass, s.encryptionKey);
  const pool = new ConnectionPool({ trustNewHostKeys: opts.trustNewHostKeys ?? false });
  const gone = new ConnectionPool({ trustNewHostKeys: false, connectAttempts: 1, connectTimeoutMs: 8000 });
  const r: RemovalRun = { before, names, force: opts.force ?? false, drainTimeoutSeconds: opts.drainTimeoutSeconds ?? DEFAULT_DRAIN_TIMEOUT_SECONDS, gone, managedStaying, warn };
  const hosts = workingHosts(after);
  const data = newApplyData(after, state, pool);
  const run = () => runPhases({ phases: removalPhases(r), data, hosts, dryRun, ...(opts.reporter ? { reporter: opts.reporter } : {}) });
  let summary;
  try {
    summary = dryRun ? await run() : await withHostLocks(hosts, (h) => pool.get(h), run);
  } finally {
    await pool.closeAll();
    await gone.closeAll();
  }
  const entries = hostEntryLines(text, inFile);
  let written = false;
  if (opts.write && !dryRun && inFile.length) {
    await writeFile(opts.file, removeHostsFromText(text, inFile));
    written = true;
  }
  return {
    dryRun,
    hosts: names,
    refusals,
    unreachable: r.reachable ? names.filter((n) => !r.reachable!.has(n)) : [],
    actions: (r.plan?.actions ?? []).map(describeAction),
    changes: summary.changes,
    file: { path: opts.file, written, entries },
    durationMs: Math.round(performance.now() - t0),
  };
}
