import type { Command } from "./main.ts";
import { parseFlags } from "./flags.ts";
import { UsageError } from "../errors.ts";
import { dataFormat, formatData, OUTPUT_FLAG } from "./output.ts";
import { packageInfo } from "../version.ts";

export const command: Command = {
  name: "version",
  help: `Usage: kubeha version [-o table|json|yaml]

Prints kubeha's version (also: kubeha --version). -o json adds the Node.js version running it
and the platform.

Examples:
  kubeha version
  kubeha version -o json | jq -r .kubeha`,
  async run(args) {
    const { values, positionals } = parseFlags("version", args, OUTPUT_FLAG);
    if (positionals.length) throw new UsageError(`version: unexpected argument ${positionals[0]}`, "kubeha version -o json");
    const format = dataFormat("version", values.output, ["table", "json", "yaml"]);
    const pkg = packageInfo();
    if (format === "table") process.stdout.write(`kubeha ${pkg.version}\n`);
    else process.stdout.write(await formatData(format === "yaml" ? "yaml" : "json", { kubeha: pkg.version, node: process.versions.node, platform: `${process.platform}/${process.arch}` }));
    return 0;
  },
};
