/**
 * `--compare seeds`: the same figure for kubeha's configuration and each seed's, and the ratio.
 * Pure. A ratio is seed / kubeha, so "8.7" reads "the seed's blackout was 8.7 times kubeha's".
 * With several runs (`--runs N`) each side is the p50 (nearest rank) of its runs.
 */
import { DISTRIBUTED_FIGURES, distribution } from "./stats.ts";
import type { ComparisonRow, DistributionRow, ProfileName, ScenarioName, ScenarioResult } from "./types.ts";

const FIGURES: ComparisonRow["figure"][] = ["blackoutMs", "failedProbes", "vipMovedMs", "splitBrainMs", "healthyAfterMs"];

/** One row per scenario × seed profile × figure, for scenarios that ran with both. */
export function comparisonRows(results: readonly ScenarioResult[]): ComparisonRow[] {
  const rows: ComparisonRow[] = [];
  const ranResults = results.filter(ran);
  const p50 = (scenario: ScenarioName, profile: ProfileName, figure: ComparisonRow["figure"]): number | null =>
    distribution(ranResults.filter((r) => r.scenario === scenario && r.profile === profile).map((r) => r.figures[figure]))?.p50 ?? null;
  for (const scenario of unique(ranResults.filter((r) => r.profile === "kubeha").map((r) => r.scenario))) {
    for (const profile of unique(ranResults.filter((r) => r.scenario === scenario && r.profile !== "kubeha").map((r) => r.profile))) {
      for (const figure of FIGURES) {
        const a = p50(scenario, "kubeha", figure);
        const b = p50(scenario, profile, figure);
        const row: ComparisonRow = { scenario, profile: profile as Exclude<ProfileName, "kubeha">, figure, kubeha: a, seed: b, ratio: null };
        if (a === null || b === null) row.note = a === null && b === null ? "neither" : a === null ? "kubeha: none" : "seed: none";
        else if (a === 0) row.note = b === 0 ? "both 0" : `kubeha 0, seed ${b}`;
        else row.ratio = Math.round((b / a) * 100) / 100;
        rows.push(row);
      }
    }
  }
  return rows;
}

/** Per scenario, profile and figure, the distribution over the runs that ran (in first-seen order). */
export function distributionRows(results: readonly ScenarioResult[]): DistributionRow[] {
  const rows: DistributionRow[] = [];
  const ranResults = results.filter(ran);
  for (const key of unique(ranResults.map((r) => `${r.scenario}\0${r.profile}`))) {
    const [scenario, profile] = key.split("\0") as [ScenarioName, ProfileName];
    const rs = ranResults.filter((r) => r.scenario === scenario && r.profile === profile);
    for (const figure of DISTRIBUTED_FIGURES) rows.push({ scenario, profile, figure, dist: distribution(rs.map((r) => r.figures[figure])) });
  }
  return rows;
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

/** A scenario that actually ran (probes were sent). */
function ran(r: ScenarioResult): boolean {
  return r.figures.totalProbes > 0;
}
