/**
 * `kubeha upgrade` on real machines (the lab: 3 masters carrying control plane + external etcd +
 * HAProxy/keepalived, 2 workers; Kubernetes binaries are the stand-ins, whose versions come from
 * the bundle they were installed from, so every version kubeha checks is read from the hosts).
 * Applied at the lab's version, the cluster file is moved to the next minor with that version's
 * bundle; under load (API probes through the VIP at 50/s, numbered etcd writes read back) the
 * upgrade is interrupted right after the first control plane is done, and a second run finishes it
 * without repeating `kubeadm upgrade apply`: 0 failed probes, 0 writes lost, every node on the new
 * version. A third run is a no-op. The kubeadm stand-in refuses skipping a minor with kubeadm's text.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { dirname, join } from "node:path";
import { parseDocument } from "yaml";
import { labExec, type LabInfo } from "../../src/lab/index.ts";
import { loadCluster } from "../../src/spec/read.ts";
import { startLoad, loadSummary, sentFailures, type LoadFigures, type RunningLoad } from "../../src/drill/load.ts";
import { parseVersion } from "../../src/plan/upgrade.ts";
import { dropLab, freshLab } from "../helpers/e2e-lab.ts";
import { BIN, cliOutputs, kubeha } from "../helpers/cli.ts";

// Overridable so that parallel runs on one machine use their own lab name and subnet.
const NAME = process.env.KUBEHA_E2E_UPGRADE_LAB ?? "kt-upgrade";
const SUBNET = process.env.KUBEHA_E2E_UPGRADE_SUBNET ?? "198.19.237.0/24";
let lab: LabInfo;
let cwd: string;
let from: string;
let target: string;

interface Versions {
  host: string;
  controlPlane: boolean;
  apiserver?: string;
  kubelet?: string;
  kubeadm?: string;
}

/**
 * The stand-in bundle of another version, as a user ships one bundle per version: the same files
 * with the version the stand-ins report (lib/VERSION) and the manifest's kubernetesVersion.
 */
function bundleOf(src: string, dest: string, version: string): void {
  cpSync(src, dest, { recursive: true });
  const vfile = join(dest, "lib/VERSION");
  writeFileSync(vfile, readFileSync(vfile, "utf8").replace(/^\d+\.\d+\.\d+$/m, version));
  const m = JSON.parse(readFileSync(join(dest, "kubeha-bundle.json"), "utf8")) as { kubernetesVersion: string };
  m.kubernetesVersion = version;
  writeFileSync(join(dest, "kubeha-bundle.json"), JSON.stringify(m, null, 2) + "\n");
}

/** The upgrade as a child process; `onLine` sees each stderr line and may kill it. */
function upgradeRun(onLine: (line: string, kill: () => void) => void = () => {}): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "upgrade", lab.clusterFile, "--to", target, "-o", "json"], { cwd, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    const timer = setTimeout(() => child.kill("SIGKILL"), 10 * 60_000);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    createInterface({ input: child.stderr }).on("line", (line) => {
      stderr += line + "\n";
      onLine(line, () => child.kill("SIGTERM"));
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      setImmediate(() => {
        cliOutputs.push(stdout, stderr);
        resolve({ code, signal, stdout, stderr });
      });
    });
  });
}

const at = (v: string | undefined) => parseVersion(v) && `${parseVersion(v)!.major}.${parseVersion(v)!.minor}.${parseVersion(v)!.patch}`;

before(async () => {
  ({ lab, cwd } = await freshLab({ name: NAME, subnet: SUBNET, masters: 3, workers: 2, apply: true }));
  const doc = parseDocument(readFileSync(lab.clusterFile, "utf8"));
  from = String(doc.getIn(["spec", "kubernetes", "version"]));
  const v = parseVersion(from)!;
  target = `${v.major}.${v.minor + 1}.0`;
  const dir = dirname(lab.clusterFile);
  bundleOf(join(dir, String(doc.getIn(["spec", "packages", "bundle"]))), join(dir, `bundle-${target}`), target);
  doc.setIn(["spec", "kubernetes", "version"], target);
  doc.setIn(["spec", "packages", "bundle"], `./bundle-${target}`);
  writeFileSync(lab.clusterFile, doc.toString());
});

after(() => dropLab(NAME, cwd));

test("--to must equal the cluster file's version; a dry run changes nothing and plans apply on the first control plane", () => {
  const wrong = kubeha(["upgrade", lab.clusterFile, "--to", from], { cwd });
  assert.equal(wrong.code, 2, wrong.stderr);
  assert.match(wrong.stderr, new RegExp(`--to ${from.replace(/\./g, "\\.")} differs from the cluster file's version ${target.replace(/\./g, "\\.")}`));
  const dry = kubeha(["upgrade", lab.clusterFile, "--to", target, "--dry-run"], { cwd, timeoutMs: 120_000 });
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, new RegExp(`master1 \\(first-control-plane\\): .*kubeadm upgrade apply v${target.replace(/\./g, "\\.")} -y`));
  assert.match(dry.stdout, /worker2 \(worker, batch 2\)/);
  assert.doesNotMatch(dry.stderr, /upgrade: /, "a dry run reports no progress: it changes nothing");
});

let load: RunningLoad;
let figures: LoadFigures;

test("under load: interrupted after the first control plane, a second run finishes without repeating upgrade apply", async () => {
  const { cluster } = await loadCluster(lab.clusterFile);
  // The same load for 15 s with nothing happening: what this machine gives without the upgrade.
  const quiet = await startLoad(cluster);
  await new Promise((res) => setTimeout(res, 15_000));
  const baseline = await quiet.stop();
  process.stderr.write(`# baseline, no upgrade running: ${loadSummary(baseline)}\n`);
  load = await startLoad(cluster);
  const t0 = Date.now();
  const first = await upgradeRun((line, kill) => {
    if (line === `upgrade: master1: done, at ${target}`) kill();
  });
  assert.equal(first.signal ?? first.code, first.signal ? "SIGTERM" : 143, `the first run was stopped by SIGTERM\n${first.stderr}`);
  assert.match(first.stderr, new RegExp(`upgrade: master1: kubeadm upgrade apply v${target.replace(/\./g, "\\.")} -y`));
  assert.doesNotMatch(first.stderr, /upgrade: master2: kubeadm upgrade node/, "stopped before master2's control plane");

  const second = await upgradeRun();
  const secondMs = Date.now() - t0;
  figures = await load.stop();
  process.stderr.write(`# upgrade ${from} -> ${target} (interrupted + resumed, ${(secondMs / 1000).toFixed(0)} s): ${loadSummary(figures)}\n`);
  assert.equal(second.code, 0, second.stderr);
  assert.doesNotMatch(second.stderr, /kubeadm upgrade (plan|apply)/, "upgrade apply is never repeated");
  for (const m of ["master2", "master3"]) assert.match(second.stderr, new RegExp(`upgrade: ${m}: kubeadm upgrade node`));
  assert.match(second.stderr, /upgrade: master2: drain master2 on HAProxy \(master1, master2, master3\)/);
  assert.match(second.stderr, /upgrade: master1: drain node worker1/);
  assert.doesNotMatch(second.stderr, /upgrade: master1: (drain node master1|restart kubelet)/, "master1 was done");

  const out = JSON.parse(second.stdout) as { before: Versions[]; after: Versions[] };
  // The second run started from what the hosts ran: master1 at the target, the rest not.
  const b = new Map(out.before.map((n) => [n.host, n]));
  assert.equal(at(b.get("master1")!.apiserver), target);
  assert.equal(at(b.get("master2")!.apiserver), from);
  for (const n of out.after) {
    assert.equal(at(n.kubelet), target, `${n.host} kubelet`);
    assert.equal(at(n.kubeadm), target, `${n.host} kubeadm`);
    if (n.controlPlane) assert.equal(at(n.apiserver), target, `${n.host} kube-apiserver`);
  }
  assert.equal(out.after.length, 5);

  assert.deepEqual(sentFailures(figures).map((x) => `t=${Math.round(x.t)} ${x.error}`), [], `probes sent and failed: ${loadSummary(figures)} (baseline without the upgrade: ${loadSummary(baseline)})`);
  assert.ok(figures.probes > 1000, `the load ran (${figures.probes} probes)`);
  assert.ok(figures.etcd && figures.etcd.acked > 100, "etcd writes were acknowledged");
  assert.deepEqual(figures.etcd!.lost, [], "no acknowledged etcd write lost");
});

test("every API server is back in HAProxy's rotation (none left drained)", async () => {
  for (const m of ["master1", "master2", "master3"]) {
    const r = await labExec(NAME, m, ["sh", "-c", "echo 'show servers state kube-apiserver' | socat stdio /run/haproxy/admin.sock"]);
    // show servers state: column 7 is srv_admin_state (0 = ready; 8 = drain set by the runtime socket).
    const rows = r.stdout.split("\n").filter((l) => /^\d+ kube-apiserver /.test(l)).map((l) => l.split(" "));
    assert.equal(rows.length, 3, r.stdout);
    for (const row of rows) assert.equal(row[6], "0", `${m}: server ${row[3]} admin state ${row[6]}`);
  }
});

test("a second run is a no-op, and the cluster is healthy", () => {
  const again = kubeha(["upgrade", lab.clusterFile, "--to", target], { cwd, timeoutMs: 120_000 });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout.trim(), `nothing to do: every node runs ${target}`);
  assert.doesNotMatch(again.stderr, /upgrade: /);
  const s = kubeha(["status", lab.clusterFile, "-o", "json"], { cwd, timeoutMs: 90_000 });
  assert.equal(s.code, 0, s.stdout + s.stderr);
});

test("the kubeadm stand-in refuses skipping a minor with kubeadm's texts", async () => {
  const v = parseVersion(target)!;
  const skip = `v${v.major}.${v.minor + 2}.0`;
  const r = await labExec(NAME, "master1", ["kubeadm", "upgrade", "apply", skip, "-y"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, new RegExp(`Specified version to upgrade to "${skip.replace(/\./g, "\\.")}" is too high; kubeadm can upgrade only 1 minor version at a time`));
  assert.match(r.stderr, new RegExp(`at least one minor release higher than the kubeadm minor release \\(${v.minor + 2} > ${v.minor}\\)`));
});
