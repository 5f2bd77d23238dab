import type { Command } from "./main.ts";
import { KubehaError } from "../errors.ts";

export const command: Command = {
  name: "status",
  summary: "(not implemented yet)",
  help: "kubeha status: not implemented yet",
  async run() {
    throw new KubehaError("kubeha status is not implemented yet");
  },
};
