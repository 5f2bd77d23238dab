import type { Command } from "./main.ts";
import { KubehaError } from "../errors.ts";

export const command: Command = {
  name: "drill",
  summary: "(not implemented yet)",
  help: "kubeha drill: not implemented yet",
  async run() {
    throw new KubehaError("kubeha drill is not implemented yet");
  },
};
