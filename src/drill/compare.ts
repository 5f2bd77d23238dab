/**
 * `--compare seeds`: the same figure for kubeha's configuration and each seed's, and the ratio.
 * Pure. A ratio is seed / kubeha, so "8.7" reads "the seed's blackout was 8.7 times kubeha's".
 */
import type { ComparisonRow, ProfileName, ScenarioResult } from "./types.ts";

const FIGURES: ComparisonRow["figure"][] = ["blackoutMs", "failedProbes", "vipMovedMs", "splitBrainMs", "healthyAfterMs"];

/** One row per scenario × seed profile × figure, for scenarios that ran with both. */
export function comparisonRows(results: readonly ScenarioResult[]): ComparisonRow[] {
  const rows: ComparisonRow[] = [];
  for (const k of results.filter((r) => r.profile === "kubeha" && ran(r))) {
    for (const s of results.filter((r) => r.scenario === k.scenario && r.profile !== "kubeha" && ran(r))) {
      for (const figure of FIGURES) {
        const a = k.figures[figure];
        const b = s.figures[figure];
        const row: ComparisonRow = { scenario: k.scenario, profile: s.profile as Exclude<ProfileName, "kubeha">, figure, kubeha: a, seed: b, ratio: null };
        if (a === null || b === null) row.note = a === null && b === null ? "neither" : a === null ? "kubeha: none" : "seed: none";
        else if (a === 0) row.note = b === 0 ? "both 0" : `kubeha 0, seed ${b}`;
        else row.ratio = Math.round((b / a) * 100) / 100;
        rows.push(row);
      }
    }
  }
  return rows;
}

/** A scenario that actually ran (probes were sent). */
function ran(r: ScenarioResult): boolean {
  return r.figures.totalProbes > 0;
}
