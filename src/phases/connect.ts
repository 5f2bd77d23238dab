import type { Phase } from "./types.ts";
import type { ApplyData } from "./data.ts";

/** Opens one SSH connection per host (reused by every later phase) and verifies host keys. */
export const connect: Phase<ApplyData> = {
  id: "connect",
  title: "Connect to hosts",
  async runHost(ctx, h) {
    await (await ctx.data.pool.get(h)).mustRun("true");
  },
};
