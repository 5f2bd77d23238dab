/**
 * `kubeha upgrade` (effects): reads the versions the hosts run, plans with src/plan/upgrade.ts,
 * and moves the cluster to the cluster file's version node by node, with the API up throughout:
 * every apiserver restart happens with that server drained on every HAProxy, and it is put back
 * once its /readyz answers. Progress is recorded per host in the state directory (upgrade.json),
 * but every decision is taken from versions read from the hosts, so a run after an interruption
 * continues where the hosts are and never repeats `kubeadm upgrade apply`.
 */
import { writeFile, rename } from "node:fs/promises";
import { join } from "node:path";
import type { Cluster, Host } from "../spec/model.ts";
import { firstControlPlane, hostByName } from "../spec/model.ts";
import { isKubernetesNode } from "../spec/topology.ts";
import { ConnectionPool, forEachHost } from "../exec/pool.ts";
import { withHostLocks } from "../exec/lock.ts";
import { ensureState, type State } from "../pki/index.ts";
import { newApplyData, type Ctx } from "../phases/data.ts";
import { convergeFiles, runSteps } from "../phases/steps.ts";
import { KUBERNETES_PACKAGES, renderPackages } from "../render/packages.ts";
import { PATHS } from "../render/paths.ts";
import { registerSecret } from "../util/redact.ts";
import { shq } from "../util/shell.ts";
import { KubehaError, StepError, UnreachableError } from "../errors.ts";
import { checkKubeadm, describeUpgrade, fmt, parseVersion, planUpgrade, upgradeDone, type NodeTask, type NodeVersions, type UpgradePlan } from "../plan/upgrade.ts";
import { withServerDrained, setServerState, haproxyHosts } from "./haproxy-drain.ts";
import { binaryNotBuilt } from "./not-built.ts";

/** The progress record in the state directory (what each host was upgraded to, and when). */
export const UPGRADE_RECORD = "upgrade.json";

export interface UpgradeOptions {
  /** Workers drained and upgraded at once. Default 1. */
  maxUnavailable?: number;
  /** Read the versions and print the plan; change nothing. */
  dryRun?: boolean;
  trustNewHostKeys?: boolean;
  /** Progress lines ("master1: kubeadm upgrade apply v1.35.0 -y"). */
  log?: (line: string) => void;
}

export interface UpgradeResult {
  plan: UpgradePlan;
  /** The versions read before anything changed. */
  before: NodeVersions[];
  /** The versions read at the end (absent in a dry run). */
  after?: NodeVersions[];
}

const SECOND = 1000;
const kubectl = `kubectl --kubeconfig ${PATHS.adminConf}`;

/** `kubectl get nodes -o json` -> node name -> kubeletVersion (pure). */
export function parseKubeletVersions(json: string): Map<string, string> {
  const out = new Map<string, string>();
  const doc = JSON.parse(json) as { items?: Array<{ metadata?: { name?: string }; status?: { nodeInfo?: { kubeletVersion?: string } } }> };
  for (const n of doc.items ?? []) if (n.metadata?.name) out.set(n.metadata.name, n.status?.nodeInfo?.kubeletVersion ?? "");
  return out;
}

/** The `gitVersion` of an apiserver's /version answer, or undefined (pure). */
export function parseGitVersion(body: string): string | undefined {
  try {
    const v = (JSON.parse(body) as { gitVersion?: unknown }).gitVersion;
    return typeof v === "string" ? v : undefined;
  } catch {
    return undefined;
  }
}

function apiUrl(c: Cluster, h: Host, path: string): string {
  return `https://${h.internalAddress}:${c.kubernetes.apiServerPort}${path}`;
}

/** Runs kubectl on the first control plane that answers (the admin kubeconfig is on every control plane). */
async function onControlPlane(c: Cluster, pool: ConnectionPool, cmd: string, timeoutMs = 30 * SECOND): Promise<string> {
  const errors: string[] = [];
  const cps = [firstControlPlane(c), ...c.hosts.filter((h) => h.roles.includes("control-plane") && h.name !== firstControlPlane(c).name)];
  for (const h of cps) {
    try {
      const r = await (await pool.get(h)).run(cmd, { sudo: true, timeoutMs });
      if (r.code === 0) return r.stdout;
      errors.push(`${h.name}: exit ${r.code}: ${r.stderr.trim().split("\n").slice(-2).join(" ")}`);
    } catch (e) {
      errors.push(`${h.name}: ${(e as Error).message}`);
    }
  }
  throw new UnreachableError(`no control plane could run \`${cmd}\`:\n  ${errors.join("\n  ")}`, "check the control planes with `kubeha status`");
}

/** The versions every Kubernetes node runs: kubeadm installed, its apiserver's /version, its Node's kubelet. */
export async function readVersions(c: Cluster, pool: ConnectionPool): Promise<NodeVersions[]> {
  const kubelets = parseKubeletVersions(await onControlPlane(c, pool, `${kubectl} get nodes -o json`));
  const nodes = c.hosts.filter(isKubernetesNode);
  const per = await forEachHost(nodes, 10, async (h): Promise<NodeVersions> => {
    const cp = h.roles.includes("control-plane");
    const script = [
      "kubeadm version -o short 2>/dev/null || true",
      "echo @@apiserver",
      ...(cp ? [`curl -ks --max-time 3 ${shq(apiUrl(c, h, "/version"))} || true`] : []),
    ].join("; ");
    const r = await (await pool.get(h)).run(script, { sudo: true, timeoutMs: 20 * SECOND });
    const [kubeadm = "", apiserver = ""] = r.stdout.split("@@apiserver");
    const out: NodeVersions = { host: h.name, controlPlane: cp };
    if (kubeadm.trim()) out.kubeadm = kubeadm.trim();
    const a = cp ? parseGitVersion(apiserver) : undefined;
    if (a) out.apiserver = a;
    const k = kubelets.get(h.name);
    if (k) out.kubelet = k;
    return out;
  });
  return nodes.map((h) => per.get(h.name)!);
}

/** What the control planes' API servers run when it is not the cluster file's version (apply and plan check this). */
export interface VersionDrift {
  /** Host -> the version its API server reports, for those that answered. */
  running: Map<string, string>;
  /** `kubeha upgrade`'s steps (only when asked for: they need more reads). */
  steps?: string[];
}

/**
 * Asks every control plane's API server for its version, bounded by `timeoutMs` in all (a host that
 * is down or a cluster not built yet simply does not answer); undefined when every answer is the
 * cluster file's version. With `steps`, also plans the upgrade that would close the gap.
 */
export async function versionDrift(c: Cluster, pool: ConnectionPool, o: { steps?: boolean; timeoutMs?: number } = {}): Promise<VersionDrift | undefined> {
  const cps = c.hosts.filter((h) => h.roles.includes("control-plane"));
  const running = new Map<string, string>();
  const ask = Promise.all(
    cps.map(async (h) => {
      try {
        const r = await (await pool.get(h)).run(`curl -ks --max-time 3 ${shq(apiUrl(c, h, "/version"))}`, { timeoutMs: 5 * SECOND });
        const v = parseVersion(parseGitVersion(r.stdout));
        if (v) running.set(h.name, fmt(v));
      } catch {
        // Not reachable now: apply's own phases will say so.
      }
    }),
  );
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([ask, new Promise((res) => (timer = setTimeout(res, o.timeoutMs ?? 8 * SECOND)))]);
  clearTimeout(timer);
  if (![...running.values()].some((v) => v !== c.kubernetes.version)) return undefined;
  const drift: VersionDrift = { running };
  if (o.steps) {
    try {
      drift.steps = describeUpgrade((await planFromHosts(c, pool, 1)).plan);
    } catch (e) {
      drift.steps = [`(the upgrade steps could not be planned: ${(e as Error).message.split("\n")[0]})`];
    }
  }
  return drift;
}

/** Reads the versions and plans; the pure part decides. */
export async function planFromHosts(c: Cluster, pool: ConnectionPool, maxUnavailable: number): Promise<{ plan: UpgradePlan; versions: NodeVersions[] }> {
  const versions = await readVersions(c, pool);
  return { plan: planUpgrade(c, versions, maxUnavailable), versions };
}

interface Run {
  c: Cluster;
  pool: ConnectionPool;
  state: State;
  ctx: Ctx;
  log: (line: string) => void;
  record: Record<string, { controlPlane?: string; kubelet?: string; at: string }>;
}

/** A context for the apply step executor (the bundle and package-source steps), outside the phase runner. */
function stepContext(c: Cluster, state: State, pool: ConnectionPool, log: (l: string) => void): Ctx {
  return {
    phase: "upgrade/packages",
    dryRun: false,
    data: newApplyData(c, state, pool),
    wet: async (h, d, fn) => {
      log(`${typeof h === "string" ? h : h.name}: ${d}`);
      await fn();
    },
    note: (m, h) => log(h ? `${typeof h === "string" ? h : h.name}: ${m}` : m),
  };
}

async function must(r: Run, h: Host, description: string, cmd: string, opts: { timeoutMs?: number; hint?: string } = {}): Promise<string> {
  r.log(`${h.name}: ${description}`);
  const t = await r.pool.get(h);
  return (await t.mustRun(cmd, { sudo: true, timeoutMs: opts.timeoutMs ?? 5 * 60 * SECOND, secrets: r.ctx.data.secrets, hint: opts.hint ?? `see the output above; after fixing the cause run \`kubeha upgrade\` again: it continues where ${h.name} is` })).stdout;
}

/** The target's kubeadm on the host (packages pinned to the version, or the version's bundle), then checks it. */
async function installKubeadm(r: Run, h: Host): Promise<void> {
  const c = r.c;
  if (c.packages.source === "bundle") {
    await runSteps(r.ctx, h, [{ kind: "bundle", phase: "packages", binaries: [...KUBERNETES_PACKAGES] }]);
  } else {
    // The per-minor repository and the pin of the new version, then kubeadm alone (kubelet after the drain).
    await convergeFiles(r.ctx, h, renderPackages(c, h));
    await must(r, h, `apt-get install kubeadm=${c.kubernetes.version}-*`, aptInstall(["kubeadm"], c.kubernetes.version), { timeoutMs: 20 * 60 * SECOND, hint: "check the host's package sources and spec.packages.proxy" });
  }
  const v = (await must(r, h, "kubeadm version -o short", "kubeadm version -o short")).trim();
  const bad = checkKubeadm(h.name, v, c.kubernetes.version);
  if (bad) throw new StepError(bad.message, { host: h.name, command: "kubeadm version -o short" }, c.packages.source === "bundle" ? `spec.packages.bundle must be the bundle of ${c.kubernetes.version}` : "check the repository of the new minor");
}

function aptInstall(pkgs: string[], version: string): string {
  const env = "DEBIAN_FRONTEND=noninteractive";
  const net = "-o Acquire::http::Pipeline-Depth=0 -o Acquire::http::Timeout=30 -o Acquire::https::Timeout=30 -o Acquire::Retries=3";
  return [
    `${env} timeout 120 apt-get update -q ${net}`,
    `${env} timeout 900 apt-get install -y -q --allow-change-held-packages ${net} -o Dpkg::Options::=--force-confold ${pkgs.map((p) => shq(`${p}=${version}-*`)).join(" ")}`,
    `apt-mark hold ${pkgs.join(" ")} >/dev/null`,
  ].join(" && ");
}

async function waitReadyz(r: Run, h: Host): Promise<void> {
  const url = apiUrl(r.c, h, "/readyz");
  await must(r, h, `wait for ${url}`, `for _ in $(seq 1 120); do curl -ksf --max-time 2 -o /dev/null ${shq(url)} && exit 0; sleep 1; done; echo "${url} is not ready after 2 minutes" >&2; exit 1`, {
    timeoutMs: 3 * 60 * SECOND,
    hint: `see \`journalctl -u kubelet\` and the kube-apiserver's log on ${h.name}; ${h.name} stays drained in HAProxy until it is ready`,
  });
}

/** `kubeadm upgrade apply|node` on a control plane, its API server drained on every HAProxy meanwhile. */
async function upgradeControlPlane(r: Run, h: Host, task: NodeTask): Promise<void> {
  const v = r.c.kubernetes.version;
  if (task.kubeadm === "apply") await must(r, h, `kubeadm upgrade plan v${v}`, `kubeadm upgrade plan v${v}`, { hint: "kubeadm refused the upgrade: its message above names the rule" });
  const cmd = task.kubeadm === "apply" ? `kubeadm upgrade apply v${v} -y` : "kubeadm upgrade node";
  if (haproxyHosts(r.c).length) r.log(`${h.name}: drain ${h.name} on HAProxy (${haproxyHosts(r.c).map((x) => x.name).join(", ")})`);
  await withServerDrained(
    r.c,
    r.pool,
    h.name,
    () => must(r, h, cmd, cmd, { timeoutMs: 15 * 60 * SECOND }),
    () => waitReadyz(r, h),
  );
  if (haproxyHosts(r.c).length) r.log(`${h.name}: ready again on HAProxy`);
}

/** The kubelet on the new version: node drained, kubelet (and kubectl) upgraded and restarted, node uncordoned. */
async function upgradeKubelet(r: Run, h: Host): Promise<void> {
  const c = r.c;
  const v = c.kubernetes.version;
  const first = firstControlPlane(c);
  await must(r, first, `drain node ${h.name}`, `${kubectl} drain ${shq(h.name)} --ignore-daemonsets --delete-emptydir-data --timeout=5m`, { timeoutMs: 6 * 60 * SECOND, hint: `see which pods did not leave ${h.name} (\`kubectl get pods -A -o wide\`)` });
  if (c.packages.source !== "bundle")
    await must(r, h, `apt-get install kubelet=${v}-* kubectl=${v}-*`, aptInstall(["kubelet", "kubectl"], v), { timeoutMs: 20 * 60 * SECOND });
  await must(r, h, "restart kubelet", "systemctl daemon-reload && systemctl restart kubelet");
  // The Node reports the running kubelet's version with its next status update.
  const deadline = Date.now() + 2 * 60 * SECOND;
  for (;;) {
    const got = parseKubeletVersions(await onControlPlane(c, r.pool, `${kubectl} get nodes -o json`)).get(h.name);
    if (got && checkKubeadm(h.name, got, v) === undefined) break;
    if (Date.now() > deadline) throw new StepError(`${h.name}: the kubelet still reports ${got ?? "nothing"} 2 minutes after its restart, not ${v}`, { host: h.name, command: "systemctl restart kubelet" }, `see \`journalctl -u kubelet\` on ${h.name}`);
    await new Promise((res) => setTimeout(res, 2 * SECOND));
  }
  await must(r, first, `uncordon node ${h.name}`, `${kubectl} uncordon ${shq(h.name)}`);
}

async function saveRecord(r: Run, host: string, what: { controlPlane?: string; kubelet?: string }): Promise<void> {
  r.record[host] = { ...r.record[host], ...what, at: new Date().toISOString() };
  const path = join(r.c.pki.stateDir, UPGRADE_RECORD);
  const tmp = `${path}.tmp`;
  await writeFile(tmp, JSON.stringify({ target: r.c.kubernetes.version, hosts: r.record }, null, 2) + "\n", { mode: 0o600 });
  await rename(tmp, path);
}

async function upgradeNode(r: Run, task: NodeTask): Promise<void> {
  const h = hostByName(r.c, task.host);
  const v = r.c.kubernetes.version;
  await installKubeadm(r, h);
  if (task.role === "worker") {
    if (task.kubeadm !== "none") await must(r, h, "kubeadm upgrade node", "kubeadm upgrade node", { timeoutMs: 10 * 60 * SECOND });
  } else if (task.kubeadm !== "none") {
    await upgradeControlPlane(r, h, task);
    await saveRecord(r, h.name, { controlPlane: v });
  }
  if (task.kubelet) await upgradeKubelet(r, h);
  await saveRecord(r, h.name, { kubelet: v });
  r.log(`${h.name}: done, at ${v}`);
}

/**
 * Upgrades `c`'s nodes to `c.kubernetes.version`. Refuses (before changing anything) when a skew
 * rule is broken; a dry run returns the plan only.
 */
export async function upgrade(c: Cluster, opts: UpgradeOptions = {}): Promise<UpgradeResult> {
  const refused = binaryNotBuilt(c, "upgrade");
  if (refused) throw refused;
  const log = opts.log ?? (() => {});
  const maxUnavailable = opts.maxUnavailable ?? 1;
  const state = await ensureState(c, { readOnly: true });
  const s = state.secrets;
  registerSecret(s.join.token, s.join.certificateKey, s.haproxyStatsPassword, s.vrrpAuthPass, s.encryptionKey);
  const pool = new ConnectionPool({ trustNewHostKeys: opts.trustNewHostKeys ?? false });
  try {
    const { plan, versions } = await planFromHosts(c, pool, maxUnavailable);
    if (plan.refusals.length)
      throw new KubehaError(`cannot upgrade to ${c.kubernetes.version}:\n${plan.refusals.map((x) => `  [${x.rule}] ${x.message}`).join("\n")}`, "nothing was changed; see the rules above (Kubernetes' version skew policy)");
    if (opts.dryRun || upgradeDone(plan)) return { plan, before: versions };
    const ctx = stepContext(c, state, pool, log);
    const r: Run = { c, pool, state, ctx, log, record: {} };
    await withHostLocks(c.hosts, (h) => pool.get(h), async () => {
      // A server left drained by an interrupted run is put back once its API server is at the target.
      for (const n of versions) if (n.controlPlane && !plan.controlPlanes.some((t) => t.host === n.host)) await setServerState(c, pool, n.host, "ready");
      for (const line of describeUpgrade(plan)) log(`plan: ${line}`);
      for (const t of plan.controlPlanes) await upgradeNode(r, t);
      for (const batch of plan.workerBatches) await forEachHost(batch.map((t) => hostByName(c, t.host)), batch.length, (h) => upgradeNode(r, batch.find((t) => t.host === h.name)!));
    });
    return { plan, before: versions, after: await readVersions(c, pool) };
  } finally {
    await pool.closeAll();
  }
}
