import type { Command } from "./main.ts";
import { KubehaError } from "../errors.ts";

export const command: Command = {
  name: "render",
  summary: "(not implemented yet)",
  help: "kubeha render: not implemented yet",
  async run() {
    throw new KubehaError("kubeha render is not implemented yet");
  },
};
