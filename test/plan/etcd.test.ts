/** External etcd membership decisions (pure): bootstrap vs member add, from facts and `member list`. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseCluster } from "../../src/spec/read.ts";
import { hostByName, type Cluster } from "../../src/spec/model.ts";
import { factsScript, parseFacts, sections, type Facts } from "../../src/probe/facts.ts";
import { renderEtcd } from "../../src/render/etcd.ts";
import { PATHS } from "../../src/render/paths.ts";
import {
  clusterList,
  etcdClusterExists,
  hexId,
  parseMemberAdd,
  parseMemberList,
  planEtcdHosts,
  planJoin,
  predictedAddList,
  etcdMemberRemoveCommand,
  parseHealthyPeers,
  quorumOf,
  type EtcdMember,
} from "../../src/plan/etcd.ts";

const FIX = fileURLToPath(new URL("../probe/fixtures/", import.meta.url));

function cluster(): Cluster {
  const r = parseCluster(readFileSync(FIX + "cluster.yaml", "utf8"), { home: "/h", sourcePath: FIX + "cluster.yaml" });
  assert.ok(r.cluster, JSON.stringify(r.problems));
  return r.cluster;
}
const c = cluster();
const FULL = "master1=https://198.19.246.11:2380,master2=https://198.19.246.12:2380,master3=https://198.19.246.13:2380";

/** Facts as the facts script would report them for an etcd host (only what the decision reads). */
function facts(etcdData: boolean, etcdInitial: Facts["etcdInitial"] = {}, etcd = etcdData ? "active" : "inactive"): Facts {
  let out = `@@files\n${etcdData ? `${c.etcd.dataDir}/member\n` : ""}@@units\netcd ${etcd}\n@@etcdenv\n`;
  if (etcdInitial.cluster) out += `ETCD_INITIAL_CLUSTER="${etcdInitial.cluster}"\n`;
  if (etcdInitial.state) out += `ETCD_INITIAL_CLUSTER_STATE="${etcdInitial.state}"\n`;
  return parseFacts(c, out + "@@end\n");
}
const byHost = (m: Record<string, Facts>) => new Map(Object.entries(m));
const members = (name: string): EtcdMember[] => {
  const s = sections(readFileSync(FIX + `${name}.txt`, "utf8"));
  return parseMemberList((s.get("etcdmembers") ?? []).join("\n"));
};
const up = (...names: string[]) => new Set(names.map((n) => `https://${hostByName(c, n).internalAddress}:${c.etcd.peerPort}`));
const ALL_UP = up("master1", "master2", "master3");
const envOf = (files: ReturnType<typeof renderEtcd>) => files.find((f) => f.path === PATHS.etcdDefaults)!.content.toString();

test("the facts script reads the first-start settings of the etcd environment file", () => {
  assert.match(factsScript(c, hostByName(c, "master1")), /@@etcdenv.*\/etc\/default\/etcd/);
  const f = facts(true, { state: "existing", cluster: FULL });
  assert.deepEqual(f.etcdInitial, { state: "existing", cluster: FULL });
  assert.deepEqual(facts(false).etcdInitial, {});
});

test("no member has data: a new cluster, every member bootstraps together", () => {
  // A running unit without data is Debian's own single-node etcd, not this cluster.
  const f = byHost({ master1: facts(false, {}, "active"), master2: facts(false), master3: facts(false) });
  assert.equal(etcdClusterExists(c, f), false);
  const p = planEtcdHosts(c, f);
  assert.equal(p.bootstrap, true);
  assert.deepEqual(p.join, []);
  assert.deepEqual(p.now.map((x) => [x.host.name, x.initial.state, x.initial.cluster]), [
    ["master1", "new", FULL],
    ["master2", "new", FULL],
    ["master3", "new", FULL],
  ]);
});

test("a member without data in an existing cluster joins; the others keep their first-start settings", () => {
  const joined = "master1=https://198.19.246.11:2380,master3=https://198.19.246.13:2380,master2=https://198.19.246.12:2380";
  const f = byHost({
    master1: facts(true, { state: "new", cluster: FULL }),
    master2: facts(true, { state: "existing", cluster: joined }),
    master3: facts(false),
  });
  const p = planEtcdHosts(c, f);
  assert.equal(p.bootstrap, false);
  assert.deepEqual(p.join.map((h) => h.name), ["master3"]);
  assert.deepEqual(p.now.map((x) => [x.host.name, x.initial.state, x.initial.cluster]), [
    ["master1", "new", FULL],
    ["master2", "existing", joined],
  ]);
});

test("data but no readable settings (file missing): the default, which etcd ignores once it has data", () => {
  const p = planEtcdHosts(c, byHost({ master1: facts(true), master2: facts(true, { state: "bogus", cluster: "x" }), master3: facts(true) }));
  assert.deepEqual(p.now.map((x) => x.initial), Array(3).fill({ state: "new", cluster: FULL }));
});

test("the env file of a member joined with member add does not change on the next run", () => {
  const m3 = hostByName(c, "master3");
  const printed = parseMemberAdd(
    'Member 3ed8d0d1a4f7c5a2 added to cluster 68f3b6f1f1e1c0a0\n\nETCD_NAME="master3"\nETCD_INITIAL_CLUSTER="master1=https://198.19.246.11:2380,master3=https://198.19.246.13:2380,master2=https://198.19.246.12:2380"\nETCD_INITIAL_ADVERTISE_PEER_URLS="https://198.19.246.13:2380"\nETCD_INITIAL_CLUSTER_STATE="existing"\n',
  );
  assert.equal(printed, "master1=https://198.19.246.11:2380,master3=https://198.19.246.13:2380,master2=https://198.19.246.12:2380");
  const written = envOf(renderEtcd(c, m3, { state: "existing", cluster: printed }));
  assert.match(written, /^ETCD_INITIAL_CLUSTER_STATE="existing"$/m);
  // Next run: master3 has data now, and its facts show what was written.
  const f = byHost({ master1: facts(true, { state: "new", cluster: FULL }), master2: facts(true, { state: "new", cluster: FULL }), master3: facts(true, { state: "existing", cluster: printed }) });
  const again = planEtcdHosts(c, f);
  assert.deepEqual(again.join, []);
  assert.equal(envOf(renderEtcd(c, m3, again.now.find((x) => x.host.name === "master3")!.initial)), written);
  // The bootstrap members' files are what a fresh render gives: nothing flips either.
  assert.equal(envOf(renderEtcd(c, hostByName(c, "master1"), again.now[0]!.initial)), envOf(renderEtcd(c, hostByName(c, "master1"))));
});

test("member list parses etcdctl's JSON with uint64 ids intact", () => {
  const ms = members("healthy-master1");
  assert.deepEqual(ms.map((m) => m.name), ["master1", "master3", "master2"]);
  assert.equal(ms[0]!.id, "1460422473254412827");
  assert.equal(hexId(ms[0]!.id), "144476807453a21b");
  assert.deepEqual(ms[1]!.peerURLs, ["https://198.19.246.13:2380"]);
});

test("not in member list: member add with the host's peer URL", () => {
  const two = members("healthy-master1").filter((m) => m.name !== "master3");
  const a = planJoin(c, hostByName(c, "master3"), two, ALL_UP);
  assert.deepEqual({ kind: a.kind, name: a.kind === "add" && a.name, url: a.kind === "add" && a.peerURL }, { kind: "add", name: "master3", url: "https://198.19.246.13:2380" });
  assert.equal(a.kind === "add" && predictedAddList(c, two, a), "master1=https://198.19.246.11:2380,master2=https://198.19.246.12:2380,master3=https://198.19.246.13:2380");
});

test("already added but never started: no second member add, start with the current membership", () => {
  const ms = members("healthy-master1").map((m) => (m.name === "master3" ? { ...m, name: "", clientURLs: [] } : m));
  const a = planJoin(c, hostByName(c, "master3"), ms, ALL_UP);
  assert.equal(a.kind, "start");
  assert.deepEqual(a.kind === "start" && a.initial, {
    state: "existing",
    cluster: "master1=https://198.19.246.11:2380,master3=https://198.19.246.13:2380,master2=https://198.19.246.12:2380",
  });
});

test("a started member that still answers while its host has no data: refused, naming the member remove to run", () => {
  assert.throws(
    () => planJoin(c, hostByName(c, "master3"), members("healthy-master1"), ALL_UP),
    (e: Error & { hint?: string }) => /master3 .* answers health checks, but master3 has no etcd data/.test(e.message) && /etcdctl member remove [0-9a-f]+/.test(e.hint ?? ""),
  );
});

test("replace: a dead started member with the host's peer URL is removed first, then the host is added under its name", () => {
  const ms = members("healthy-master1");
  const dead = ms.find((m) => m.name === "master2")!;
  const a = planJoin(c, hostByName(c, "master2"), ms, up("master1", "master3"));
  assert.equal(a.kind, "replace");
  if (a.kind !== "replace") return;
  assert.equal(a.remove.id, dead.id);
  assert.deepEqual([a.name, a.peerURL], ["master2", "https://198.19.246.12:2380"]);
  assert.deepEqual(a.quorum, { members: 2, healthy: 2, needed: 2 });
  // What member add then prints: the two live members plus the new one.
  assert.equal(predictedAddList(c, ms.filter((m) => m.id !== dead.id), { kind: "add", host: a.host, name: a.name, peerURL: a.peerURL }),
    "master1=https://198.19.246.11:2380,master3=https://198.19.246.13:2380,master2=https://198.19.246.12:2380");
});

test("replace under a new name at the same address: the old name's member is the one removed", () => {
  const ms = members("healthy-master1").map((m) => (m.name === "master2" ? { ...m, name: "old-master2" } : m));
  const a = planJoin(c, hostByName(c, "master2"), ms, up("master1", "master3"));
  assert.equal(a.kind === "replace" && a.remove.name, "old-master2");
});

test("replace refused when the removal would leave no quorum, naming the numbers", () => {
  // master2 and master3 both gone: removing master2 leaves 2 members, 1 answering, 2 needed.
  assert.throws(
    () => planJoin(c, hostByName(c, "master2"), members("healthy-master1"), up("master1")),
    (e: Error) => /leave 2 member\(s\) of which 1 answer: a quorum of 2 needs 2/.test(e.message),
  );
  assert.equal(quorumOf(1), 1);
  assert.equal(quorumOf(3), 2);
  assert.equal(quorumOf(4), 3);
  assert.equal(quorumOf(5), 3);
});

test("etcdMemberRemoveCommand: the hex id through the given members with the healthcheck client certificate", () => {
  const cmd = etcdMemberRemoveCommand(c, [hostByName(c, "master1"), hostByName(c, "master3")], "5703156521887987282");
  assert.match(cmd, /^ETCDCTL_API=3 etcdctl --endpoints=https:\/\/198\.19\.246\.11:2379,https:\/\/198\.19\.246\.13:2379 /);
  assert.match(cmd, /--cert=\S+\/healthcheck-client\.crt /);
  assert.match(cmd, / member remove 4f25aea3d995f652$/);
  assert.equal(hexId("5703156521887987282"), "4f25aea3d995f652");
  assert.equal(etcdMemberRemoveCommand(c, [], "5703156521887987282"), "etcdctl member remove 4f25aea3d995f652");
});

test("parseHealthyPeers: the peer URLs of the endpoints etcdctl reported healthy", () => {
  const hosts = ["master1", "master2", "master3"].map((n) => hostByName(c, n));
  const out = '[{"endpoint":"https://198.19.246.11:2379","health":true},{"endpoint":"https://198.19.246.12:2379","health":false,"error":"context deadline exceeded"},{"endpoint":"https://198.19.246.13:2379","health":true}]';
  assert.deepEqual([...parseHealthyPeers(c, hosts, out)].sort(), ["https://198.19.246.11:2380", "https://198.19.246.13:2380"]);
  assert.deepEqual([...parseHealthyPeers(c, hosts, "")], []);
  assert.deepEqual([...parseHealthyPeers(c, hosts, "Error: unhealthy cluster")], []);
});

test("clusterList names unstarted members after the configured host with that peer URL", () => {
  const ms: EtcdMember[] = [
    { id: "1", name: "master1", peerURLs: ["https://198.19.246.11:2380"], clientURLs: [] },
    { id: "2", name: "", peerURLs: ["https://198.19.246.12:2380"], clientURLs: [] },
    { id: "3", name: "", peerURLs: ["https://198.18.9.9:2380"], clientURLs: [] },
  ];
  assert.equal(clusterList(c, ms), "master1=https://198.19.246.11:2380,master2=https://198.19.246.12:2380,=https://198.18.9.9:2380");
});

test("member add output without the list is an error, not a guess", () => {
  assert.throws(() => parseMemberAdd("Error: etcdserver: unhealthy cluster\n"), /no ETCD_INITIAL_CLUSTER/);
});
