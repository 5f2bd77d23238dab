/**
 * HAProxy's backend while apply runs (src/plan/backends.ts): a control plane that has not joined a
 * running cluster stays out of it until the phase control-plane/backends, after its join; a new
 * cluster gets every control plane at once; the file render writes always has them all.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { apiBackends, apiReadyScript, enteringBackends } from "../../src/plan/backends.ts";
import { planHost, planFiles } from "../../src/plan/host.ts";
import { ensureState } from "../../src/pki/index.ts";
import { newApplyData } from "../../src/phases/data.ts";
import { runPhases } from "../../src/phases/runner.ts";
import { APPLY_PHASES } from "../../src/phases/apply.ts";
import { parseFacts } from "../../src/probe/facts.ts";
import { PATHS } from "../../src/render/paths.ts";
import type { ConnectionPool } from "../../src/exec/pool.ts";
import type { RunResult, Transport } from "../../src/exec/transport.ts";
import type { Cluster, Host } from "../../src/spec/model.ts";
import { clustersUnderTest, FIXTURE_SECRETS } from "../render/helpers.ts";

const base = clustersUnderTest().find((x) => x.name === "seed-004-dedicated-lbs-8443")!.cluster;
const cps = base.hosts.filter((h) => h.roles.includes("control-plane"));
const lbs = base.hosts.filter((h) => h.roles.includes("lb"));
const names = (hs: readonly Host[]) => hs.map((h) => h.name);
const servers = (cfg: string) => [...cfg.matchAll(/^\s+server (\S+) /gm)].map((m) => m[1]!);

test("apiBackends: every control plane while none joined, else the joined ones; enteringBackends: what a join adds", () => {
  assert.equal(cps.length, 3);
  const [a, b, c] = cps as [Host, Host, Host];
  assert.deepEqual(names(apiBackends(base, () => false)), names(cps), "a new cluster: all of them (no client yet)");
  assert.deepEqual(names(apiBackends(base, (h) => h !== c)), names([a, b]));
  assert.deepEqual(names(enteringBackends([a, b], cps)), [c.name]);
  assert.deepEqual(enteringBackends(cps, cps), []);
  assert.deepEqual(names(enteringBackends([a], [a, b])), [b.name]);
});

test("render and install.sh list every control plane; a plan with apiBackends lists those", () => {
  const lb = lbs[0]!;
  const cfg = (backends?: Host[]) => planFiles(planHost(base, lb, { secrets: FIXTURE_SECRETS, ...(backends ? { apiBackends: backends } : {}) })).find((f) => f.path === PATHS.haproxyCfg)!.content.toString();
  assert.deepEqual(servers(cfg()), names(cps));
  assert.deepEqual(servers(cfg(cps.slice(0, 2))), names(cps.slice(0, 2)));
});

test("apiReadyScript: bounded wait for /readyz on the address HAProxy checks", () => {
  const s = apiReadyScript(base, cps[0]!);
  assert.match(s, new RegExp(`https://${cps[0]!.internalAddress.replaceAll(".", "\\.")}:${base.kubernetes.apiServerPort}/readyz`));
  assert.match(s, /seq 1 150/);
  assert.match(s, /exit 1$/);
});

/** Facts output of a Debian host: `joined` has kubelet.conf; LB hosts run haproxy and keepalived. */
function factsOut(h: Host, joined: boolean): string {
  const lb = h.roles.includes("lb");
  const pkgs = lb ? ["haproxy", "keepalived", "socat", "curl", "ca-certificates"].map((p) => `${p} 1.0 ii `) : [];
  const units = lb ? ["haproxy active", "keepalived active"] : [];
  const files = joined ? [PATHS.kubeletConf, PATHS.adminConf] : [];
  return ["@@os", "debian 12", "@@arch", "x86_64", "@@hostname", h.name, "@@swap", "@@ipforward", "1", "@@files", ...files, "@@exists", ...files, "@@pkgs", ...pkgs, "@@units", ...units, "@@end"].join("\n");
}

function pool(joined: (h: Host) => boolean): ConnectionPool {
  const answer = (h: Host, cmd: string): RunResult =>
    cmd.startsWith("export LC_ALL=C") ? { code: 0, stdout: factsOut(h, joined(h)), stderr: "" } : cmd.startsWith("cat ") ? { code: 1, stdout: "", stderr: "No such file or directory" } : { code: 0, stdout: "", stderr: "" };
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

test("apply: a control plane joining a running cluster enters HAProxy after its join, not in the lb phase", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kubeha-backends-"));
  try {
    const cluster: Cluster = { ...base, pki: { ...base.pki, stateDir: join(dir, "state") } };
    const fresh = cps[2]!;
    const state = await ensureState(cluster);
    const data = newApplyData(cluster, state, pool((h) => h.roles.includes("control-plane") && h.name !== fresh.name));
    for (const h of cluster.hosts) data.facts.set(h.name, parseFacts(cluster, factsOut(h, h.roles.includes("control-plane") && h.name !== fresh.name)));
    const cfg = () => planFiles(data.plan(lbs[0]!)).find((f) => f.path === PATHS.haproxyCfg)!.content.toString();
    assert.deepEqual(servers(cfg()), names(cps.slice(0, 2)), "before the join: the joined control planes");
    data.facts.get(fresh.name)!.existing.add(PATHS.kubeletConf);
    assert.deepEqual(servers(cfg()), names(cps), "after it: all of them");

    const run = newApplyData(cluster, state, pool((h) => h.roles.includes("control-plane") && h.name !== fresh.name));
    const summary = await runPhases({ phases: APPLY_PHASES, data: run, hosts: cluster.hosts, dryRun: true, skip: ["preflight"] });
    const order = summary.changes.map((x) => `${x.phase} ${x.host}`);
    const joinAt = order.indexOf(`control-plane/join ${fresh.name}`);
    assert.ok(joinAt >= 0, order.join("\n"));
    for (const lb of lbs) {
      const entered = order.indexOf(`control-plane/backends ${lb.name}`);
      assert.ok(entered > joinAt, `${lb.name}: haproxy.cfg with ${fresh.name} after its join\n${order.join("\n")}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
