import type { Command } from "./main.ts";
import { applyHelp, runApply } from "./apply.ts";

export const command: Command = {
  name: "plan",
  help: applyHelp("plan"),
  run: (args) => runApply("plan", args),
};
