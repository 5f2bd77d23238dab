/**
 * Benchmark (not a test): apply on lab machines. Prints the first apply time and the no-op
 * re-apply time for a 5-machine lab, the no-op re-apply for a 20-machine lab, and SSH round trips
 * per host in a no-op run. Targets: no-op re-apply <= 2 s for 5 machines, <= 5 s for 50.
 *   sudo node --import tsx bench/apply.ts [--big 20]      (--big 50: the 50-machine target)
 * Also prints, for each no-op run, how long each top-level phase took and its slowest host.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { labDown, labUp } from "../src/lab/index.ts";
import { loadCluster } from "../src/spec/read.ts";
import { apply } from "../src/apply.ts";
import { REPO } from "../test/helpers/cli.ts";
import { Reporter, record } from "../src/report/events.ts";
import { benchArgs } from "./args.ts";

const { values } = benchArgs(import.meta.url, { big: { type: "string", default: "20" } });

async function run(name: string, subnet: string, masters: number, workers: number, firstApply: boolean) {
  await labDown(name);
  const cwd = mkdtempSync(join(tmpdir(), "kubeha-bench-"));
  try {
    const lab = await labUp({ name, subnet, masters, workers, cwd, bundle: join(REPO, "test/standins/bundle") });
    const { cluster } = await loadCluster(lab.clusterFile);
    let t = Date.now();
    const first = await apply(cluster);
    const firstMs = Date.now() - t;
    t = Date.now();
    const reporter = new Reporter();
    const events = record(reporter);
    // Wall-clock marks of the run's own start and end: what lies outside is loading the PKI,
    // connecting and locking every host (before), releasing the locks and closing (after).
    const marks: Record<string, number> = {};
    reporter.on((e) => {
      if (e.type === "run-start" || e.type === "run-done") marks[e.type] = Date.now();
    });
    const noop = await apply(cluster, { reporter });
    const noopMs = Date.now() - t;
    const outside = `before the phases ${marks["run-start"]! - t} ms (PKI, connect, lock), after ${Date.now() - marks["run-done"]!} ms (unlock, close)`;
    const trips = noop.roundTrips.map((r) => r.roundTrips);
    console.log(
      `${masters + workers} machines: ${firstApply ? `first apply ${(firstMs / 1000).toFixed(1)} s (${first.changes.length} changes), ` : ""}` +
        `no-op re-apply ${(noopMs / 1000).toFixed(2)} s (${noop.changes.length} changes), ` +
        `SSH round trips per host in the no-op run: min ${Math.min(...trips)} max ${Math.max(...trips)}`,
    );
    // Where the no-op time goes: each top-level phase, and its slowest host.
    const slowest = new Map<string, { host: string; ms: number }>();
    for (const e of events) {
      if (e.type !== "phase-done" || !e.host) continue;
      const top = e.phase.split("/")[0]!;
      if ((slowest.get(top)?.ms ?? -1) < e.durationMs) slowest.set(top, { host: e.host, ms: e.durationMs });
    }
    const phases = events.flatMap((e) => (e.type === "phase-done" && !e.host && !e.phase.includes("/") ? [e] : []));
    console.log(`  no-op phases: ${phases.map((p) => `${p.phase} ${p.durationMs} ms${slowest.has(p.phase) ? ` (slowest ${slowest.get(p.phase)!.host} ${slowest.get(p.phase)!.ms})` : ""}`).join(", ")}; ${outside}`);
  } finally {
    await labDown(name);
    rmSync(cwd, { recursive: true, force: true });
  }
}

const big = Number(values.big);
if (!Number.isInteger(big) || big < 4 || big > 200) throw new Error(`--big must be a whole number from 4 to 200 (machines in one /24), got ${values.big}`);
// `lab up` raises the host's inotify instance limit itself when 50+ machines need it.
await run("kb-apply5", "198.19.248.0/24", 3, 2, true);
await run(`kb-apply${big}`, "198.19.247.0/24", 3, big - 3, true);
