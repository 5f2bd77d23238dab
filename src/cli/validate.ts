import type { Command } from "./main.ts";
import { KubehaError } from "../errors.ts";

export const command: Command = {
  name: "validate",
  summary: "(not implemented yet)",
  help: "kubeha validate: not implemented yet",
  async run() {
    throw new KubehaError("kubeha validate is not implemented yet");
  },
};
