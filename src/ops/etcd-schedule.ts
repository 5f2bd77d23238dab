/**
 * `kubeha etcd snapshot --schedule EXPR`: the snapshot timer (src/render/etcd-schedule.ts) placed
 * on every etcd member, checked there with `systemd-analyze calendar` and `systemd-analyze verify`
 * before it is enabled; `--schedule off` disables and removes it.
 */
import { KubehaError } from "../errors.ts";
import { ConnectionPool, forEachHost } from "../exec/pool.ts";
import { shq } from "../exec/transport.ts";
import { ETCD_BACKUP_PATHS as P } from "../render/paths.ts";
import { renderSnapshotSchedule, SCHEDULE_UNIT, type ScheduleOptions } from "../render/etcd-schedule.ts";
import { hostByName, type Cluster } from "../spec/model.ts";

export interface ScheduleResult {
  /** `off` when the timer was removed. */
  onCalendar: string;
  keep?: number;
  /** Where each host keeps its snapshots. */
  dir: string;
  /** Per member: the timer's next run as `systemd-analyze calendar` computed it (absent when removed). */
  hosts: Array<{ host: string; nextElapse?: string }>;
}

const TIMER = `${SCHEDULE_UNIT}.timer`;

/** Installs (or with `onCalendar: "off"` removes) the snapshot timer on every etcd member. */
export async function scheduleSnapshots(
  c: Cluster,
  o: ScheduleOptions & { pool?: ConnectionPool; progress?: (line: string) => void },
): Promise<ScheduleResult> {
  const say = o.progress ?? (() => {});
  const pool = o.pool ?? new ConnectionPool({ connectAttempts: 2, connectTimeoutMs: 5000 });
  const members = c.etcd.members.map((n) => hostByName(c, n));
  const off = o.onCalendar === "off";
  try {
    const out = await forEachHost(members, 30, async (h) => {
      const t = await pool.get(h);
      if (off) {
        await t.mustRun(`systemctl disable --now ${TIMER} 2>/dev/null; rm -f ${P.scheduleTimer} ${P.scheduleService} ${P.scheduleScript}; systemctl daemon-reload`, { sudo: true });
        say(`${h.name}: snapshot timer removed (snapshots in ${P.scheduledSnapshotsDir} are kept)`);
        return {};
      }
      const cal = await t.run(`systemd-analyze calendar ${shq(o.onCalendar)}`, { sudo: true });
      if (cal.code !== 0) {
        throw new KubehaError(`${h.name}: "${o.onCalendar}" is not a systemd calendar expression: ${(cal.stderr || cal.stdout).trim().split("\n").pop()}`, "e.g. --schedule daily, --schedule hourly, --schedule '*-*-* 00/6:00:00' (see `man systemd.time`)");
      }
      const next = /Next elapse:\s*(.+)/.exec(cal.stdout)?.[1]?.trim();
      const files = renderSnapshotSchedule(c, h, o);
      await t.putMany(files);
      const v = await t.run(`systemd-analyze verify ${P.scheduleService} ${P.scheduleTimer}`, { sudo: true });
      if (v.code !== 0) {
        await t.run(`rm -f ${files.map((f) => f.path).join(" ")}`, { sudo: true });
        throw new KubehaError(`${h.name}: systemd-analyze verify refused the snapshot timer: ${(v.stderr || v.stdout).trim().split("\n").slice(-3).join("; ")}`, "the files were removed again; report this with the --schedule you gave");
      }
      await t.mustRun(`systemctl daemon-reload && systemctl enable --now ${TIMER}`, { sudo: true, hint: `see \`systemctl status ${TIMER}\` on ${h.name}` });
      say(`${h.name}: ${TIMER} enabled (${o.onCalendar}; next ${next ?? "unknown"}; newest ${o.keep} kept in ${P.scheduledSnapshotsDir})`);
      return next ? { nextElapse: next } : {};
    });
    return {
      onCalendar: o.onCalendar,
      ...(off ? {} : { keep: o.keep }),
      dir: P.scheduledSnapshotsDir,
      hosts: members.map((h) => ({ host: h.name, ...out.get(h.name) })),
    };
  } finally {
    if (!o.pool) await pool.closeAll();
  }
}
