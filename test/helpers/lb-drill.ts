/**
 * The LB drill the e2e labs share (binary mode, Ignition): `kubeha drill --scenario
 * lb-haproxy-dies,lb-machine-down` through the CLI, and what each scenario must show: no drill
 * problem, its own checks passed, the blackout within the issue's target (checked here as well, so
 * a target quietly dropped from the scenario does not pass), the VIP moved to another machine and
 * one holder at the end. One line of figures per scenario goes to the test's output.
 */
import assert from "node:assert/strict";
import type { DrillReport, ScenarioResult } from "../../src/drill/types.ts";
import { kubehaLive } from "./cli.ts";

const SCENARIOS = ["lb-haproxy-dies", "lb-machine-down"] as const;
/** The issue's blackout targets (ms) for the two scenarios. */
const BLACKOUT_TARGET_MS: Record<(typeof SCENARIOS)[number], number> = { "lb-haproxy-dies": 1000, "lb-machine-down": 2000 };

/** Runs the drill on lab `name` and asserts the above; `where` names the lab in the figures' lines. Returns each scenario's result. */
export async function assertLbDrill(o: { clusterFile: string; name: string; cwd: string; where: string }): Promise<ScenarioResult[]> {
  const r = await kubehaLive(
    ["drill", o.clusterFile, "--lab", o.name, "--scenario", SCENARIOS.join(","), "--rate", "20", "--max-hold", "20", "-o", "json"],
    { cwd: o.cwd, timeoutMs: 8 * 60_000 },
    () => undefined,
  );
  // 0: every target met; 1: a target missed (the figures follow); anything else: the drill itself failed.
  assert.ok(r.code === 0 || r.code === 1, `drill exit ${r.code}\n${r.stderr.slice(-3000)}`);
  const report = JSON.parse(r.stdout) as DrillReport;
  const lines: string[] = [];
  const results: ScenarioResult[] = [];
  for (const n of SCENARIOS) {
    const s = report.scenarios.find((x) => x.scenario === n);
    assert.ok(s, `${n} in the report`);
    results.push(s);
    lines.push(`# ${n} ${o.where}: blackout ${s.figures.blackoutMs} ms (${s.figures.failedProbes}/${s.figures.totalProbes} probes failed), VIP moved ${s.figures.vipMovedMs} ms; ${s.checks.map((c) => `${c.name}: ${c.ok ? "ok" : "FAILED"} (${c.detail})`).join("; ")}`);
    console.log(lines.at(-1));
    assert.deepEqual(s.problems, [], `${n}: drill problems`);
    const target = BLACKOUT_TARGET_MS[n];
    assert.ok(s.checks.some((c) => c.name === `API blackout ≤ ${target} ms`), `${n}: the blackout target is checked`);
    for (const c of s.checks) assert.ok(c.ok, `${n}: ${c.name}: ${c.detail}`);
    assert.ok(s.figures.blackoutMs <= target, `${n}: blackout ${s.figures.blackoutMs} ms > ${target} ms`);
    assert.notEqual(s.figures.vipMovedMs, null, `${n}: the VIP moved`);
    assert.ok(s.vip.some((e) => e.holders.length === 1 && e.holders[0] !== s.targets[0]), `${n}: a machine other than the target took the VIP`);
    assert.equal(s.vip.at(-1)!.holders.length, 1, `${n}: one holder at the end`);
  }
  assert.equal(r.code, 0, `drill exit ${r.code} (its targets)\n${lines.join("\n")}\n${r.stderr.slice(-2000)}`);
  return results;
}
