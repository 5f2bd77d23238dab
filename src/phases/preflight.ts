import type { Phase } from "./types.ts";
import type { ApplyData } from "./data.ts";
import { preflight, preflightTable } from "../plan/preflight.ts";
import { KubehaError } from "../errors.ts";

/** Stops before the first change when a host cannot take its part (table of every check). */
export const preflightPhase: Phase<ApplyData> = {
  id: "preflight",
  title: "Check hosts before changing anything",
  async run(ctx) {
    const rows = preflight(ctx.data.cluster, ctx.data.facts, ctx.data.operatorTime ?? Date.now() / 1000);
    const bad = rows.filter((r) => r.result !== "pass");
    for (const r of bad) ctx.note(`${r.check}: ${r.result}: ${r.detail}`, r.host);
    const failed = rows.filter((r) => r.result === "fail");
    if (failed.length)
      throw new KubehaError(
        `preflight failed on ${new Set(failed.map((r) => r.host)).size} host(s); nothing was changed\n${preflightTable(failed)}`,
        "fix the failing checks (or skip them at your own risk with --skip-phases preflight)",
      );
  },
};
