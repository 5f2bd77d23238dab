/**
 * `kubeha etcd snapshot --schedule`: a systemd timer on each etcd member that saves a snapshot of
 * that member into a local directory, named and checksummed as `kubeha etcd snapshot` names them
 * (`<cluster>-<UTC time>-rev<revision>.db` + `.sha256`), keeping the newest `keep`.
 */
import type { Cluster, Host } from "../spec/model.ts";
import { ETCD_BACKUP_PATHS as P } from "./paths.ts";
import { file, header } from "./file.ts";
import type { RenderedFile } from "./types.ts";
import { etcdctlCommand } from "../probe/status.ts";
import { snapshotTool } from "../plan/etcd-backup.ts";
import { shq } from "../util/shell.ts";

export interface ScheduleOptions {
  /** systemd calendar expression (`OnCalendar=`), e.g. `daily`, `*-*-* 00/6:00:00`. */
  onCalendar: string;
  /** Snapshots kept on each host. */
  keep: number;
}

export const SCHEDULE_UNIT = "kubeha-etcd-snapshot";

function script(c: Cluster, h: Host, keep: number): string {
  const dir = P.scheduledSnapshotsDir;
  return (
    "#!/bin/sh\n" +
    header("#", `Saves a snapshot of etcd member ${h.name} of cluster ${c.name} (run by ${SCHEDULE_UNIT}.timer).`) +
    [
      "set -eu",
      "umask 077",
      `dir=${dir}`,
      'mkdir -p "$dir"; chmod 700 "$dir"',
      'tmp="$dir/.saving.db"; rm -f "$tmp" "$tmp.part"',
      'trap \'rm -f "$tmp" "$tmp.part"\' EXIT',
      `${etcdctlCommand(c, [h], 'snapshot save "$tmp"', 300)} >/dev/null`,
      `rev=$({ ${snapshotTool('snapshot status "$tmp" -w json')}; } | sed -n 's/.*"revision":\\([0-9]*\\).*/\\1/p')`,
      '[ -n "$rev" ] || { echo "snapshot status printed no revision" >&2; exit 1; }',
      `name=${shq(c.name)}-$(date -u +%Y%m%dT%H%M%SZ)-rev$rev.db`,
      'mv "$tmp" "$dir/$name"',
      '(cd "$dir" && sha256sum "$name" > "$name.sha256")',
      `echo "saved $dir/$name"`,
      // The names sort by time: all but the newest ${keep}, with their checksums, go.
      `ls -1 "$dir" | grep -E ${shq(`^${c.name}-[0-9]{8}T[0-9]{6}Z-rev[0-9]+\\.db$`)} | sort | head -n -${keep} | while read -r old; do rm -f "$dir/$old" "$dir/$old.sha256"; echo "removed $old"; done`,
    ].join("\n")
  );
}

/** The script, service and timer for member `h`. */
export function renderSnapshotSchedule(c: Cluster, h: Host, o: ScheduleOptions): RenderedFile[] {
  const service = [
    "[Unit]",
    `Description=kubeha: snapshot of etcd member ${h.name} into ${P.scheduledSnapshotsDir}`,
    "",
    "[Service]",
    "Type=oneshot",
    `ExecStart=${P.scheduleScript}`,
  ].join("\n");
  const timer = [
    "[Unit]",
    `Description=kubeha: etcd snapshots of ${h.name} (${o.onCalendar}, newest ${o.keep} kept)`,
    "",
    "[Timer]",
    `OnCalendar=${o.onCalendar}`,
    // A run missed while the host was off happens at the next boot.
    "Persistent=true",
    "RandomizedDelaySec=60",
    "",
    "[Install]",
    "WantedBy=timers.target",
  ].join("\n");
  return [
    file(P.scheduleScript, script(c, h, o.keep), { mode: 0o700 }),
    file(P.scheduleService, header("#", `etcd snapshots of cluster ${c.name}.`) + service),
    file(P.scheduleTimer, header("#", `etcd snapshots of cluster ${c.name}.`) + timer),
  ];
}
