/** The snapshot timer `kubeha etcd snapshot --schedule` places: valid sh, units systemd-analyze verify accepts. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCluster } from "../../src/spec/read.ts";
import { hostByName } from "../../src/spec/model.ts";
import { ETCD_BACKUP_PATHS as P } from "../../src/render/paths.ts";
import { renderSnapshotSchedule } from "../../src/render/etcd-schedule.ts";

const FIX = fileURLToPath(new URL("../probe/fixtures/cluster.yaml", import.meta.url));
const c = parseCluster(readFileSync(FIX, "utf8"), { home: "/h", sourcePath: FIX }).cluster!;
const h = hostByName(c, "master2");

test("script, service and timer: sh -n, systemd-analyze verify; the timer says when and how many are kept", () => {
  const files = renderSnapshotSchedule(c, h, { onCalendar: "*-*-* 00/6:00:00", keep: 5 });
  assert.deepEqual(files.map((f) => [f.path, f.mode.toString(8)]), [[P.scheduleScript, "700"], [P.scheduleService, "644"], [P.scheduleTimer, "644"]]);
  const [script, service, timer] = files.map((f) => f.content) as [string, string, string];
  assert.equal(spawnSync("sh", ["-n"], { input: script }).status, 0);
  assert.ok(script.includes(`--endpoints=https://${h.internalAddress}:${c.etcd.clientPort} `), "this member only");
  assert.match(script, /head -n -5 /);
  assert.match(script, new RegExp(`name=${c.name}-\\$\\(date -u \\+%Y%m%dT%H%M%SZ\\)-rev\\$rev\\.db`));
  assert.match(timer, /^OnCalendar=\*-\*-\* 00\/6:00:00$/m);
  assert.match(timer, /^Persistent=true$/m);
  assert.deepEqual(renderSnapshotSchedule(c, h, { onCalendar: "*-*-* 00/6:00:00", keep: 5 }), files, "deterministic");

  // systemd-analyze verify wants ExecStart to exist: the script goes beside the units here.
  const dir = mkdtempSync(join(tmpdir(), "kubeha-schedule-"));
  try {
    const exe = join(dir, "kubeha-etcd-snapshot");
    writeFileSync(exe, script);
    chmodSync(exe, 0o700);
    writeFileSync(join(dir, basename(P.scheduleService)), service.replace(P.scheduleScript, exe));
    writeFileSync(join(dir, basename(P.scheduleTimer)), timer);
    const v = spawnSync("systemd-analyze", ["verify", join(dir, basename(P.scheduleService)), join(dir, basename(P.scheduleTimer))], { encoding: "utf8" });
    assert.equal(v.status, 0, v.stderr);
    writeFileSync(join(dir, basename(P.scheduleTimer)), timer.replace(/^OnCalendar=.*$/m, "OnCalendar=every tuesday-ish"));
    const bad = spawnSync("systemd-analyze", ["verify", join(dir, basename(P.scheduleTimer))], { encoding: "utf8" });
    assert.notEqual(bad.status, 0, "a bad calendar is refused by the same check");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
