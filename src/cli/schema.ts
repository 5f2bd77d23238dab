import type { Command } from "./main.ts";
import { KubehaError } from "../errors.ts";

export const command: Command = {
  name: "schema",
  summary: "(not implemented yet)",
  help: "kubeha schema: not implemented yet",
  async run() {
    throw new KubehaError("kubeha schema is not implemented yet");
  },
};
