/** etcd snapshot and restore, the pure part: names, retention, sha256 files, parsers, the restore plan. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseDocument } from "yaml";
import { parseCluster } from "../../src/spec/read.ts";
import type { Cluster } from "../../src/spec/model.ts";
import { ETCD_BACKUP_PATHS as P, PATHS } from "../../src/render/paths.ts";
import {
  judgeRestored,
  parseEndpointStatus,
  parseKeyCount,
  parseSaveOutput,
  parseSha256File,
  parseSnapshotStatus,
  parseVerifyOutput,
  planRestore,
  retention,
  sha256Line,
  snapshotFileName,
  type EndpointStatus,
} from "../../src/plan/etcd-backup.ts";
import { verifySnapshotFile } from "../../src/ops/etcd-restore.ts";

const FIX = fileURLToPath(new URL("../probe/fixtures/cluster.yaml", import.meta.url));

/** The status fixture (3 masters, external etcd), or the same with `etcd.mode: stacked`. */
function cluster(mode: "external" | "stacked" = "external"): Cluster {
  const doc = parseDocument(readFileSync(FIX, "utf8"));
  doc.setIn(["spec", "etcd", "mode"], mode);
  if (mode === "stacked") {
    const hosts = doc.getIn(["spec", "hosts"]) as { items: Array<{ get(k: string): { items: Array<{ value: string }> } }> };
    for (const h of hosts.items) {
      const roles = h.get("roles");
      roles.items = roles.items.filter((r) => r.value !== "etcd");
    }
  }
  const r = parseCluster(doc.toString(), { home: "/h", sourcePath: FIX });
  assert.ok(r.cluster, JSON.stringify(r.problems));
  return r.cluster;
}
const AT = new Date("2026-12-02T02:03:04.567Z");

test("snapshot names carry the cluster, the UTC time to the second and the revision", () => {
  assert.equal(snapshotFileName("prod", AT, 1234), "prod-20261202T020304Z-rev1234.db");
});

test("retention keeps the N newest snapshots of this cluster and never touches other files", () => {
  const names = [
    "prod-20261202T020304Z-rev9.db",
    "prod-20261201T000000Z-rev7.db",
    "prod-20261130T235959Z-rev5.db",
    "prod-20261202T020304Z-rev9.db.sha256",
    "prod-x-20200101T000000Z-rev1.db", // another cluster whose name starts the same
    "staging-20200101T000000Z-rev1.db",
    "notes.txt",
  ];
  assert.deepEqual(retention(names, "prod", 2), ["prod-20261130T235959Z-rev5.db"]);
  assert.deepEqual(retention(names, "prod", 1), ["prod-20261130T235959Z-rev5.db", "prod-20261201T000000Z-rev7.db"]);
  assert.deepEqual(retention(names, "prod", 5), []);
  assert.deepEqual(retention(names, "prod-x", 0), ["prod-x-20200101T000000Z-rev1.db"]);
});

test("the sha256 file is sha256sum's format: sha256sum -c accepts it, and it parses back", () => {
  const dir = mkdtempSync(join(tmpdir(), "kubeha-sha-"));
  try {
    const name = "c-20261202T020304Z-rev1.db";
    writeFileSync(join(dir, name), "snapshot bytes");
    const hex = spawnSync("sha256sum", [name], { cwd: dir, encoding: "utf8" }).stdout.split(" ")[0]!;
    writeFileSync(join(dir, `${name}.sha256`), sha256Line(hex, name));
    const c = spawnSync("sha256sum", ["-c", `${name}.sha256`], { cwd: dir, encoding: "utf8" });
    assert.equal(c.status, 0, c.stderr);
    assert.equal(parseSha256File(sha256Line(hex, name), "f"), hex);
    assert.throws(() => parseSha256File("not a digest\n", "f.sha256"), /f\.sha256 holds no sha256 digest/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("verifySnapshotFile: a good file passes; a flipped byte, a missing or empty .sha256 are refused", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kubeha-verify-"));
  try {
    const f = join(dir, "s.db");
    writeFileSync(f, "snapshot bytes");
    const hex = spawnSync("sha256sum", [f], { encoding: "utf8" }).stdout.split(" ")[0]!;
    await assert.rejects(verifySnapshotFile(f), /s\.db\.sha256 is missing: the snapshot's checksum cannot be verified/);
    writeFileSync(`${f}.sha256`, sha256Line(hex, "s.db"));
    assert.equal((await verifySnapshotFile(f)).sha256, hex);
    writeFileSync(f, "snapshot bytez");
    await assert.rejects(verifySnapshotFile(f), (e: Error) => /s\.db is corrupted: its sha256 begins [0-9a-f]{16}\.\.\., .* says [0-9a-f]{16}\.\.\.; nothing was changed/.test(e.message));
    writeFileSync(`${f}.sha256`, "");
    await assert.rejects(verifySnapshotFile(f), /holds no sha256 digest/);
    await assert.rejects(verifySnapshotFile(join(dir, "absent.db")), /cannot read the snapshot .*absent\.db: ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("parsers: snapshot status (etcdctl 3.4 JSON), the save script's sections, endpoint status with uint64 ids, key count", () => {
  const status = '{"hash":3474234432,"revision":1091,"totalKey":1107,"totalSize":352256}';
  assert.deepEqual(parseSnapshotStatus(`Deprecated: Use etcdutl instead.\n${status}\n`), { hash: 3474234432, revision: 1091, totalKey: 1107, totalSize: 352256 });
  assert.throws(() => parseSnapshotStatus("Error: snapshot file integrity check failed"), /printed no status/);
  assert.throws(() => parseSnapshotStatus('{"hash":1}'), /printed no status/);

  const sha = "a".repeat(64);
  const data = Buffer.from([0, 1, 2, 250, 255]);
  const saved = parseSaveOutput(`@@status\n${status}\n@@sha256\n${sha}\n@@data\n${data.toString("base64")}\n`);
  assert.equal(saved.sha256, sha);
  assert.deepEqual(saved.data, data);
  assert.equal(saved.status.revision, 1091);
  assert.throws(() => parseSaveOutput(`@@status\n${status}\n@@sha256\n${sha}\n`), /no @@data section/);
  assert.deepEqual(parseVerifyOutput(`@@sha256\n${sha}\n@@status\n${status}\n`), { sha256: sha, status: parseSnapshotStatus(status) });
  assert.throws(() => parseVerifyOutput(`@@sha256\nsha256sum: x: No such file\n@@status\n${status}\n`), /printed no sha256/);

  // uint64 ids above 2^53 keep every digit.
  const es = parseEndpointStatus(
    '[{"Endpoint":"https://10.0.0.11:2379","Status":{"header":{"cluster_id":17237436991929493444,"member_id":9372538179322589801,"revision":1092,"raft_term":2},"version":"3.4.23","dbSize":352256,"leader":9372538179322589801,"raftIndex":1200,"raftTerm":2}}]',
  );
  assert.deepEqual(es, [{ endpoint: "https://10.0.0.11:2379", clusterId: "17237436991929493444", memberId: "9372538179322589801", leader: "9372538179322589801", revision: 1092 }]);
  assert.equal(parseKeyCount('{"header":{"cluster_id":17237436991929493444,"revision":5},"kvs":[{"key":"Lw=="}],"more":true,"count":1015}'), 1015);
});

test("judgeRestored: done only with every member answering, one cluster ID and one leader among them", () => {
  const m = (id: string, cluster = "c1", leader = "1"): EndpointStatus => ({ endpoint: `e${id}`, clusterId: cluster, memberId: id, leader, revision: 9 });
  assert.deepEqual(judgeRestored([m("1"), m("2"), m("3")], 3), { ok: true, clusterIds: ["c1"], leader: "1", problems: [] });
  assert.match(judgeRestored([m("1"), m("2")], 3).problems.join(), /2 of 3 members answered/);
  assert.match(judgeRestored([m("1"), m("2"), m("3", "c2")], 3).problems.join(), /2 cluster IDs: c1, c2/);
  assert.match(judgeRestored([m("1", "c1", "0"), m("2", "c1", "0"), m("3", "c1", "0")], 3).problems.join(), /no single leader/);
  assert.match(judgeRestored([m("1", "c1", "1"), m("2", "c1", "2"), m("3")], 3).problems.join(), /no single leader/);
  assert.match(judgeRestored([m("1", "c1", "7"), m("2", "c1", "7"), m("3", "c1", "7")], 3).problems.join(), /leader 7 is not one of the members/);
});

test("restore plan (external etcd): snapshot checked everywhere before anything stops; API servers stop before etcd and return after it", () => {
  const c = cluster("external");
  const p = planRestore(c, AT);
  const ids = p.steps.map((s) => s.id);
  assert.deepEqual(ids, ["upload", "verify", "stop-apiservers", "stop-etcd", "restore", "start-etcd", "wait-etcd", "start-apiservers", "wait-apiservers", "clean-up"]);
  assert.ok(p.steps.slice(0, 2).every((s) => s.run.length === 3));
  assert.equal(p.token, `${c.name}-etcd-restore-20261202t020304z`);
  assert.notEqual(planRestore(c, new Date(AT.getTime() + 1000)).token, p.token, "a new token per restore");

  const byId = (id: string) => p.steps.find((s) => s.id === id)!;
  const ips = c.hosts.map((h) => h.internalAddress);
  const initial = c.hosts.map((h, i) => `${h.name}=https://${ips[i]}:${c.etcd.peerPort}`).join(",");
  assert.equal(p.initialCluster, initial);
  for (const [i, r] of byId("restore").run.entries()) {
    const h = c.hosts[i]!;
    assert.equal(r.host.name, h.name);
    for (const flag of [`--name ${h.name}`, `--initial-cluster ${initial}`, `--initial-cluster-token ${p.token}`, `--initial-advertise-peer-urls https://${h.internalAddress}:${c.etcd.peerPort}`, `--data-dir ${c.etcd.dataDir}.kubeha-restore`]) {
      assert.ok(r.command.includes(flag), `${h.name}: ${flag}\n${r.command}`);
    }
    assert.match(r.command, /command -v etcdutl .* etcdutl snapshot restore .* else ETCDCTL_API=3 etcdctl snapshot restore/s);
    assert.match(r.command, new RegExp(`chown -R etcd:etcd ${c.etcd.dataDir}\\n`), "Debian's etcd.service runs as user etcd");
    assert.match(r.command, new RegExp(`mv ${c.etcd.dataDir} ${c.etcd.dataDir}.before-restore`));
  }
  assert.ok(byId("stop-etcd").run.every((r) => r.command === "systemctl stop etcd.service"));
  assert.ok(byId("start-etcd").run.every((r) => /systemctl start --no-block etcd\.service/.test(r.command)));
  for (const r of byId("stop-apiservers").run) {
    assert.match(r.command, new RegExp(`mv ${P.apiserverManifest} ${P.parkedManifestsDir}/kube-apiserver\\.yaml`));
    assert.match(r.command, new RegExp(`! curl -sk -m 1 -o /dev/null https://${r.host.internalAddress}:${c.kubernetes.apiServerPort}/healthz`));
  }
  assert.ok(!P.parkedManifestsDir.startsWith(PATHS.manifestsDir + "/"), "parked manifests are outside the kubelet's directory");
  for (const r of byId("wait-apiservers").run) assert.ok(r.command.includes(`https://${c.endpoint.address}:${c.endpoint.port}/readyz`), "through the endpoint too");
});

test("restore plan (stacked etcd): etcd stops and starts with kubeadm's static pod manifest; the data stays root's", () => {
  const c = cluster("stacked");
  const p = planRestore(c, AT);
  const stop = p.steps.find((s) => s.id === "stop-etcd")!;
  assert.deepEqual(stop.run.map((r) => r.host.name), c.etcd.members);
  for (const r of stop.run) {
    assert.match(r.command, new RegExp(`mv ${P.etcdManifest} ${P.parkedManifestsDir}/etcd\\.yaml`));
    assert.match(r.command, /! pgrep -x etcd/);
  }
  for (const r of p.steps.find((s) => s.id === "start-etcd")!.run) assert.match(r.command, new RegExp(`mv ${P.parkedManifestsDir}/etcd\\.yaml ${P.etcdManifest}`));
  for (const r of p.steps.find((s) => s.id === "restore")!.run) assert.doesNotMatch(r.command, /chown/);
});
