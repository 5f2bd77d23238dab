import type { Command } from "./main.ts";
import { parseFlags } from "./flags.ts";
import { UsageError } from "../errors.ts";
import { clusterSchema } from "../spec/read.ts";

export const command: Command = {
  name: "schema",
  help: `Usage: kubeha schema > cluster.schema.json

Prints the JSON schema of the cluster file. Editors with the YAML language server use it when the
cluster file starts with:
  # yaml-language-server: $schema=./cluster.schema.json

Examples:
  kubeha schema > cluster.schema.json`,
  async run(args) {
    const { positionals } = parseFlags("schema", args, {});
    if (positionals.length) throw new UsageError(`schema: unexpected argument ${positionals[0]}`, "kubeha schema > cluster.schema.json");
    process.stdout.write(JSON.stringify(clusterSchema(), null, 2) + "\n");
    return 0;
  },
};
