/**
 * `kubeha etcd restore`: the snapshot's sha256 is checked here and on every member before
 * anything stops; then the steps of planRestore (src/plan/etcd-backup.ts) run in order, each on
 * its hosts in parallel, and the result says what the cluster holds now.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { KubehaError, StepError } from "../errors.ts";
import { ConnectionPool, forEachHost } from "../exec/pool.ts";
import type { Transport } from "../exec/transport.ts";
import { ETCD_BACKUP_PATHS as P } from "../render/paths.ts";
import type { Cluster } from "../spec/model.ts";
import { retry } from "../util/retry.ts";
import {
  judgeRestored,
  keyCountCommand,
  parseEndpointStatus,
  parseKeyCount,
  parseSha256File,
  parseVerifyOutput,
  planRestore,
  sha256FileOf,
  type EtcdVerdict,
  type RestoreStep,
  type SnapshotStatus,
} from "../plan/etcd-backup.ts";

export interface RestoreOptions {
  /** Check the snapshot and print the steps; change nothing. */
  dryRun?: boolean;
  /** The time in the new cluster token (tests). Default: now. */
  now?: Date;
  /** Replaces SSH (tests). */
  pool?: ConnectionPool;
  /** Progress lines (stderr in the CLI). */
  progress?: (line: string) => void;
  /** Bound of each wait (etcd leader, API servers ready). Default 120 s. */
  waitSeconds?: number;
}

export interface RestoreResult {
  snapshot: string;
  sha256: string;
  dryRun: boolean;
  /** The new cluster token every member was restored with. */
  token: string;
  /** The steps, in order, with the hosts each ran on (or would run on). */
  steps: Array<{ id: string; title: string; hosts: string[]; commands?: string[] }>;
  /** `snapshot status` of the snapshot (read on the first member). Absent in a dry run. */
  snapshotStatus?: SnapshotStatus;
  /** After the restore: the one cluster ID, the leader's member ID, the members. */
  etcd?: { clusterId: string; leader: string; members: string[]; revision: number };
  /** Keys in etcd right after the restore (before the API servers came back). */
  keys?: number;
  /** `/readyz` of each API server and through the endpoint, once all answered 200. */
  apiservers?: Array<{ host: string; codes: number[] }>;
  durationMs?: number;
}

/** The digest of `file`, checked against `file.sha256`; refuses a missing or different digest. */
export async function verifySnapshotFile(file: string): Promise<{ data: Buffer; sha256: string }> {
  const data = await readFile(file).catch((err: NodeJS.ErrnoException) => {
    throw new KubehaError(`cannot read the snapshot ${file}: ${err.code ?? err.message}`, "give the path of a file `kubeha etcd snapshot` wrote (default: the state directory's backups/)");
  });
  const shaFile = sha256FileOf(file);
  const text = await readFile(shaFile, "utf8").catch(() => {
    throw new KubehaError(`${shaFile} is missing: the snapshot's checksum cannot be verified, so it is not restored`, `keep the .sha256 file \`kubeha etcd snapshot\` wrote beside the snapshot (or write one with \`sha256sum ${file} > ${shaFile}\` if you trust the file)`);
  });
  const want = parseSha256File(text, shaFile);
  const got = createHash("sha256").update(data).digest("hex");
  if (got !== want) {
    throw new KubehaError(`${file} is corrupted: its sha256 begins ${short(got)}, ${shaFile} says ${short(want)}; nothing was changed`, "restore another snapshot (`ls` the backups directory), or take a new one");
  }
  return { data, sha256: got };
}

/**
 * The first 16 hex digits of a digest: error messages hide every 64-hex string (kubeadm's
 * certificate key has that shape), and 16 digits tell two digests apart.
 */
const short = (hex: string) => `${hex.slice(0, 16)}...`;

const AFTER_STOP_HINT = `the API servers' manifests wait in ${P.parkedManifestsDir} on the control planes; fix the cause and run the same restore again (it starts over from the upload), or move the manifests back into /etc/kubernetes/manifests`;

/** Restores `snapshotPath` onto every member of `c`'s etcd. */
export async function etcdRestore(c: Cluster, snapshotPath: string, o: RestoreOptions = {}): Promise<RestoreResult> {
  const t0 = Date.now();
  const say = o.progress ?? (() => {});
  const file = resolve(snapshotPath);
  const { data, sha256 } = await verifySnapshotFile(file);
  say(`${file}: sha256 ${sha256} matches ${sha256FileOf(file)}`);
  const plan = planRestore(c, o.now ?? new Date());
  const result: RestoreResult = {
    snapshot: file,
    sha256,
    dryRun: !!o.dryRun,
    token: plan.token,
    steps: plan.steps.map((s) => ({ id: s.id, title: s.title, hosts: s.run.map((r) => r.host.name), ...(o.dryRun ? { commands: s.run.map((r) => `${r.host.name}: ${r.command}`) } : {}) })),
  };
  if (o.dryRun) {
    plan.steps.forEach((s, i) => say(`[${i + 1}/${plan.steps.length}] would ${s.title[0]!.toLowerCase()}${s.title.slice(1)} on ${s.run.map((r) => r.host.name).join(", ")}`));
    return result;
  }

  const pool = o.pool ?? new ConnectionPool({ connectAttempts: 2, connectTimeoutMs: 5000, keepaliveIntervalMs: 2000 });
  const waitMs = (o.waitSeconds ?? 120) * 1000;
  let stopped = false;
  try {
    // Every host connects before anything changes: an unreachable host stops the restore here.
    await forEachHost([...new Map([...plan.members, ...plan.controlPlanes].map((h) => [h.name, h])).values()], 30, (h) => pool.get(h));
    for (const [i, step] of plan.steps.entries()) {
      say(`[${i + 1}/${plan.steps.length}] ${step.title} (${step.run.map((r) => r.host.name).join(", ")})`);
      if (step.id === "stop-apiservers") stopped = true;
      try {
        await runStep(c, step, pool, { data, sha256, waitMs, result, say });
      } catch (err) {
        if (stopped && err instanceof KubehaError && !err.hint?.includes(P.parkedManifestsDir)) {
          throw new KubehaError(`${step.title} failed: ${err.message}`, [err.hint, AFTER_STOP_HINT].filter(Boolean).join("; "));
        }
        throw err;
      }
    }
  } finally {
    if (!o.pool) await pool.closeAll();
  }
  result.durationMs = Date.now() - t0;
  return result;
}

interface StepCtx {
  data: Buffer;
  sha256: string;
  waitMs: number;
  result: RestoreResult;
  say: (line: string) => void;
}

async function runStep(c: Cluster, step: RestoreStep, pool: ConnectionPool, x: StepCtx): Promise<void> {
  const t = (name: string): Promise<Transport> => pool.get(step.run.find((r) => r.host.name === name)!.host);
  switch (step.id) {
    case "upload":
      await forEachHost(step.run.map((r) => r.host), 30, async (h) => (await t(h.name)).put(P.restoreSnapshot, x.data, 0o600));
      return;
    case "verify": {
      const out = await forEachHost(step.run.map((r) => r.host), 30, async (h) => {
        const r = await (await t(h.name)).mustRun(step.run.find((s) => s.host.name === h.name)!.command, { sudo: true, hint: "the snapshot is not one etcd can read; nothing was stopped" });
        const v = parseVerifyOutput(r.stdout);
        if (v.sha256 !== x.sha256) throw new KubehaError(`${h.name}: the uploaded snapshot's sha256 begins ${short(v.sha256)}, not ${short(x.sha256)}; nothing was stopped`, "check the disk space on the host and run the restore again");
        return v.status;
      });
      const st = out.get(step.run[0]!.host.name)!;
      x.result.snapshotStatus = st;
      x.say(`  snapshot: revision ${st.revision}, ${st.totalKey} keys (all revisions), ${st.totalSize} bytes`);
      return;
    }
    case "wait-etcd": {
      const only = step.run[0]!;
      let last: EtcdVerdict | undefined;
      const verdict = await retry(
        async () => {
          const r = await (await t(only.host.name)).mustRun(only.command, { sudo: true });
          last = judgeRestored(parseEndpointStatus(r.stdout), c.etcd.members.length);
          if (!last.ok) throw new Error(last.problems.join("; "));
          return { verdict: last, statuses: parseEndpointStatus(r.stdout) };
        },
        { attempts: 1000, delayMs: 1000, backoff: 1, deadlineMs: x.waitMs },
      ).catch((err: Error) => {
        throw new KubehaError(`etcd did not come back with one leader and one cluster ID within ${x.waitMs / 1000} s: ${last?.problems.join("; ") ?? err.message.split("\n")[0]}`, "see `journalctl -u etcd -n 50` on the members (stacked: the etcd static pod's log)");
      });
      const keys = parseKeyCount((await (await t(only.host.name)).mustRun(keyCountCommand(c, [only.host]), { sudo: true })).stdout);
      x.result.etcd = {
        clusterId: BigInt(verdict.verdict.clusterIds[0]!).toString(16),
        leader: BigInt(verdict.verdict.leader!).toString(16),
        members: verdict.statuses.map((s) => s.endpoint),
        revision: Math.max(...verdict.statuses.map((s) => s.revision)),
      };
      x.result.keys = keys;
      x.say(`  etcd: ${verdict.statuses.length} members, cluster ID ${x.result.etcd.clusterId}, leader ${x.result.etcd.leader}, ${keys} keys`);
      return;
    }
    case "wait-apiservers": {
      const codes = new Map<string, number[]>();
      await retry(
        async () => {
          await forEachHost(step.run.map((r) => r.host), 30, async (h) => {
            const r = await (await t(h.name)).run(step.run.find((s) => s.host.name === h.name)!.command, { sudo: true, timeoutMs: 15_000 });
            const got = r.stdout.trim().split("\n").map((l) => Number(l.trim()));
            codes.set(h.name, got);
            if (!got.length || got.some((n) => n !== 200)) throw new Error(`${h.name}: /readyz ${got.join(", ")}`);
          });
        },
        { attempts: 1000, delayMs: 1000, backoff: 1, deadlineMs: x.waitMs },
      ).catch((err: Error) => {
        throw new KubehaError(`the API servers were not ready within ${x.waitMs / 1000} s: ${err.message.split("\n").join("; ")}`, "etcd is restored; see the kube-apiserver logs on the control planes (`crictl logs`, the kubelet's journal)");
      });
      x.result.apiservers = [...codes].map(([host, cs]) => ({ host, codes: cs }));
      return;
    }
    default:
      await forEachHost(step.run.map((r) => r.host), 30, async (h) => {
        const cmd = step.run.find((s) => s.host.name === h.name)!.command;
        try {
          await (await t(h.name)).mustRun(cmd, { sudo: true, timeoutMs: 5 * 60_000 });
        } catch (err) {
          if (err instanceof StepError) throw new StepError(`${h.name}: ${step.title.toLowerCase()} failed: ${err.message}`, { ...err.detail, host: h.name, phase: `etcd-restore/${step.id}` }, err.hint);
          throw err;
        }
      });
  }
}
