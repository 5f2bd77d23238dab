import type { Command } from "./main.ts";
import { parseFlags } from "./flags.ts";
import { DATA_FORMATS, formatData } from "./output.ts";
import { UsageError, formatProblem } from "../errors.ts";
import { loadCluster } from "../spec/read.ts";
import { defaultBackupDir, etcdSnapshot, type SnapshotResult } from "../ops/etcd-snapshot.ts";
import { etcdRestore, type RestoreResult } from "../ops/etcd-restore.ts";
import { scheduleSnapshots, type ScheduleResult } from "../ops/etcd-schedule.ts";

const HELP = `Usage: kubeha etcd <snapshot|restore> FILE [SNAPSHOT] [flags]

Back up and restore the cluster's etcd (stacked or external), with etcdctl/etcdutl on the hosts.

Subcommands:
  snapshot FILE           \`etcdctl snapshot save\` through the first etcd member that can, copied
                          to this machine as <cluster>-<UTC time>-rev<revision>.db (mode 0600,
                          directory 0700) with its sha256 beside it (<name>.db.sha256, the format
                          of sha256sum), checked with \`snapshot status\`. Default directory: the
                          state directory's backups/.
  restore FILE SNAPSHOT   replace every member's data with SNAPSHOT. Refuses without --yes.
                          The snapshot's sha256 is checked against SNAPSHOT.sha256 here and on
                          every member before anything stops; then the API servers stop (their
                          static pod manifests are moved away), etcd stops on every member, each
                          member is restored with a new cluster token and the configured peer
                          URLs, etcd starts, kubeha waits for one leader and one cluster ID,
                          brings the API servers back and waits for /readyz (each and through the
                          endpoint). It reports the revision and key count restored. The data
                          directory before the restore is kept beside it as <dataDir>.before-restore.
                          Every write made after the snapshot is gone afterwards.

Flags:
  --dir DIR              snapshot: where to write it (default <state directory>/backups);
                         -o DIR works too when DIR is not an output format
  --keep N               snapshot: keep only the N newest snapshots of this cluster in DIR
                         (with --schedule: on each host; default 7)
  --schedule WHEN        snapshot: instead of a snapshot now, install a systemd timer on every
                         etcd member that saves one at WHEN (a systemd calendar expression:
                         daily, hourly, '*-*-* 00/6:00:00') into /var/backups/kubeha-etcd on
                         that host, named and checksummed as above; checked with
                         systemd-analyze before it is enabled. --schedule off removes it.
  --yes                  restore: really do it
  --dry-run              restore: check the snapshot and list the steps and hosts; change nothing
  -o, --output FORMAT    table (default: progress on stderr, a summary on stdout), json or yaml

Exit codes: 0 done; 1 failed (the message says which step, which host, and what to do);
2 bad usage (restore without --yes); 3 invalid cluster file; 4 a file or host could not be read.

Examples:
  kubeha etcd snapshot cluster.yaml
  kubeha etcd snapshot cluster.yaml --dir /srv/backups --keep 7 -o json
  kubeha etcd snapshot cluster.yaml --schedule daily --keep 14
  kubeha etcd restore cluster.yaml .kubeha/prod/backups/prod-20261202T020304Z-rev1234.db --dry-run
  kubeha etcd restore cluster.yaml .kubeha/prod/backups/prod-20261202T020304Z-rev1234.db --yes`;

const SUBS = ["snapshot", "restore"];

function keepFrom(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--keep must be a whole number of 1 or more, got "${v}"`, "e.g. --keep 7");
  return n;
}

function snapshotText(r: SnapshotResult): string {
  return [
    `snapshot ${r.file}`,
    `  through ${r.member}: revision ${r.status.revision}, ${r.status.totalKey} keys (all revisions), ${r.bytes} bytes`,
    `  sha256 ${r.sha256} (${r.sha256File})`,
    ...r.removed.map((p) => `  removed ${p}`),
  ].join("\n");
}

function restoreText(r: RestoreResult): string {
  if (r.dryRun) {
    return [`dry run: ${r.snapshot} (sha256 ${r.sha256}) would be restored with cluster token ${r.token}:`, ...r.steps.flatMap((s, i) => [`${i + 1}. ${s.title}`, ...(s.commands ?? []).map((c) => `     ${c.split("\n").join("\n       ")}`)])].join("\n");
  }
  const s = r.snapshotStatus!;
  const e = r.etcd!;
  return [
    `restored ${r.snapshot}`,
    `  snapshot revision ${s.revision}; ${r.keys} keys in etcd now`,
    `  etcd: ${e.members.length} members, one cluster ID ${e.clusterId}, leader ${e.leader}, token ${r.token}`,
    `  API servers ready: ${(r.apiservers ?? []).map((a) => a.host).join(", ")}${r.durationMs !== undefined ? ` (in ${(r.durationMs / 1000).toFixed(1)} s)` : ""}`,
  ].join("\n");
}

export const command: Command = {
  name: "etcd",
  help: HELP,
  async run(args) {
    const { values, positionals } = parseFlags("etcd", args, {
      output: { type: "string", short: "o" },
      dir: { type: "string" },
      keep: { type: "string" },
      schedule: { type: "string" },
      yes: { type: "boolean" },
      "dry-run": { type: "boolean" },
    });
    const [sub, file, ...rest] = positionals;
    if (!sub) throw new UsageError(`etcd needs a subcommand: ${SUBS.join(", ")}`, "kubeha etcd snapshot cluster.yaml");
    if (!SUBS.includes(sub)) throw new UsageError(`etcd: unknown subcommand "${sub}"; the subcommands are ${SUBS.join(", ")}`, "kubeha etcd snapshot cluster.yaml");
    // -o is a format; for `snapshot`, anything else is the directory (the issue's `-o PATH`).
    let output = values.output ?? "table";
    let dir = values.dir;
    if (!(DATA_FORMATS as readonly string[]).includes(output) || output === "wide") {
      if (sub !== "snapshot" || output === "wide") throw new UsageError(`etcd ${sub}: -o/--output must be one of table, json, yaml, got "${output}"`, `e.g. kubeha etcd ${sub} -o json`);
      if (dir !== undefined) throw new UsageError("etcd snapshot: give the directory once (--dir or -o)", "kubeha etcd snapshot cluster.yaml --dir /srv/backups");
      dir = output;
      output = "table";
    }
    const print = async (data: SnapshotResult | RestoreResult | ScheduleResult, text: string) =>
      process.stdout.write(output === "table" ? text + "\n" : await formatData(output as "json" | "yaml", data));
    const progress = (line: string) => process.stderr.write(line + "\n");

    if (sub === "snapshot") {
      if (!file || rest.length) throw new UsageError("etcd snapshot takes exactly one cluster file", "kubeha etcd snapshot cluster.yaml");
      if (values.yes || values["dry-run"]) throw new UsageError("--yes and --dry-run belong to etcd restore", "kubeha etcd snapshot cluster.yaml");
      const keep = keepFrom(values.keep);
      if (values.schedule !== undefined && dir !== undefined) throw new UsageError("--schedule keeps snapshots on the etcd hosts: --dir and -o DIR do not apply", "kubeha etcd snapshot cluster.yaml --schedule daily --keep 7");
      if (values.schedule !== undefined && !values.schedule.trim()) throw new UsageError("--schedule needs a systemd calendar expression, or off", "kubeha etcd snapshot cluster.yaml --schedule daily");
      const { cluster, warnings } = await loadCluster(file, { operate: true });
      for (const w of warnings) process.stderr.write(formatProblem(file, w) + "\n");
      if (values.schedule !== undefined) {
        const s = await scheduleSnapshots(cluster, { onCalendar: values.schedule.trim(), keep: keep ?? 7, progress });
        await print(s, s.onCalendar === "off" ? `snapshot timer removed from ${s.hosts.map((h) => h.host).join(", ")}` : `snapshot timer on ${s.hosts.map((h) => `${h.host} (next ${h.nextElapse ?? "?"})`).join(", ")}: ${s.onCalendar}, newest ${s.keep} kept in ${s.dir}`);
        return 0;
      }
      const r = await etcdSnapshot(cluster, { dir: dir ?? defaultBackupDir(cluster), ...(keep ? { keep } : {}), progress });
      await print(r, snapshotText(r));
      return 0;
    }

    const [snapshot, ...extra] = rest;
    if (!file || !snapshot || extra.length) throw new UsageError("etcd restore takes a cluster file and a snapshot", "kubeha etcd restore cluster.yaml SNAPSHOT.db --yes");
    if (dir !== undefined || values.keep !== undefined || values.schedule !== undefined) throw new UsageError("--dir, --keep and --schedule belong to etcd snapshot", "kubeha etcd restore cluster.yaml SNAPSHOT.db --yes");
    if (!values.yes && !values["dry-run"]) {
      throw new UsageError(
        "etcd restore replaces every etcd member's data with the snapshot (everything written since it is lost) and stops the API servers meanwhile: it needs --yes",
        `see what it would do: kubeha etcd restore ${file} ${snapshot} --dry-run`,
      );
    }
    const { cluster, warnings } = await loadCluster(file, { operate: true });
    for (const w of warnings) process.stderr.write(formatProblem(file, w) + "\n");
    const r = await etcdRestore(cluster, snapshot, { dryRun: !!values["dry-run"], progress });
    await print(r, restoreText(r));
    return 0;
  },
};
