/**
 * A new LB host starts keepalived only after the LB hosts already running it were configured
 * (reloaded with the new unicast peer): apply's dry run with lb01 and lb02 running keepalived and
 * lb03 fresh records lb01's and lb02's keepalived work in `lb/keepalived`, then lb03's in
 * `lb/keepalived/start`. Were lb03 first, it would hear no adverts and take the VIP.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureState } from "../../src/pki/index.ts";
import { runPhases } from "../../src/phases/runner.ts";
import { APPLY_PHASES } from "../../src/phases/apply.ts";
import { newApplyData } from "../../src/phases/data.ts";
import type { ConnectionPool } from "../../src/exec/pool.ts";
import type { RunResult, Transport } from "../../src/exec/transport.ts";
import type { Cluster, Host } from "../../src/spec/model.ts";
import { clustersUnderTest } from "../render/helpers.ts";

/** Facts of a Debian host; `running` units are active, and installed with the LB packages. */
function facts(running: string[]): string {
  const pkgs = running.length ? ["haproxy", "keepalived", "socat", "curl", "ca-certificates"].map((p) => `${p} 1.0 ii `) : [];
  return ["@@os", "debian 12", "@@arch", "x86_64", "@@hostname", "localhost", "@@swap", "@@ipforward", "1", "@@pkgs", ...pkgs, "@@units", ...running.map((u) => `${u} active`), "@@end"].join("\n");
}

function pool(running: (h: Host) => string[]): ConnectionPool {
  const answer = (h: Host, cmd: string): RunResult =>
    cmd.startsWith("export LC_ALL=C") ? { code: 0, stdout: facts(running(h)), stderr: "" } : cmd.startsWith("cat ") ? { code: 1, stdout: "", stderr: "No such file or directory" } : { code: 0, stdout: "", stderr: "" };
  const transport = (h: Host): Transport => ({
    host: h.name,
    roundTrips: 0,
    run: async (cmd) => answer(h, cmd),
    mustRun: async (cmd) => answer(h, cmd),
    put: async () => {},
    putMany: async () => {},
    hashes: async (paths) => new Map(paths.map((p) => [p, undefined])),
    close: async () => {},
  });
  return { get: async (h: Host) => transport(h) } as unknown as ConnectionPool;
}

test("keepalived: hosts running it are configured first, a new LB host starts after them", async () => {
  const base = clustersUnderTest().find((x) => x.name === "seed-004-dedicated-lbs-8443")!.cluster;
  const dir = mkdtempSync(join(tmpdir(), "kubeha-lb-order-"));
  try {
    const cluster: Cluster = { ...base, pki: { ...base.pki, stateDir: join(dir, "state") } };
    const lbs = cluster.hosts.filter((h) => h.roles.includes("lb")).map((h) => h.name);
    assert.equal(lbs.length, 3);
    const [old1, old2, fresh] = lbs as [string, string, string];
    const state = await ensureState(cluster);
    const data = newApplyData(cluster, state, pool((h) => (h.name === fresh ? [] : ["haproxy", "keepalived"])));
    const summary = await runPhases({ phases: APPLY_PHASES, data, hosts: cluster.hosts, dryRun: true, skip: ["preflight"] });
    const ka = summary.changes.filter((x) => x.phase.startsWith("lb/keepalived"));
    const where = (host: string) => [...new Set(ka.filter((x) => x.host === host).map((x) => x.phase))];
    assert.deepEqual(where(old1), ["lb/keepalived"]);
    assert.deepEqual(where(old2), ["lb/keepalived"]);
    assert.deepEqual(where(fresh), ["lb/keepalived/start"]);
    const lastOld = ka.map((x) => x.host).lastIndexOf(old2);
    const firstNew = ka.findIndex((x) => x.host === fresh);
    assert.ok(lastOld < firstNew, "lb03's keepalived comes after the running hosts'");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
