/**
 * Benchmark (not a test): apply on lab machines. Prints the first apply time and the no-op
 * re-apply time for a 5-machine lab, the no-op re-apply for a 20-machine lab, and SSH round trips
 * per host in a no-op run. Targets: no-op re-apply <= 2 s for 5 machines, <= 5 s for 50.
 *   sudo node --import tsx bench/apply.ts [--big 20]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { labDown, labUp } from "../src/lab/index.ts";
import { loadCluster } from "../src/spec/read.ts";
import { apply } from "../src/apply.ts";
import { REPO } from "../test/helpers/cli.ts";

const { values } = parseArgs({ options: { big: { type: "string", default: "20" } } });

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
    const noop = await apply(cluster);
    const noopMs = Date.now() - t;
    const trips = noop.roundTrips.map((r) => r.roundTrips);
    console.log(
      `${masters + workers} machines: ${firstApply ? `first apply ${(firstMs / 1000).toFixed(1)} s (${first.changes.length} changes), ` : ""}` +
        `no-op re-apply ${(noopMs / 1000).toFixed(2)} s (${noop.changes.length} changes), ` +
        `SSH round trips per host in the no-op run: min ${Math.min(...trips)} max ${Math.max(...trips)}`,
    );
  } finally {
    await labDown(name);
    rmSync(cwd, { recursive: true, force: true });
  }
}

await run("kb-apply5", "198.19.248.0/24", 3, 2, true);
const big = Number(values.big);
await run(`kb-apply${big}`, "198.19.247.0/24", 3, big - 3, true);
