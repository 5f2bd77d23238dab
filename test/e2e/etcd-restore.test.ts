/**
 * `kubeha etcd snapshot` and `kubeha etcd restore` with the REAL etcd (Debian's etcd-server 3.4 as
 * external etcd on the lab's three masters; etcdctl from etcd-client): 1,000 numbered keys
 * written, a snapshot taken, 1,000 more written, every member's data directory destroyed, the
 * snapshot restored -> exactly the first 1,000 keys, 3 healthy members with one (new) cluster ID,
 * the API servers (stand-ins, which keep their store in this etcd) ready through the VIP.
 * Before that: a corrupted snapshot and a restore without --yes are refused with nothing stopped.
 * One lab for the whole file (name and subnet overridable by env for parallel runs).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { loadCluster } from "../../src/spec/read.ts";
import { hostByName, type Cluster } from "../../src/spec/model.ts";
import { labExec, type LabInfo } from "../../src/lab/index.ts";
import { probeTargets, type ProbeTargets } from "../../src/drill/load.ts";
import { readBack, startEtcdWriter } from "../../src/drill/probes.ts";
import { etcdctlCommand } from "../../src/probe/status.ts";
import { parseEndpointStatus } from "../../src/plan/etcd-backup.ts";
import { ETCD_BACKUP_PATHS } from "../../src/render/paths.ts";
import { useSharedLab } from "../helpers/e2e-lab.ts";
import { LEADER_TAKEOVER_MS } from "../../src/drill/scenarios.ts";
import { assertRestoredToSnapshot } from "../helpers/etcd-restored.ts";
import { kubeha } from "../helpers/cli.ts";

const MASTERS = ["master1", "master2", "master3"];
let lab: LabInfo;
let cwd: string;
let cluster: Cluster;
let targets: NonNullable<ProbeTargets["etcd"]>;
const run = `/kubeha-e2e-restore/${Date.now().toString(36)}`;
const FIRST = `${run}/first`;
const AFTER = `${run}/after`;

/**
 * Writes keys 1..n under `prefix` (through every member, as the drill's writer does); all must be
 * acknowledged. A write is given 15 s: on a shared 2-core machine fsyncs can take seconds, and an
 * unacknowledged write that etcd applied later would make "exactly these keys" ambiguous.
 */
async function writeKeys(prefix: string, n: number): Promise<void> {
  const w = startEtcdWriter({ ...targets, prefix, timeoutMs: 15_000, intervalMs: 1, maxCount: n, maxMs: 600_000, t0: performance.now() });
  const writes = await w.done;
  const acked = writes.filter((x) => x.acked).length;
  assert.equal(acked, n, `${n - acked} of ${n} writes under ${prefix} not acknowledged: ${writes.find((x) => !x.acked)?.error}`);
}

/** Each member's own view (`endpoint status` against that member only): its cluster ID. */
async function clusterIds(): Promise<string[]> {
  const out: string[] = [];
  for (const m of MASTERS) {
    const r = await labExec(NAME, m, ["sh", "-c", etcdctlCommand(cluster, [hostByName(cluster, m)], "endpoint status -w json")]);
    assert.equal(r.code, 0, `${m}: ${r.stderr}`);
    out.push(parseEndpointStatus(r.stdout)[0]!.clusterId);
  }
  return out;
}

const sha256 = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");
let snapshot: string;
let idsBefore: string[];

// The lab several e2e files share within one test run (test/helpers/e2e-lab.ts).
const NAME = useSharedLab(async (shared) => {
  ({ lab, cwd } = shared);
  cluster = (await loadCluster(lab.clusterFile)).cluster;
  assert.equal(cluster.etcd.mode, "external", "the lab runs Debian's etcd as external etcd on the masters");
  targets = (await probeTargets(cluster)).etcd!;
});

test("snapshot: 1,000 keys written, then a snapshot in the state directory's backups/ (0700/0600), sha256 beside it, --keep applied", async () => {
  await writeKeys(FIRST, 1000);
  const backups = join(cluster.pki.stateDir, "backups");
  // An older snapshot of this cluster and a file that is not one: --keep 1 removes only the first.
  mkdirSync(backups, { recursive: true, mode: 0o700 });
  const old = join(backups, `${NAME}-20200101T000000Z-rev1.db`);
  // 0600: the state directory holds keys, and kubeha refuses it when anything in it is readable by others.
  writeFileSync(old, "old", { mode: 0o600 });
  writeFileSync(`${old}.sha256`, "x", { mode: 0o600 });
  writeFileSync(join(backups, "notes.txt"), "keep me", { mode: 0o600 });

  const r = kubeha(["etcd", "snapshot", lab.clusterFile, "--keep", "1", "-o", "json"], { cwd, timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { file: string; sha256File: string; sha256: string; status: { revision: number; totalKey: number }; removed: string[] };
  snapshot = j.file;
  assert.equal(dirname(snapshot), backups);
  assert.match(basename(snapshot), new RegExp(`^${NAME}-\\d{8}T\\d{6}Z-rev${j.status.revision}\\.db$`));
  assert.ok(j.status.revision > 1000 && j.status.totalKey >= 1000, JSON.stringify(j.status));
  assert.equal(statSync(snapshot).mode & 0o777, 0o600);
  assert.equal(statSync(backups).mode & 0o777, 0o700);
  assert.equal(sha256(snapshot), j.sha256);
  assert.equal(readFileSync(j.sha256File, "utf8"), `${j.sha256}  ${basename(snapshot)}\n`);
  assert.deepEqual(j.removed, [old]);
  assert.deepEqual(readdirSync(backups).sort(), [basename(snapshot), `${basename(snapshot)}.sha256`, "notes.txt"].sort());
  assert.match(r.stderr, /saving a snapshot through master\d/);

  await writeKeys(AFTER, 1000);
  idsBefore = await clusterIds();
  assert.equal(new Set(idsBefore).size, 1);
});

test("restore refuses without --yes, and refuses a corrupted snapshot before anything stops", async () => {
  const no = kubeha(["etcd", "restore", lab.clusterFile, snapshot], { cwd });
  assert.equal(no.code, 2, no.stderr);
  assert.match(no.stderr, /needs --yes/);

  const bad = join(cwd, "corrupted.db");
  const data = readFileSync(snapshot);
  data[Math.floor(data.length / 2)]! ^= 0xff;
  writeFileSync(bad, data, { mode: 0o600 });
  copyFileSync(`${snapshot}.sha256`, `${bad}.sha256`);
  const r = kubeha(["etcd", "restore", lab.clusterFile, bad, "--yes"], { cwd, timeoutMs: 60_000 });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /corrupted\.db is corrupted: its sha256 begins [0-9a-f]{16}\.\.\., .* says [0-9a-f]{16}\.\.\.; nothing was changed/);
  assert.doesNotMatch(r.stderr, /\[\d+\/\d+\]/, "no step ran");

  // Nothing stopped: manifests in place, etcd untouched (the later keys are there), no upload.
  for (const m of MASTERS) {
    assert.equal((await labExec(NAME, m, ["test", "-e", ETCD_BACKUP_PATHS.apiserverManifest])).code, 0, `${m}: apiserver manifest in place`);
    assert.equal((await labExec(NAME, m, ["systemctl", "is-active", "etcd"])).stdout.trim(), "active");
    assert.notEqual((await labExec(NAME, m, ["test", "-e", ETCD_BACKUP_PATHS.restoreSnapshot])).code, 0, `${m}: nothing uploaded`);
  }
  assert.equal((await readBack({ ...targets, prefix: AFTER, timeoutMs: 5000 })).size, 1000);
});

test("every member's data directory destroyed, restore -> exactly the first 1,000 keys, 3 members, one new cluster ID, API ready", async () => {
  for (const m of MASTERS) {
    const r = await labExec(NAME, m, ["sh", "-c", `systemctl stop etcd && rm -rf ${cluster.etcd.dataDir} && test ! -e ${cluster.etcd.dataDir}`]);
    assert.equal(r.code, 0, `${m}: ${r.stderr}`);
  }
  const t0 = performance.now();
  const r = kubeha(["etcd", "restore", lab.clusterFile, snapshot, "--yes", "-o", "json"], { cwd, timeoutMs: 5 * 60_000 });
  const seconds = (performance.now() - t0) / 1000;
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const j = JSON.parse(r.stdout) as {
    snapshotStatus: { revision: number };
    etcd: { clusterId: string; members: string[] };
    keys: number;
    apiservers: Array<{ host: string; codes: number[] }>;
  };
  process.stderr.write(`# etcd restore of 3 members took ${seconds.toFixed(1)} s (kubeha end to end)\n`);
  for (const step of ["Upload the snapshot", "Stop the API servers", "Stop etcd", "Restore the snapshot", "Start etcd", "one leader and one cluster ID", "Start the API servers", "/readyz"]) {
    assert.match(r.stderr, new RegExp(`\\[\\d+/10\\] .*${step.replace(/[/]/g, "\\/")}`), `progress names "${step}"`);
  }
  assert.equal(j.etcd.members.length, 3);
  assert.ok(j.keys >= 1000 && j.keys < 2000, `keys now: ${j.keys}`);
  assert.deepEqual(j.apiservers.map((a) => a.host).sort(), MASTERS);
  for (const a of j.apiservers) assert.deepEqual(a.codes, [200, 200], `${a.host}: /readyz direct and through the VIP`);

  await assertRestoredToSnapshot({ targets, first: FIRST, keys: 1000, after: AFTER, clusterIds, idsBefore, reportedClusterId: j.etcd.clusterId });

  // The restored store holds the controller-manager's and scheduler's Leases as they were at the
  // snapshot: long expired, but new to their followers, which wait a whole lease duration before
  // taking them (client-go). Until then status rightly says there is no leader: bounded wait.
  const until = Date.now() + LEADER_TAKEOVER_MS + 30_000;
  let s = kubeha(["status", lab.clusterFile, "-o", "json"], { cwd, timeoutMs: 90_000 });
  while (s.code !== 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 2000));
    s = kubeha(["status", lab.clusterFile, "-o", "json"], { cwd, timeoutMs: 90_000 });
  }
  const report = JSON.parse(s.stdout) as { healthy: boolean; problems: string[]; etcd: { leader?: string; members: Array<{ healthy: boolean }> } };
  assert.equal(s.code, 0, report.problems.join("\n"));
  assert.equal(report.etcd.members.filter((m) => m.healthy).length, 3);
  assert.ok(report.etcd.leader);
});

test("--schedule: a timer on every member (systemd-analyze checked) whose run leaves a checksummed snapshot; bad calendars refused; off removes it", async () => {
  const bad = kubeha(["etcd", "snapshot", lab.clusterFile, "--schedule", "every tuesday-ish"], { cwd, timeoutMs: 60_000 });
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stderr, /"every tuesday-ish" is not a systemd calendar expression/);

  const r = kubeha(["etcd", "snapshot", lab.clusterFile, "--schedule", "daily", "--keep", "2", "-o", "json"], { cwd, timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { hosts: Array<{ host: string; nextElapse?: string }>; keep: number; dir: string };
  assert.deepEqual(j.hosts.map((x) => x.host), MASTERS);
  assert.ok(j.hosts.every((x) => /00:00:00/.test(x.nextElapse ?? "")), JSON.stringify(j.hosts));
  for (const m of MASTERS) assert.equal((await labExec(NAME, m, ["systemctl", "is-enabled", "kubeha-etcd-snapshot.timer"])).stdout.trim(), "enabled");

  // Three runs with --keep 2: two snapshots stay, each passes sha256sum -c and etcdctl snapshot status.
  for (let i = 0; i < 3; i++) {
    const run = await labExec(NAME, "master2", ["sh", "-c", "systemctl start kubeha-etcd-snapshot.service && sleep 1"]);
    assert.equal(run.code, 0, run.stderr);
  }
  const check = await labExec(NAME, "master2", ["sh", "-c", `cd ${j.dir} && ls -1 | sort && sha256sum -c *.sha256 && for f in *.db; do ETCDCTL_API=3 etcdctl snapshot status "$f" -w json; done`]);
  assert.equal(check.code, 0, check.stderr);
  const names = check.stdout.split("\n").filter((l) => /\.db$/.test(l));
  assert.equal(names.length, 2, check.stdout);
  assert.ok(names.every((n) => new RegExp(`^${NAME}-\\d{8}T\\d{6}Z-rev\\d+\\.db$`).test(n)), names.join(" "));
  assert.equal((check.stdout.match(/: OK$/gm) ?? []).length, 2);

  const off = kubeha(["etcd", "snapshot", lab.clusterFile, "--schedule", "off"], { cwd, timeoutMs: 60_000 });
  assert.equal(off.code, 0, off.stderr);
  for (const m of MASTERS) assert.notEqual((await labExec(NAME, m, ["test", "-e", ETCD_BACKUP_PATHS.scheduleTimer])).code, 0, `${m}: timer removed`);
});
