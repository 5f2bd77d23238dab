import type { Phase } from "./types.ts";
import type { ApplyData } from "./data.ts";
import { runSteps, stepsOf } from "./steps.ts";

/** Package sources, the proxy, Debian packages and the Kubernetes binaries (repository or bundle). */
export const packagesPhase: Phase<ApplyData> = {
  id: "packages",
  title: "Install packages",
  async runHost(ctx, h) {
    await runSteps(ctx, h, stepsOf(ctx, h, "packages"));
  },
};
