import type { Command } from "./main.ts";
import { KubehaError } from "../errors.ts";

export const command: Command = {
  name: "init",
  summary: "(not implemented yet)",
  help: "kubeha init: not implemented yet",
  async run() {
    throw new KubehaError("kubeha init is not implemented yet");
  },
};
