import type { Command } from "./main.ts";
import { KubehaError } from "../errors.ts";

export const command: Command = {
  name: "lab",
  summary: "(not implemented yet)",
  help: "kubeha lab: not implemented yet",
  async run() {
    throw new KubehaError("kubeha lab is not implemented yet");
  },
};
