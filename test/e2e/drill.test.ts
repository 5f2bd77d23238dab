/**
 * `kubeha drill` on real machines: a 3-master lab (control plane + external etcd + HAProxy and
 * keepalived on each; Kubernetes binaries are the stand-ins), a short drill (20 probes/s) of the
 * LB, apiserver, etcd and partition scenarios. Asserted: the VIP moved away from the faulted
 * holder, every scenario ends healthy, etcd writes failed during quorum loss yet every acknowledged
 * write was read back, the partition showed two holders and `status` named the split brain, a
 * SIGKILLed keepalived never left two VIP holders (kubeha's drop-in removes the VIP at once),
 * `kubeha status` exits non-zero while a fault is injected and zero after, and the HTML report
 * renders in Chromium. The controller-manager and scheduler stand-ins run as kubeadm's static pods:
 * `status` names their leaders, and stopping the controller-manager leader moves its Lease to
 * another master, which took it only once the Lease had expired. Timings are benchmark figures
 * (bench/drill.ts), not asserted here.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LabInfo } from "../../src/lab/index.ts";
import { LEADER_ELECTION } from "../../src/probe/leaders.ts";
import { useSharedLab } from "../helpers/e2e-lab.ts";
import { kubeha, kubehaLive, REPO, untilOk, type CliResult } from "../helpers/cli.ts";
import type { DrillReport, ScenarioResult } from "../../src/drill/types.ts";
import type { StatusReport } from "../../src/probe/status.ts";
import { takeoverGap } from "../../src/drill/leader.ts";

let lab: LabInfo;
let cwd: string;

// The lab several e2e files share within one test run (test/helpers/e2e-lab.ts).
const NAME = useSharedLab((shared) => {
  ({ lab, cwd } = shared);
});

test("a short drill: VIP moves, faults are seen by status, no acknowledged etcd write is lost, report renders", async () => {
  const html = join(cwd, "out", "drill.html");
  // Both leaders, each on one of the masters (kubeadm's static pods, run by the kubelet stand-in).
  // The file before this one on the shared lab (certs-renew) restarts every scheduler and
  // controller-manager: a Lease whose holder stopped without releasing it is taken over only after
  // its duration and a retry, so wait (bounded) for both to be held again.
  const wait = (LEADER_ELECTION.lease + 2 * LEADER_ELECTION.retry * LEADER_ELECTION.jitter) * 1000 + 30_000;
  const settled = (r: CliResult) => r.code === 0 && !(JSON.parse(r.stdout) as StatusReport).leaders.some((l) => l.leaderless);
  const before = await untilOk(() => kubeha(["status", lab.clusterFile, "-o", "json"], { cwd, timeoutMs: 60_000 }), wait / 1000, settled);
  assert.equal(before.code, 0, before.stdout + before.stderr);
  const leaders = (JSON.parse(before.stdout) as StatusReport).leaders;
  assert.deepEqual(leaders.map((l) => [l.component, l.leaderless]), [["kube-controller-manager", false], ["kube-scheduler", false]]);
  for (const l of leaders) assert.ok(["master1", "master2", "master3"].includes(l.host ?? ""), `${l.component} led by ${l.holder}`);
  assert.match(kubeha(["status", lab.clusterFile], { cwd, timeoutMs: 60_000 }).stdout, /COMPONENT\s+LEADER\s+HELD FOR[\s\S]*kube-controller-manager\s+master\d/);
  const statusDuring: number[] = [];
  const r = await kubehaLive(
    [
      "drill", lab.clusterFile,
      "--lab", NAME,
      "--scenario", "lb-haproxy-dies,lb-keepalived-crash,apiserver-down,etcd-quorum-loss",
      "--scenario", "lb-machine-down",
      "--scenario", "lb-partition",
      "--scenario", "controller-manager-leader-down",
      "--rate", "20",
      "--max-hold", "20",
      "--report", html,
    ],
    { cwd, timeoutMs: 15 * 60_000 },
    (line) => {
      // While apiserver-down's fault is held (6 s), `kubeha status` must say degraded.
      if (/^apiserver-down \[kubeha\]: fault:/.test(line)) {
        const s = kubeha(["status", lab.clusterFile], { cwd, timeoutMs: 60_000 });
        statusDuring.push(s.code);
      }
    },
  );
  assert.ok(r.code === 0 || r.code === 1, `drill exit ${r.code}\n${r.stderr}`);
  assert.match(r.stderr, /STAND-INS/, "the drill says the control plane is stand-ins");
  assert.deepEqual(statusDuring, [1], "status exits 1 while the apiserver is down");
  const after = kubeha(["status", lab.clusterFile], { cwd, timeoutMs: 60_000 });
  assert.equal(after.code, 0, `status exits 0 after the drill:\n${after.stdout}${after.stderr}\n--- drill ---\n${r.stderr.split("\n").slice(-40).join("\n")}`);

  const report = JSON.parse(readFileSync(join(cwd, "out", "drill.json"), "utf8")) as DrillReport;
  assert.match(report.standIn ?? "", /stand-in/i);
  const by = (n: string): ScenarioResult => {
    const s = report.scenarios.find((x) => x.scenario === n);
    assert.ok(s, `scenario ${n} in the report`);
    return s;
  };
  for (const s of report.scenarios) {
    assert.deepEqual(s.problems, [], `${s.scenario}: drill problems`);
    assert.ok(s.figures.totalProbes > 50, `${s.scenario}: probes ran (${s.figures.totalProbes})`);
    assert.notEqual(s.figures.healthyAfterMs, null, `${s.scenario}: healthy again after the restore`);
    assert.equal(s.figures.etcdLost, 0, `${s.scenario}: acknowledged etcd writes lost`);
    assert.ok(s.figures.etcdAcked > 0, `${s.scenario}: etcd writes were acknowledged`);
    // systemd restarts a crashed keepalived within 0.5 s: status may rightly find it healthy again;
    // a stopped controller-manager leader's Lease looks held until it expires, then another holds it.
    if (s.scenario !== "lb-keepalived-crash" && s.scenario !== "controller-manager-leader-down") {
      assert.ok(s.marks.some((m) => m.kind === "note" && /status during the fault: degraded/.test(m.label)), `${s.scenario}: status saw the fault`);
    }
  }
  // keepalived SIGKILLed on the holder: its VIP is removed by systemd (ExecStopPost=) before a
  // backup takes over, so no sample of the holder set (every address change on every LB host) has two.
  const k = by("lb-keepalived-crash");
  const crowded = k.vip.filter((e) => e.holders.length > 1);
  assert.deepEqual(crowded, [], "lb-keepalived-crash: at most one VIP holder at every sampled moment");
  assert.equal(k.figures.splitBrainMs, 0);
  assert.ok(k.vip.some((e) => e.holders.length === 0 || e.holders[0] !== k.targets[0]), "lb-keepalived-crash: the dead holder lost the VIP");
  assert.ok(k.checks.every((c) => c.ok), `lb-keepalived-crash checks: ${JSON.stringify(k.checks)}`);
  for (const n of ["lb-haproxy-dies", "lb-machine-down"]) {
    const s = by(n);
    assert.notEqual(s.figures.vipMovedMs, null, `${n}: the VIP moved`);
    const [target] = s.targets;
    const last = s.vip[s.vip.length - 1]!;
    assert.equal(last.holders.length, 1, `${n}: one holder at the end`);
    assert.ok(s.vip.some((e) => e.holders.length === 1 && e.holders[0] !== target), `${n}: a machine other than ${target} took the VIP`);
  }
  const q = by("etcd-quorum-loss");
  assert.ok(q.figures.etcdFailed > 0, "writes failed while quorum was lost");
  assert.ok(q.checks.find((c) => /writes failed/.test(c.name))?.ok);
  const p = by("lb-partition");
  assert.ok(p.figures.splitBrainMs > 0, "two VIP holders during the partition");
  assert.ok(p.checks.find((c) => /status/.test(c.name))?.ok, "status reported the split brain");
  assert.equal(p.vip[p.vip.length - 1]!.holders.length, 1, "one holder after healing");
  assert.equal(by("apiserver-down").figures.vipMovedMs, null, "apiserver-down does not move the VIP");
  const cm = by("controller-manager-leader-down");
  assert.equal(cm.lease?.before, cm.targets[0]);
  assert.notEqual(cm.figures.leaderMovedMs ?? null, null, "another master took the controller-manager Lease");
  const taken = cm.lease!.samples.find((x) => x.host !== "" && x.host !== cm.targets[0]);
  assert.ok(taken && ["master1", "master2", "master3"].includes(taken.host), `new holder ${taken?.holder}`);
  const gap = takeoverGap(cm.lease!.samples, cm.targets[0]!);
  assert.ok(gap !== null && gap >= 15_000, `the new leader waited for the Lease to expire: acquired ${gap} ms after the last renewal seen`);

  // The text summary and the HTML report.
  assert.match(r.stdout, /SCENARIO\s+PROFILE\s+BLACKOUT ms/);
  assert.ok(existsSync(html));
  mkdirSync(join(REPO, "test-output"), { recursive: true });
  writeFileSync(join(REPO, "test-output", "drill-e2e.txt"), r.stdout + "\n" + r.stderr);
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`file://${html}`);
    const boxes = await page.$$eval("svg", (els) => els.map((e) => e.getBoundingClientRect().width * e.getBoundingClientRect().height));
    assert.ok(boxes.filter((a) => a > 0).length >= report.scenarios.length, "one drawn chart per scenario");
    assert.match(await page.title(), /stand-in/i);
    await page.screenshot({ path: join(REPO, "test-output", "drill-e2e.png"), fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
