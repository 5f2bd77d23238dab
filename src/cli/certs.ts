import type { Command } from "./main.ts";
import { KubehaError } from "../errors.ts";

export const command: Command = {
  name: "certs",
  summary: "(not implemented yet)",
  help: "kubeha certs: not implemented yet",
  async run() {
    throw new KubehaError("kubeha certs is not implemented yet");
  },
};
