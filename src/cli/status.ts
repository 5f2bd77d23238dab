import type { Command } from "./main.ts";
import { parseFlags } from "./flags.ts";
import { dataFormat, formatData, OUTPUT_FLAG } from "./output.ts";
import { colorEnabled, colorStatus } from "../report/color.ts";
import { UsageError, formatProblem } from "../errors.ts";
import { loadCluster } from "../spec/read.ts";
import { status } from "../status.ts";
import { renderStatus, type StatusReport } from "../probe/status.ts";

const HELP = `Usage: kubeha status FILE [flags]

Reads the cluster's health without changing anything (one SSH round trip per host): per host
whether it is reachable and its services (haproxy, keepalived, etcd, container runtime,
kubelet); which machine holds the VIP (exactly one, else split brain); HAProxy backend states
from its runtime socket; etcd members, leader, health, DB size and raft index; apiserver
/readyz on each control plane directly and through the endpoint; certificate days left
(from the local state directory; no key is read).

Exit code: 0 healthy; 1 degraded (every problem is listed); 2 bad usage; 3 invalid cluster file;
4 could not check (a host unreachable, an SSH key missing, the state directory unreadable:
"unchecked" in the JSON), so monitoring can tell "could not look" from "looked, it is broken".

Flags:
  -o, --output FORMAT   table (default), json or yaml (schema: status.schema.json, shipped
                        in the package); colour only on a terminal and without NO_COLOR
  --watch               refresh until Ctrl-C (json: one report per line)
  --interval S          seconds between refreshes with --watch (default 5, minimum 1)
  --count N             with --watch: stop after N reports
  --threshold-days N    certificates expiring within N days are warnings (default 30)
  --concurrency N       hosts probed at once (default 30)

Examples:
  kubeha status cluster.yaml
  kubeha status cluster.yaml -o json | jq .problems
  kubeha status cluster.yaml --watch --interval 2`;

/**
 * 0 healthy, 1 degraded, 4 could not check. 4 is EXIT.unreachable of the exit-code table the
 * input-hardening branch adds to src/errors.ts (UnreachableError); the same number here.
 */
export function statusExitCode(r: StatusReport): number {
  if (r.unchecked.length > 0) return 4;
  return r.healthy ? 0 : 1;
}

function positiveInt(flag: string, v: string | undefined, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${flag} must be a whole number of ${min} or more, got "${v}"`);
  return n;
}

export const command: Command = {
  name: "status",
  help: HELP,
  async run(args) {
    const { values, positionals } = parseFlags("status", args, {
      ...OUTPUT_FLAG,
      watch: { type: "boolean" },
      interval: { type: "string" },
      count: { type: "string" },
      "threshold-days": { type: "string" },
      concurrency: { type: "string" },
    });
    const [file, ...extra] = positionals;
    if (!file || extra.length) throw new UsageError("status takes exactly one cluster file", "kubeha status cluster.yaml");
    const output = dataFormat("status", values.output, ["table", "json", "yaml"]);
    const interval = positiveInt("interval", values.interval, 5);
    const count = values.count === undefined ? undefined : positiveInt("count", values.count, 1);
    if (!values.watch && (values.interval !== undefined || count !== undefined)) throw new UsageError("--interval and --count only apply with --watch", "kubeha status cluster.yaml --watch --interval 2");
    const opts = { thresholdDays: positiveInt("threshold-days", values["threshold-days"], 30, 0), concurrency: positiveInt("concurrency", values.concurrency, 30) };
    const { cluster, warnings } = await loadCluster(file, { operate: true });
    for (const w of warnings) process.stderr.write(formatProblem(file, w) + "\n");

    const once = async () => {
      const r = await status(cluster, opts);
      if (output === "json") process.stdout.write(JSON.stringify(r, null, values.watch ? undefined : 2) + "\n");
      else if (output === "yaml") process.stdout.write((values.watch ? "---\n" : "") + (await formatData("yaml", r)));
      else {
        // Redraw in place on a terminal; a pipe gets reports one after another.
        if (values.watch && process.stdout.isTTY) process.stdout.write("\x1b[H\x1b[2J");
        const text = renderStatus(r);
        process.stdout.write((colorEnabled(process.stdout) ? colorStatus(text) : text) + "\n");
      }
      return statusExitCode(r);
    };
    if (!values.watch) return once();

    let stop = false;
    let wake: (() => void) | undefined;
    const onInt = () => {
      stop = true;
      wake?.();
    };
    process.on("SIGINT", onInt);
    try {
      let code = 0;
      for (let n = 0; !stop && (count === undefined || n < count); n++) {
        if (n > 0) {
          await new Promise<void>((res) => {
            const t = setTimeout(res, interval * 1000);
            wake = () => (clearTimeout(t), res());
          });
          if (stop) break;
        }
        code = await once();
      }
      return code;
    } finally {
      process.off("SIGINT", onInt);
    }
  },
};
