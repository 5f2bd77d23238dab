import type { Phase } from "./types.ts";
import { converge, type ApplyData } from "./data.ts";
import { renderContainerd } from "../render/containerd.ts";
import { renderCrio } from "../render/crio.ts";
import { kubeNodes } from "../spec/topology.ts";

/** The container runtime's configuration (systemd cgroups, the pause image from the mirror). */
export const runtimePhase: Phase<ApplyData> = {
  id: "runtime",
  title: "Configure the container runtime",
  hosts: (ctx) => kubeNodes(ctx.data.cluster),
  async runHost(ctx, h) {
    const c = ctx.data.cluster;
    const unit = c.kubernetes.containerRuntime === "cri-o" ? "crio" : "containerd";
    await converge(ctx, h, [...renderContainerd(c, h), ...renderCrio(c, h)], [unit]);
  },
};
