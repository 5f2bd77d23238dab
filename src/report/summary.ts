/** The dry-run (and apply) change list grouped by host (pure, deterministic). */

export interface Change {
  host: string;
  phase: string;
  message: string;
}

/**
 * Changes grouped by host: hosts in `hostOrder` first in that order, then any others (e.g. `local`)
 * sorted; within a host, in the order they happened.
 */
export function formatChanges(changes: readonly Change[], hostOrder: readonly string[], dryRun: boolean): string {
  if (changes.length === 0) return dryRun ? "dry run: no changes: the cluster is converged" : "no changes: the cluster was already converged";
  const order = new Map(hostOrder.map((h, i) => [h, i]));
  const hosts = [...new Set(changes.map((c) => c.host))].sort(
    (a, b) => (order.get(a) ?? Infinity) - (order.get(b) ?? Infinity) || (a < b ? -1 : a > b ? 1 : 0),
  );
  const lines = [dryRun ? `dry run: ${changes.length} change${changes.length === 1 ? "" : "s"} would be made:` : `${changes.length} change${changes.length === 1 ? "" : "s"} made:`];
  for (const h of hosts) {
    lines.push(`${h}:`);
    for (const c of changes.filter((x) => x.host === h)) lines.push(`  - [${c.phase}] ${c.message}`);
  }
  return lines.join("\n");
}
