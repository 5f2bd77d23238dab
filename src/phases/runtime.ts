import type { Phase } from "./types.ts";
import type { ApplyData } from "./data.ts";
import { runSteps, stepsOf } from "./steps.ts";
import { isKubernetesNode } from "../render/kubeadm.ts";

/** The container runtime's configuration (systemd cgroups, the pause image from the mirror). */
export const runtimePhase: Phase<ApplyData> = {
  id: "runtime",
  title: "Configure the container runtime",
  hosts: (ctx) => ctx.data.cluster.hosts.filter(isKubernetesNode),
  async runHost(ctx, h) {
    await runSteps(ctx, h, stepsOf(ctx, h, "runtime"));
  },
};
