/**
 * `kubeha etcd snapshot`: `etcdctl snapshot save` on the first etcd member that manages it,
 * copied to the operator machine (the state directory's backups/ by default: directory 0700,
 * file 0600), its sha256 written beside it in `sha256sum` format, and `--keep N` retention.
 * The remote sha256 is compared with the bytes that arrived before anything is written locally.
 */
import { createHash } from "node:crypto";
import { chmod, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { KubehaError } from "../errors.ts";
import { ConnectionPool } from "../exec/pool.ts";
import { STATE_BACKUPS_DIR } from "../render/paths.ts";
import { hostByName, type Cluster } from "../spec/model.ts";
import { parseSaveOutput, retention, saveScript, sha256FileOf, sha256Line, snapshotFileName, type SnapshotStatus } from "../plan/etcd-backup.ts";

export interface SnapshotOptions {
  /** Directory for the snapshot. Default: `<state directory>/backups`. */
  dir?: string;
  /** Keep only the N newest snapshots of this cluster in the directory (this one included). */
  keep?: number;
  /** The time in the file name (tests). Default: now. */
  now?: Date;
  /** Replaces SSH (tests). */
  pool?: ConnectionPool;
  /** Progress lines (stderr in the CLI). */
  progress?: (line: string) => void;
}

export interface SnapshotResult {
  /** Absolute path of the snapshot on the operator machine. */
  file: string;
  /** Its `sha256sum`-format file. */
  sha256File: string;
  sha256: string;
  bytes: number;
  /** The member the snapshot was saved through. */
  member: string;
  /** `snapshot status` of the saved file. */
  status: SnapshotStatus;
  /** Snapshots removed by `keep` (absolute paths). */
  removed: string[];
}

export const defaultBackupDir = (c: Cluster): string => join(c.pki.stateDir, STATE_BACKUPS_DIR);

/** Saves a snapshot of `c`'s etcd; throws naming every member that failed when none could. */
export async function etcdSnapshot(c: Cluster, o: SnapshotOptions = {}): Promise<SnapshotResult> {
  const say = o.progress ?? (() => {});
  const dir = resolve(o.dir ?? defaultBackupDir(c));
  const pool = o.pool ?? new ConnectionPool({ connectAttempts: 2, connectTimeoutMs: 5000 });
  const members = c.etcd.members.map((n) => hostByName(c, n));
  const failures: string[] = [];
  try {
    for (const m of members) {
      say(`saving a snapshot through ${m.name}`);
      let saved;
      try {
        const t = await pool.get(m);
        const r = await t.mustRun(saveScript(c, m), { sudo: true, timeoutMs: 10 * 60_000, hint: `see \`journalctl -u etcd\` on ${m.name}` });
        saved = parseSaveOutput(r.stdout);
      } catch (err) {
        failures.push(`${m.name}: ${(err as Error).message.split("\n")[0]}`);
        say(`  ${m.name} could not save a snapshot; trying the next member`);
        continue;
      }
      const got = createHash("sha256").update(saved.data).digest("hex");
      if (got !== saved.sha256) {
        throw new KubehaError(
          `the snapshot copied from ${m.name} is damaged (sha256 beginning ${got.slice(0, 16)} here, ${saved.sha256.slice(0, 16)} on ${m.name})`,
          "run the snapshot again; nothing was written",
        );
      }
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await chmod(dir, 0o700);
      const name = snapshotFileName(c.name, o.now ?? new Date(), saved.status.revision);
      const file = join(dir, name);
      await writeFile(file, saved.data, { mode: 0o600, flag: "wx" }).catch((err: NodeJS.ErrnoException) => {
        if (err.code === "EEXIST") throw new KubehaError(`${file} already exists`, "wait a second and run the snapshot again (names carry the time to the second)");
        throw err;
      });
      const sha256File = sha256FileOf(file);
      await writeFile(sha256File, sha256Line(got, name), { mode: 0o600 });
      say(`saved ${file} (revision ${saved.status.revision}, ${saved.status.totalKey} keys, ${saved.data.length} bytes)`);
      const removed: string[] = [];
      if (o.keep !== undefined) {
        for (const old of retention(await readdir(dir), c.name, o.keep)) {
          const p = join(dir, old);
          await rm(p, { force: true });
          await rm(sha256FileOf(p), { force: true });
          removed.push(p);
          say(`removed ${basename(p)} (--keep ${o.keep})`);
        }
      }
      return { file, sha256File, sha256: got, bytes: saved.data.length, member: m.name, status: saved.status, removed };
    }
  } finally {
    if (!o.pool) await pool.closeAll();
  }
  throw new KubehaError(`no etcd member could save a snapshot:\n  ${failures.join("\n  ")}`, "check etcd with `kubeha status FILE`; a snapshot needs one healthy member");
}
