/**
 * Distributions of drill figures over repeated runs (`kubeha drill --runs N`). Pure.
 *
 * Percentiles use the NEAREST-RANK definition: the p-th percentile of n sorted values is the
 * value at rank ceil(p/100 × n) (1-based), so it is always one of the measured values, never an
 * interpolation between two runs. Consequences worth knowing when reading a report:
 * n = 1: every percentile is the one value; n = 2: p50 is the smaller, p95 the larger;
 * n = 10: p50 is the 5th smallest, p95 the largest (ceil(9.5) = 10). p95 below the max needs n ≥ 20.
 */
import type { ScenarioFigures } from "./types.ts";

/** min / p50 / p95 / max of one figure over the runs that produced a value. */
export interface Distribution {
  /** Runs that produced a value (a null figure, e.g. "the VIP never moved", is not counted). */
  n: number;
  min: number;
  p50: number;
  p95: number;
  max: number;
}

/**
 * Nearest-rank percentile of `values` (any order), `p` in (0, 100]. Throws on an empty list or a
 * p outside (0, 100]: a percentile of nothing has no value to report.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError("percentile of an empty list");
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  const s = [...values].sort((a, b) => a - b);
  return s[Math.ceil((p / 100) * s.length) - 1]!;
}

/** The distribution of the non-null values; null when there is none. */
export function distribution(values: readonly (number | null)[]): Distribution | null {
  const xs = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (xs.length === 0) return null;
  return { n: xs.length, min: Math.min(...xs), p50: percentile(xs, 50), p95: percentile(xs, 95), max: Math.max(...xs) };
}

/** The figures a distribution is reported for, in report order. */
export const DISTRIBUTED_FIGURES = ["blackoutMs", "failedProbes", "vipMovedMs", "splitBrainMs", "healthyAfterMs", "etcdLost"] as const satisfies readonly (keyof ScenarioFigures)[];
export type DistributedFigure = (typeof DISTRIBUTED_FIGURES)[number];

/** "min / p50 / p95 / max" for text and HTML; "-" when no run produced a value. */
export function formatDistribution(d: Distribution | null): string {
  return d ? `${d.min} / ${d.p50} / ${d.p95} / ${d.max}` : "-";
}
