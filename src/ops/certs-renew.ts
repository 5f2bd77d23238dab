/**
 * `kubeha certs renew` (effects): re-issue the chosen certificates in the state directory, place
 * them on the hosts, and make each component load them, one host at a time so the API stays up.
 * The choice (src/pki/renew.ts) and the per-host rollout (src/plan/certs-renew.ts) are pure; this
 * file only runs them. Every state-changing action goes through one wet gate, so `--dry-run`
 * prints exactly what would happen and changes nothing (the state directory included).
 */
import { writeFile } from "node:fs/promises";
import type { Cluster, Host } from "../spec/model.ts";
import { endpointHostPort } from "../spec/model.ts";
import { adminKubeconfigPath } from "../phases/finish.ts";
import { kubeconfig } from "../pki/kubeconfig.ts";
import { ConnectionPool } from "../exec/pool.ts";
import { changedFiles } from "../exec/files.ts";
import { shq, type Transport } from "../exec/transport.ts";
import { KubehaError } from "../errors.ts";
import { PATHS } from "../render/paths.ts";
import { HAPROXY_BACKEND } from "../render/haproxy.ts";
import { ensureState, inspectState, pkiFilesForHost, certInfo, certFingerprint, type State } from "../pki/index.ts";
import { chooseRenewal, type RenewChoice, type RenewSelection } from "../pki/renew.ts";
import { describeReload, hostRenewal, manifestPath, renewalOrder, type HostRenewal, type Reload, type StaticPod } from "../plan/certs-renew.ts";
import { etcdctlCommand } from "../probe/status.ts";
import { withPkiOwners } from "../plan/host.ts";
import { etcdMembers } from "../spec/topology.ts";
import { haproxyHosts, setServerState as setServerStateOnLbs, waitServerUp, type ServerState } from "./haproxy-drain.ts";

export interface RenewOptions {
  selection: RenewSelection;
  /** Print what would happen; change nothing, here or on the hosts. */
  dryRun?: boolean;
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
  /** Replaces SSH (tests). */
  pool?: ConnectionPool;
  now?: Date;
}

/** One certificate kubeha re-issued (no key material). */
export interface RenewedCert {
  id: string;
  reason: string;
  notAfter: string;
  serial: string;
  sha256: string;
}

export interface HostResult {
  host: string;
  /** Files rewritten on the host. */
  files: string[];
  kubeadmRenew: string[];
  /** What was restarted (or, in a dry run, would be), in order. */
  reloads: string[];
  /** Things skipped and why (a static pod with no manifest on the host...). */
  notes: string[];
}

export interface RenewResult {
  cluster: string;
  dryRun: boolean;
  renewed: RenewedCert[];
  /** Names passed to `kubeadm certs renew` on the control planes. */
  kubeadm: string[];
  hosts: HostResult[];
}

/**
 * Ports the components answer health checks on, kubeadm's defaults: controller-manager and
 * scheduler serve /healthz on their secure ports; stacked etcd serves /health on its metrics URL.
 */
const HEALTH_URL: Record<Exclude<StaticPod, "kube-apiserver">, string> = {
  "kube-controller-manager": "https://127.0.0.1:10257/healthz",
  "kube-scheduler": "https://127.0.0.1:10259/healthz",
  etcd: "http://127.0.0.1:2381/health",
};
/** Bound on the kubelet noticing a manifest went away (its file check period is 20 s) or came back. */
const POD_STOP_S = 60;
const POD_START_S = 120;
const ETCD_HEALTHY_S = 60;

function healthUrl(c: Cluster, h: Host, pod: StaticPod): string {
  return pod === "kube-apiserver" ? `https://${h.internalAddress}:${c.kubernetes.apiServerPort}/readyz` : HEALTH_URL[pod];
}

/** A shell loop on the host (one round trip): succeeds once `check` does, fails after `seconds`. */
function waitScript(check: string, seconds: number): string {
  return `i=0; until ${check}; do i=$((i+1)); if [ $i -ge ${seconds * 2} ]; then exit 1; fi; sleep 0.5; done`;
}
const answers200 = (url: string) => `[ "$(curl -sk -m 2 -o /dev/null -w '%{http_code}' ${shq(url)} 2>/dev/null)" = 200 ]`;

/** Renews, places and reloads; see the file comment. */
export async function renewCerts(c: Cluster, o: RenewOptions): Promise<RenewResult> {
  const log = o.log ?? (() => undefined);
  const dryRun = o.dryRun ?? false;
  const now = o.now ?? new Date();
  const threshold = o.selection.mode === "expiring" ? o.selection.thresholdDays : undefined;
  const { rows } = await inspectState(c, { now, ...(threshold !== undefined ? { thresholdDays: threshold } : {}) });
  const choice = chooseRenewal(c, rows, o.selection);
  const state = await ensureState(c, {
    now,
    readOnly: dryRun,
    force: new Set(choice.kubeha),
    ...(threshold !== undefined ? { renewBeforeDays: threshold } : {}),
  });
  const renewed = renewedCerts(state);
  for (const r of renewed) log(`${dryRun ? "would issue" : "issued"} ${r.id} (${r.reason}), valid until ${r.notAfter}, serial ${r.serial}`);
  if (!renewed.length && !choice.kubeadm.length) log("nothing to renew");
  if (!dryRun && renewed.some((r) => r.id === "admin")) {
    // The operator's copy (apply fetched it): the same file the control planes now hold.
    const dest = adminKubeconfigPath(c.pki.stateDir);
    await writeFile(dest, kubeconfig(c, state, "admin", `https://${endpointHostPort(c)}`), { mode: 0o600 });
    log(`wrote ${dest}`);
  }

  const pool = o.pool ?? new ConnectionPool({ connectAttempts: 2, connectTimeoutMs: 10_000, keepaliveIntervalMs: 2000 });
  try {
    const plans: Array<{ plan: HostRenewal; files: ReturnType<typeof pkiFilesForHost> }> = [];
    for (const h of c.hosts) {
      const files = withPkiOwners(pkiFilesForHost(c, state, h.name));
      const changed = files.length ? await changedFiles(await pool.get(h), files) : [];
      plans.push({ plan: hostRenewal(c, h, changed.map((f) => f.path), choice.kubeadm), files: changed });
    }
    const ordered = renewalOrder(plans.map((p) => p.plan));
    const results: HostResult[] = [];
    for (const plan of ordered) {
      const files = plans.find((p) => p.plan.host === plan.host)!.files;
      if (!files.length && !plan.kubeadmRenew.length && !plan.reloads.length) continue;
      const h = c.hosts.find((x) => x.name === plan.host)!;
      results.push(await renewHost(c, h, plan, files, { pool, dryRun, log }));
    }
    return { cluster: c.name, dryRun, renewed, kubeadm: choice.kubeadm, hosts: results };
  } finally {
    if (!o.pool) await pool.closeAll();
  }
}

function renewedCerts(state: State): RenewedCert[] {
  return state.report.certs
    .filter((r) => r.action === "issued")
    .flatMap((r) => {
      const pem = state.material(r.id).cert;
      if (!pem) return [];
      const i = certInfo(pem);
      return [{ id: r.id, reason: r.reason ?? "", notAfter: i.notAfter.toISOString(), serial: i.serial, sha256: certFingerprint(pem) }];
    });
}

interface HostCtx {
  pool: ConnectionPool;
  dryRun: boolean;
  log: (line: string) => void;
}

async function renewHost(c: Cluster, h: Host, plan: HostRenewal, files: ReturnType<typeof pkiFilesForHost>, x: HostCtx): Promise<HostResult> {
  const res: HostResult = { host: h.name, files: files.map((f) => f.path), kubeadmRenew: plan.kubeadmRenew, reloads: [], notes: [] };
  const say = (s: string) => x.log(`[${h.name}] ${x.dryRun ? "would " : ""}${s}`);
  const t = await x.pool.get(h);
  for (const f of files) say(`write ${f.path} (mode ${f.mode.toString(8).padStart(4, "0")})`);
  if (!x.dryRun && files.length) {
    await t.putMany(files);
    const owned = files.filter((f) => f.owner);
    if (owned.length) await t.mustRun(owned.map((f) => `chown ${shq(f.owner!)} ${shq(f.path)}`).join(" && "), { sudo: true });
  }
  for (const n of plan.kubeadmRenew) {
    say(`run kubeadm certs renew ${n}`);
    if (!x.dryRun)
      await t.mustRun(`kubeadm certs renew ${shq(n)}`, { sudo: true, hint: `see \`kubeadm certs check-expiration\` on ${h.name}` });
  }
  for (const r of plan.reloads) {
    say(describeReload(r));
    const note = x.dryRun ? undefined : await reload(c, h, t, r, x);
    if (!note) res.reloads.push(describeReload(r));
    else {
      res.notes.push(note);
      x.log(`[${h.name}] ${note}`);
    }
  }
  return res;
}

async function reload(c: Cluster, h: Host, t: Transport, r: Reload, x: HostCtx): Promise<string | undefined> {
  if (r.kind === "etcd-unit") {
    await handOverEtcdLeadership(c, h, t, x);
    await t.mustRun("systemctl restart etcd.service", { sudo: true, hint: `see journalctl -u etcd -n 50 --no-pager on ${h.name}` });
    await waitEtcdHealthy(c, h, t);
    return undefined;
  }
  const m = manifestPath(r.pod);
  const parked = `${PATHS.parkedManifestsDir}/${r.pod}.yaml`;
  const present = await t.run(`test -f ${shq(m)}`, { sudo: true });
  if (present.code !== 0) {
    const back = await t.run(`test -f ${shq(parked)}`, { sudo: true });
    if (back.code !== 0) return `${m} does not exist: ${r.pod} is not a static pod here, nothing to restart`;
    // A manifest left parked by an interrupted run goes back first.
  } else {
    if (r.drain) await setServerState(c, h, "drain", x);
    // Stacked etcd: like etcd.service, the leader hands over before its member stops.
    if (r.pod === "etcd") await handOverEtcdLeadership(c, h, t, x);
    try {
      await t.mustRun(`mkdir -p ${shq(PATHS.parkedManifestsDir)} && mv ${shq(m)} ${shq(parked)}`, { sudo: true });
      const stopped = await t.run(waitScript(`! ${answers200(healthUrl(c, h, r.pod))}`, POD_STOP_S), { sudo: true, timeoutMs: (POD_STOP_S + 10) * 1000 });
      if (stopped.code !== 0)
        throw new KubehaError(
          `${h.name}: ${r.pod} still answers ${healthUrl(c, h, r.pod)} ${POD_STOP_S} s after its manifest was moved to ${parked}`,
          `check the kubelet on ${h.name} (journalctl -u kubelet); kubeha puts the manifest back`,
        );
    } catch (err) {
      await t.run(`[ -f ${shq(parked)} ] && mv ${shq(parked)} ${shq(m)}`, { sudo: true });
      if (r.drain) await setServerState(c, h, "ready", x).catch(() => undefined);
      throw err;
    }
  }
  await t.mustRun(`mv ${shq(parked)} ${shq(m)}`, { sudo: true });
  const up = await t.run(waitScript(answers200(healthUrl(c, h, r.pod)), POD_START_S), { sudo: true, timeoutMs: (POD_START_S + 10) * 1000 });
  if (up.code !== 0)
    throw new KubehaError(
      `${h.name}: ${r.pod} did not answer ${healthUrl(c, h, r.pod)} with 200 within ${POD_START_S} s of its restart` +
        (r.drain ? " (it stays drained in HAProxy)" : ""),
      `see journalctl -u kubelet on ${h.name}; once it is ready, run \`kubeha certs renew\` again or \`kubeha apply\``,
    );
  if (r.pod === "etcd") await waitEtcdHealthy(c, h, t);
  if (r.drain) {
    await setServerState(c, h, "ready", x);
    await waitServerUp(c, x.pool, h.name);
  }
  return undefined;
}

/** `set server BACKEND/HOST state drain|ready` on every LB host (src/ops/haproxy-drain.ts), logged. */
async function setServerState(c: Cluster, h: Host, state: ServerState, x: HostCtx): Promise<void> {
  const lbs = haproxyHosts(c);
  if (!lbs.length) return;
  x.log(`[${h.name}] HAProxy: ${state} ${HAPROXY_BACKEND}/${h.name} on ${lbs.map((l) => l.name).join(", ")}`);
  await setServerStateOnLbs(c, x.pool, h.name, state);
}

/**
 * Before the leader's etcd restarts, leadership moves to another started member, so the cluster
 * does not wait for an election (while there is no leader, etcd's /health and the API servers'
 * /readyz fail). etcdctl's simple output carries hex member ids (its JSON loses their precision).
 */
async function handOverEtcdLeadership(c: Cluster, h: Host, t: Transport, x: HostCtx): Promise<void> {
  const st = await t.run(etcdctlCommand(c, [h], "endpoint status"), { sudo: true });
  const cols = st.stdout.trim().split(",").map((s) => s.trim());
  if (st.code !== 0 || cols[4] !== "true") return;
  const members = await t.mustRun(etcdctlCommand(c, [h], "member list"), { sudo: true });
  const other = members.stdout
    .trim()
    .split("\n")
    .map((l) => l.split(",").map((s) => s.trim()))
    .find((m) => m[1] === "started" && m[2] !== h.name && m[0] !== cols[1]);
  if (!other) return;
  x.log(`[${h.name}] etcd: move leadership to ${other[2]} before the restart`);
  await t.mustRun(etcdctlCommand(c, [h], `move-leader ${shq(other[0]!)}`), { sudo: true, hint: `see etcdctl endpoint status --cluster on ${h.name}` });
}

async function waitEtcdHealthy(c: Cluster, h: Host, t: Transport): Promise<void> {
  const all = etcdMembers(c);
  const r = await t.run(waitScript(`${etcdctlCommand(c, all, "endpoint health", 2)} >/dev/null 2>&1`, ETCD_HEALTHY_S), { sudo: true, timeoutMs: (ETCD_HEALTHY_S + 15) * 1000 });
  if (r.code !== 0)
    throw new KubehaError(
      `${h.name}: etcd is not healthy on every member ${ETCD_HEALTHY_S} s after its restart`,
      `see journalctl -u etcd on ${h.name} and \`${etcdctlCommand(c, all, "endpoint health")}\``,
    );
}

export type { RenewChoice };
