import type { Command } from "./main.ts";
import { applyHelp, runApply } from "./apply.ts";

export const command: Command = {
  name: "plan",
  summary: "Show what apply would change, per host, changing nothing",
  help: applyHelp("plan"),
  run: (args) => runApply("plan", args),
};
