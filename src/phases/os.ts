import type { Phase } from "./types.ts";
import type { ApplyData } from "./data.ts";
import { runSteps, stepsOf } from "./steps.ts";
import { skip } from "./types.ts";

/** Hostname, /etc/hosts block, kernel modules and sysctls, swap off: what every host needs first. */
export const prepareOs: Phase<ApplyData> = {
  id: "os",
  title: "Prepare the operating system",
  async runHost(ctx, h) {
    const steps = stepsOf(ctx, h, "os");
    if (!steps.length) return skip("nothing to prepare");
    await runSteps(ctx, h, steps);
  },
};
