/**
 * The per-host plan's two executors agree: for every example and fixture, `kubeha apply`'s dry run
 * against fresh hosts (nothing installed, nothing written) and each host's install.sh name the
 * same files, the same packages and the same actions. Cluster-level actions apply takes between
 * hosts (bootstrap token, certificate upload, etcd member add) are the only difference allowed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FIXTURE_SECRETS, clustersUnderTest } from "../render/helpers.ts";
import { ensureState } from "../../src/pki/index.ts";
import { pkiFilesForHost } from "../../src/pki/index.ts";
import { renderCluster } from "../../src/render/index.ts";
import { runPhases } from "../../src/phases/runner.ts";
import { APPLY_PHASES } from "../../src/phases/apply.ts";
import { newApplyData } from "../../src/phases/data.ts";
import { CLUSTER_ACTIONS, checkedPaths, planHost } from "../../src/plan/host.ts";
import { GUARDED_FILES, WATCHED_UNITS } from "../../src/probe/facts.ts";
import type { ConnectionPool } from "../../src/exec/pool.ts";
import type { RunResult, Transport } from "../../src/exec/transport.ts";
import type { Cluster, Host } from "../../src/spec/model.ts";

/** A host as a fresh Debian machine answers: nothing installed, no kubeha file, swap on. */
const FRESH_FACTS = ["@@os", "debian 12", "@@arch", "x86_64", "@@hostname", "localhost", "@@swap", "/swapfile file 1024 0 -2", "@@ipforward", "0", "@@end"].join("\n");

function freshTransport(h: Host): Transport {
  let trips = 0;
  const answer = (cmd: string): RunResult => {
    trips++;
    if (cmd.startsWith("export LC_ALL=C")) return { code: 0, stdout: FRESH_FACTS, stderr: "" };
    if (cmd.startsWith("cat ")) return { code: 1, stdout: "", stderr: "No such file or directory" };
    // A read-only question to a cluster that does not exist yet (a step's `unless` check).
    if (/^(test "\$\()?kubectl /.test(cmd)) return { code: 1, stdout: "", stderr: "The connection to the server was refused" };
    return { code: 0, stdout: "", stderr: "" };
  };
  return {
    host: h.name,
    get roundTrips() {
      return trips;
    },
    run: async (cmd) => answer(cmd),
    mustRun: async (cmd) => answer(cmd),
    put: async () => {},
    putMany: async () => {},
    hashes: async (paths) => new Map(paths.map((p) => [p, undefined])),
    close: async () => {},
  };
}

function freshPool(): ConnectionPool {
  const ts = new Map<string, Transport>();
  return { get: async (h: Host) => ts.get(h.name) ?? ts.set(h.name, freshTransport(h)).get(h.name)! } as unknown as ConnectionPool;
}

interface Actions {
  files: string[];
  packages: string[];
  actions: string[];
}

const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();

/** One shell word as `shq` wrote it. */
function unquote(word: string): string {
  return word.startsWith("'") ? word.slice(1, -1).replaceAll("'\\''", "'") : word;
}

/** What install.sh does: `place` lines, `apt_install` lines, `step '...'` lines. */
function scriptActions(script: string, waits: Set<string>): Actions {
  const files: string[] = [];
  const packages: string[] = [];
  const actions: string[] = [];
  for (const line of script.split("\n").map((l) => l.trim())) {
    let m = /^place (\S+) /.exec(line);
    if (m) files.push(m[1]!.replace(/^'(.*)'$/, "$1"));
    m = /^apt_install (.+)$/.exec(line);
    if (m) packages.push(...m[1]!.split(" "));
    m = /^step (.+)$/.exec(line);
    // apt_install's own step line is a shell expansion; its packages are compared above.
    const name = m && !m[1]!.startsWith("\"") ? unquote(m[1]!) : undefined;
    if (name !== undefined && !waits.has(name)) actions.push(name === "install the offline bundle" ? "bundle" : name);
  }
  return { files: sorted(files), packages: sorted(packages), actions: sorted(actions) };
}

/** What apply's dry run recorded for one host. */
function applyActions(changes: Array<{ host: string; message: string }>, host: string, bundleDests: Set<string>): Actions {
  const files: string[] = [];
  const packages: string[] = [];
  const actions: string[] = [];
  for (const { message } of changes.filter((c) => c.host === host)) {
    let m = /^write (\S+) \(/.exec(message);
    if (m) {
      if (bundleDests.has(m[1]!)) actions.push("bundle");
      else files.push(m[1]!);
      continue;
    }
    m = /^apt-get install (.+)$/.exec(message);
    if (m) {
      packages.push(...m[1]!.split(" "));
      continue;
    }
    // Unit handling after files (reload systemd, restart, start) is the files step's own work.
    if (/^(reload systemd|apply sysctl settings|set owners|reload or restart|start |enable units|stop .* until configured)/.test(message)) continue;
    if (CLUSTER_ACTIONS.some((r) => r.test(message))) continue;
    actions.push(message);
  }
  return { files: sorted(files), packages: sorted(packages), actions: sorted(actions) };
}

/** An offline bundle of one file for `c`'s version (bundle clusters). */
function tinyBundle(dir: string, c: Cluster): { path: string; dests: Set<string> } {
  const path = join(dir, "bundle");
  mkdirSync(join(path, "bin"), { recursive: true });
  writeFileSync(join(path, "bin", "kubeadm"), "#!/bin/sh\n");
  writeFileSync(join(path, "kubeha-bundle.json"), JSON.stringify({ kubernetesVersion: c.kubernetes.version, files: [{ src: "bin/kubeadm", dest: "/usr/bin/kubeadm", mode: "0755" }], enable: ["kubelet"] }));
  return { path, dests: new Set(["/usr/bin/kubeadm"]) };
}

for (const { name, cluster: base } of clustersUnderTest()) {
  test(`${name}: apply's dry run on fresh hosts and install.sh do the same per host`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "kubeha-plan-"));
    try {
      const bundle = base.packages.source === "bundle" ? tinyBundle(dir, base) : undefined;
      const cluster: Cluster = {
        ...base,
        pki: { ...base.pki, stateDir: join(dir, "state") },
        packages: { ...base.packages, ...(bundle ? { bundle: bundle.path } : {}) },
      };
      const state = await ensureState(cluster);
      const data = newApplyData(cluster, state, freshPool());
      const summary = await runPhases({ phases: APPLY_PHASES, data, hosts: cluster.hosts, dryRun: true, skip: ["preflight"] });
      const renders = renderCluster(cluster, state.secrets, { pkiFiles: (h) => pkiFilesForHost(cluster, state, h) });
      for (const h of cluster.hosts) {
        const steps = planHost(cluster, h, { secrets: state.secrets, pkiFiles: (n) => pkiFilesForHost(cluster, state, n) });
        const waits = new Set(steps.flatMap((s) => (s.kind === "wait" ? [s.description] : [])));
        const script = renders.find((r) => r.host === h.name)!.installScript;
        const fromScript = scriptActions(script, waits);
        const fromApply = applyActions(summary.changes, h.name, bundle?.dests ?? new Set());
        assert.deepEqual(fromApply.files, fromScript.files, `${h.name}: files`);
        assert.deepEqual(fromApply.packages, fromScript.packages, `${h.name}: packages`);
        assert.deepEqual(fromApply.actions, fromScript.actions, `${h.name}: actions`);
        assert.ok(fromScript.files.length > 0, `${h.name}: the plan places files`);
        // Every guard the plan asks is answered by the facts round trip.
        for (const p of checkedPaths(steps)) assert.ok((GUARDED_FILES as readonly string[]).includes(p), `facts do not gather ${p}`);
        // ...and every unit it ensures is one whose state they report (else a second run starts it again).
        for (const s of steps) if (s.kind === "files") for (const u of s.ensure) assert.ok((WATCHED_UNITS as readonly string[]).includes(u.replace(/\.service$/, "")), `facts do not report unit ${u}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("a host whose facts show it done has nothing left in its plan's guarded steps", async () => {
  const { cluster: base } = clustersUnderTest().find((x) => x.name === "seed-002-colocated-16443")!;
  const dir = mkdtempSync(join(tmpdir(), "kubeha-plan-"));
  try {
    const cluster: Cluster = { ...base, pki: { ...base.pki, stateDir: join(dir, "state") } };
    const state = await ensureState(cluster);
    const data = newApplyData(cluster, state, freshPool());
    const summary = await runPhases({ phases: APPLY_PHASES, data, hosts: cluster.hosts, dryRun: true, skip: ["preflight"] });
    const init = summary.changes.filter((c) => c.message === "kubeadm init --upload-certs");
    assert.equal(init.length, 1, "kubeadm init once, on the first control plane");
    const joins = summary.changes.filter((c) => c.message.startsWith("kubeadm join"));
    assert.equal(joins.length, cluster.hosts.filter((h) => h.roles.includes("control-plane") || h.roles.includes("worker")).length - 1);
    // The dry run marks a guarded step done once it "ran": the CNI still follows init.
    assert.ok(summary.changes.some((c) => c.phase === "cni"), "the pod network is planned");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bootstrap binary: the host plan has kubeha's units instead of kubeadm steps, never a kubeadm file", () => {
  const { cluster } = clustersUnderTest().find((x) => x.name === "seed-001-external-etcd-2lbs")!;
  const binary: Cluster = { ...cluster, bootstrap: "binary" };
  for (const h of binary.hosts.filter((x) => x.roles.includes("control-plane") || x.roles.includes("worker"))) {
    const steps = planHost(binary, h, { secrets: FIXTURE_SECRETS });
    for (const s of steps) {
      if (s.kind === "run") assert.doesNotMatch(s.script, /kubeadm/, `${h.name}: ${s.description}`);
      if (s.kind === "files") for (const f of s.files) assert.ok(!f.path.startsWith("/etc/kubeha/kubeadm/"), `${h.name}: ${f.path}`);
    }
    assert.ok(steps.some((s) => s.kind === "files" && s.ensure.includes("kubelet") && s.ensure.includes("kube-proxy")), h.name);
  }
});
