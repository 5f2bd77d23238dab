import type { Command } from "./main.ts";
import { KubehaError } from "../errors.ts";

export const command: Command = {
  name: "plan",
  summary: "(not implemented yet)",
  help: "kubeha plan: not implemented yet",
  async run() {
    throw new KubehaError("kubeha plan is not implemented yet");
  },
};
