/**
 * Benchmark (not a test): a full drill on a 3-master lab (HAProxy + keepalived + external etcd on
 * each master; Kubernetes binaries are the stand-ins), optionally with the seeds' configurations
 * on the same machines, and the figures the issue's targets are about:
 *   lb-haproxy-dies blackout <= 1.0 s, apiserver-down 0 failed probes, lb-machine-down blackout
 *   <= 2.0 s, lb-keepalived-crash two holders no longer than the restart delay, 0 acked writes lost.
 *   sudo node --import tsx bench/drill.ts [--compare] [--runs N] [--scenario NAME ...] [--keep]
 * Writes test-output/bench-drill.html (+ .json) and prints the text summary of every run, then
 * the median of each figure per scenario and profile over the runs.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { labDown, labUp } from "../src/lab/index.ts";
import { loadCluster } from "../src/spec/read.ts";
import { apply } from "../src/apply.ts";
import { drill } from "../src/drill/run.ts";
import { labMachines } from "../src/drill/machines.ts";
import { parseScenarios } from "../src/drill/scenarios.ts";
import { renderDrillSummary } from "../src/drill/summary.ts";
import { reportFiles } from "../src/drill/report-html.ts";
import { PROFILES, SCENARIOS, type DrillReport, type ProfileName } from "../src/drill/types.ts";
import { REPO } from "../test/helpers/cli.ts";

const { values } = parseArgs({
  options: { compare: { type: "boolean" }, runs: { type: "string", default: "1" }, scenario: { type: "string", multiple: true }, keep: { type: "boolean" } },
});
const NAME = "kb-drill";
const scenarios = parseScenarios(values.scenario ?? [], SCENARIOS);
const profiles: ProfileName[] = values.compare ? [...PROFILES] : ["kubeha"];
const cwd = mkdtempSync(join(tmpdir(), "kubeha-bench-drill-"));
const out = join(REPO, "test-output");
mkdirSync(out, { recursive: true });
await labDown(NAME);
const reports: DrillReport[] = [];
try {
  const lab = await labUp({ name: NAME, subnet: "198.19.244.0/24", masters: 3, workers: 0, cwd, bundle: join(REPO, "test/standins/bundle") });
  const { cluster } = await loadCluster(lab.clusterFile);
  await apply(cluster);
  const machines = await labMachines(NAME, cluster.hosts);
  for (let i = 1; i <= Number(values.runs); i++) {
    const t = Date.now();
    const r = await drill(cluster, { scenarios, profiles, machines, progress: (s) => console.error(`  ${s}`) });
    reports.push(r);
    console.log(`run ${i} (${((Date.now() - t) / 1000).toFixed(0)} s):\n${renderDrillSummary(r)}\n`);
    for (const f of reportFiles(r, join(out, i === 1 ? "bench-drill.html" : `bench-drill-${i}.html`))) writeFileSync(f.path, f.content);
  }
} finally {
  if (!values.keep) await labDown(NAME);
  rmSync(cwd, { recursive: true, force: true });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : NaN;
};
if (reports.length > 1) {
  console.log(`medians over ${reports.length} runs (min-max):`);
  for (const p of profiles) {
    for (const sc of scenarios) {
      const rs = reports.flatMap((r) => r.scenarios.filter((s) => s.scenario === sc && s.profile === p));
      const fig = (k: "blackoutMs" | "failedProbes" | "vipMovedMs" | "splitBrainMs" | "etcdLost") => {
        const xs = rs.map((s) => s.figures[k]).filter((x): x is number => x !== null);
        return xs.length ? `${median(xs)} (${Math.min(...xs)}-${Math.max(...xs)})` : "-";
      };
      console.log(`  ${sc} [${p}]: blackout ${fig("blackoutMs")} ms, failed ${fig("failedProbes")}, VIP moved ${fig("vipMovedMs")} ms, two holders ${fig("splitBrainMs")} ms, etcd lost ${fig("etcdLost")}`);
    }
  }
}
