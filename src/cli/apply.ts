import type { Command } from "./main.ts";
import { KubehaError } from "../errors.ts";

export const command: Command = {
  name: "apply",
  summary: "(not implemented yet)",
  help: "kubeha apply: not implemented yet",
  async run() {
    throw new KubehaError("kubeha apply is not implemented yet");
  },
};
