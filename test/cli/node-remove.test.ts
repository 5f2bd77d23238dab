/**
 * `kubeha node remove` from the command line, without machines: every refusal happens before any
 * connection (the example's addresses answer nobody, so a connection attempt would show as a
 * slow exit 1 or 4): usage errors and the quorum guard exit 2 naming the numbers, a cluster never
 * applied from here exits 1 naming the state directory; help and durations.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO, kubehaInProcess } from "../helpers/cli.ts";
import { parseDuration } from "../../src/cli/node.ts";

const dir = mkdtempSync(join(tmpdir(), "kubeha-node-remove-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));
/** Seed 002: 3 stacked control planes carrying HAProxy + keepalived, one worker. */
const file = join(dir, "cluster.yaml");
copyFileSync(join(REPO, "examples", "seed-002-colocated-16443.yaml"), file);

test("usage errors exit 2 with a hint: no subcommand, unknown subcommand, no names, bad duration, bad -o, unknown host", async () => {
  const cases: Array<[string[], RegExp]> = [
    [["node"], /node: name a subcommand/],
    [["node", "evict"], /node: unknown subcommand "evict"/],
    [["node", "remove", file], /takes a cluster file and one or more host names/],
    [["node", "remove", file, "server10-worker", "--drain-timeout", "5x"], /--drain-timeout must be a duration such as 90s, 2m or 1h, got "5x"/],
    [["node", "remove", file, "server10-worker", "-o", "yaml"], /-o\/--output must be plain or json/],
    [["node", "remove", file, "nosuch"], /no host nosuch in .*cluster\.yaml or among the hosts kubeha managed for cluster seed-002[\s\S]*server7-master, server8-node1, server9-node2, server10-worker/],
  ];
  for (const [args, re] of cases) {
    const r = await kubehaInProcess(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
});

test("the quorum guard refuses before connecting: exit 2, the numbers named, --force named, the file untouched", async () => {
  const text = readFileSync(file, "utf8");
  const t0 = performance.now();
  const r = await kubehaInProcess(["node", "remove", file, "server8-node1", "server9-node2", "--write"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /etcd quorum: removing 2 of 3 etcd members \(server8-node1, server9-node2\) leaves 1, and 3 members need 2 for quorum/);
  assert.match(r.stderr, /Nothing was changed on any host/);
  assert.match(r.stderr, /--force/);
  assert.equal(r.stdout, "");
  assert.ok(performance.now() - t0 < 5000, "no connection was attempted");
  assert.equal(readFileSync(file, "utf8"), text);
});

test("a cluster never applied from here: exit 1 naming the state directory, before any connection", async () => {
  const r = await kubehaInProcess(["node", "remove", file, "server10-worker", "--dry-run"]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /the state directory \S+seed-002 does not exist: kubeha never applied this cluster from here/);
  assert.doesNotMatch(r.stderr, /refuse/, "a worker's removal leaves a file plan and apply accept");
  // One of 3 stacked etcd members: the file it leaves is read by the operating commands, refused by plan and apply.
  const cp = await kubehaInProcess(["node", "remove", file, "server9-node2", "--dry-run"]);
  assert.equal(cp.code, 1, cp.stderr);
  assert.match(cp.stderr, /without server9-node2 in \S+cluster\.yaml: 2 control planes with stacked etcd have no fault tolerance.*plan and apply refuse this file until then \(status, node remove, reset, etcd, certs and join-command still read it\)/);
});

test("--help names the flags and examples; durations", async () => {
  const r = await kubehaInProcess(["node", "--help"]);
  assert.equal(r.code, 0);
  for (const f of ["--dry-run", "--force", "--drain-timeout", "--write", "--output", "kubeha node remove cluster.yaml worker2 --dry-run"]) assert.ok(r.stdout.includes(f), f);
  assert.deepEqual(["90s", "90", "2m", "1h"].map((v) => parseDuration("d", v)), [90, 90, 120, 3600]);
  for (const bad of ["0", "-1m", "1.5m", "m", ""]) assert.throws(() => parseDuration("d", bad), /must be a duration/);
});
