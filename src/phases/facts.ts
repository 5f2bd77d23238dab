import type { Phase } from "./types.ts";
import type { ApplyData } from "./data.ts";
import { factsScript, parseFacts } from "../probe/facts.ts";

/** Reads each host's state in one round trip; every later decision comes from these facts. */
export const gatherFacts: Phase<ApplyData> = {
  id: "facts",
  title: "Gather facts",
  async run(ctx) {
    ctx.data.operatorTime = Date.now() / 1000;
  },
  async runHost(ctx, h) {
    const t = await ctx.data.pool.get(h);
    const r = await t.mustRun(factsScript(ctx.data.cluster, h), { sudo: true });
    ctx.data.facts.set(h.name, parseFacts(ctx.data.cluster, r.stdout));
  },
};
