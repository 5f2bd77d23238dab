import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { createInterface } from "node:readline/promises";
import type { Command } from "./main.ts";
import { parseFlags } from "./flags.ts";
import { dataFormat, formatData, OUTPUT_FLAG } from "./output.ts";
import { colorDrill, colorEnabled } from "../report/color.ts";
import { UsageError, formatProblem } from "../errors.ts";
import { loadCluster } from "../spec/read.ts";
import { drill, drillPassed } from "../drill/run.ts";
import { parseScenarios, scenariosFor } from "../drill/scenarios.ts";
import { commandMachines, labMachines, type Machines } from "../drill/machines.ts";
import { reportFiles, reportJson } from "../drill/report-html.ts";
import { renderDrillSummary } from "../drill/summary.ts";
import { PROFILES, SCENARIOS, type ProfileName } from "../drill/types.ts";

const HELP = `Usage: kubeha drill FILE [flags]

Proves the cluster is highly available by breaking it, one fault at a time, and measuring.
For each scenario: HTTPS probes to /readyz through the VIP (from this machine, at a fixed
rate, each a new TLS connection with the CA verified) and sequential numbered etcd writes run
while the fault is injected; then the fault is undone, the drill waits until \`kubeha status\`
says healthy, and every acknowledged etcd write is read back.

Scenarios (default: those that fit the cluster's endpoint mode, in this order):
  lb-haproxy-dies      SIGKILL haproxy on the VIP holder (kept down during the fault)
  lb-keepalived-crash  SIGKILL keepalived on the VIP holder (kubeha's drop-in then removes its VIP)
  lb-machine-down      power the VIP holder off (needs --lab or --power-off/--power-on);
                       haproxy-keepalived and kube-vip
  kube-vip-crash       SIGKILL kube-vip on the VIP holder (kube-vip mode; the kubelet restarts it)
  apiserver-down       take the apiserver's static pod off a control plane that is not the holder
  controller-manager-leader-down
                       stop the kube-controller-manager that holds its Lease (static pod parked,
                       or its unit stopped): time until another control plane holds the Lease
  etcd-member-down     stop the etcd leader
  etcd-quorum-loss     stop a majority of etcd members (writes are EXPECTED to fail; none acked may be lost)
  lb-partition         cut the LB hosts off from each other (each claims the VIP: split brain)
haproxy-keepalived runs all but kube-vip-crash; kube-vip runs lb-machine-down, kube-vip-crash,
apiserver-down, controller-manager-leader-down and the etcd scenarios; other modes
apiserver-down, controller-manager-leader-down and the etcd scenarios.

Figures per scenario: API blackout (longest run of failed probes, ms), failed/total probes,
time until the VIP moved (or, for a leader scenario, until another host held the Lease), time
from the restore until healthy, etcd writes acked/failed/lost.
Persistent clients: the longest time one of them got no answer, and their reconnects.
With --runs N every figure is also reported as min / p50 / p95 / max over the N runs
(nearest-rank percentiles: always a measured value; with 10 runs p95 is the largest).

Exit code: 0 when every scenario ran and met its targets, 1 otherwise, 2 bad usage.

Flags:
  --scenario NAME       run only these (repeat, or comma-separated)
  --compare seeds       also run every scenario with the seed guides' HAProxy/keepalived
                        configurations on the same hosts (seed 002, the kubeadm guide, seed 004)
                        and print the ratios; kubeha's configuration is put back afterwards
  --report FILE.html    write a self-contained HTML report and FILE.json next to it
  -o, --output FORMAT   table (default; "text" is the old name), json or yaml: the report on
                        stdout (progress goes to stderr); colour only on a terminal, not with NO_COLOR
  --lab NAME            the cluster runs in kubeha lab NAME: lb-machine-down uses lab stop/start
  --power-off CMD       command run here to power a host off ({host} and {address} are filled in)
  --power-on CMD        the same, to power it on again
  --yes                 do not ask before running the power commands
  --rate N              API probes per second (default 50)
  --timeout-ms N        per-probe timeout (default 1000)
  --max-hold S          longest a fault is held while the cluster routes around it (default 45)
  --runs N              run each scenario N times per profile (default 1; single runs vary a lot)
  --clients N           persistent clients beside the probe (default 3, 0 = off): client-go-like,
                        one long-lived connection each (HTTP/2 if offered, else HTTP/1.1 keep-alive)
  --read-idle-ms N      their HTTP/2 PING after N ms without a frame read (default 30000, client-go's)
  --ping-timeout-ms N   and the connection is dropped when the PING is not acked in N ms (default 15000)

Examples:
  kubeha drill lab/lab/cluster.yaml --lab lab --report drill.html
  kubeha drill cluster.yaml --scenario lb-haproxy-dies --scenario apiserver-down
  kubeha drill cluster.yaml --scenario controller-manager-leader-down
  kubeha drill lab/lab/cluster.yaml --lab lab --compare seeds --report drill.html
  kubeha drill cluster.yaml --power-off 'virsh destroy {host}' --power-on 'virsh start {host}'`;

function num(flag: string, v: string | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${flag} must be a number from ${min} to ${max}, got "${v}"`);
  return n;
}

export const command: Command = {
  name: "drill",
  help: HELP,
  async run(args) {
    const { values, positionals } = parseFlags("drill", args, {
      scenario: { type: "string", multiple: true },
      compare: { type: "string" },
      report: { type: "string" },
      ...OUTPUT_FLAG,
      lab: { type: "string" },
      "power-off": { type: "string" },
      "power-on": { type: "string" },
      yes: { type: "boolean" },
      rate: { type: "string" },
      "timeout-ms": { type: "string" },
      "max-hold": { type: "string" },
      runs: { type: "string" },
      clients: { type: "string" },
      "read-idle-ms": { type: "string" },
      "ping-timeout-ms": { type: "string" },
    });
    const [file, ...extra] = positionals;
    if (!file || extra.length) throw new UsageError("drill takes exactly one cluster file", "kubeha drill cluster.yaml --lab lab");
    if (values.compare !== undefined && values.compare !== "seeds") throw new UsageError(`--compare only knows "seeds", got "${values.compare}"`);
    const profiles: ProfileName[] = values.compare ? [...PROFILES] : ["kubeha"];
    const output = dataFormat("drill", values.output === "text" ? "table" : values.output, ["table", "json", "yaml"]);
    if (values.report !== undefined && !values.report.endsWith(".html")) throw new UsageError(`--report must name an .html file, got "${values.report}"`, "kubeha drill cluster.yaml --report drill.html");
    const off = values["power-off"];
    const on = values["power-on"];
    if ((off === undefined) !== (on === undefined)) throw new UsageError("--power-off and --power-on go together");
    if (values.lab !== undefined && off !== undefined) throw new UsageError("use either --lab or --power-off/--power-on, not both");
    const opts = {
      rateHz: num("rate", values.rate, 50, 1, 200),
      timeoutMs: num("timeout-ms", values["timeout-ms"], 1000, 50, 10_000),
      maxHoldMs: num("max-hold", values["max-hold"], 45, 3, 600) * 1000,
      runs: num("runs", values.runs, 1, 1, 100),
      persistentClients: num("clients", values.clients, 3, 0, 50),
      readIdleMs: num("read-idle-ms", values["read-idle-ms"], 30_000, 100, 600_000),
      pingTimeoutMs: num("ping-timeout-ms", values["ping-timeout-ms"], 15_000, 100, 600_000),
    };
    if (!Number.isInteger(opts.runs)) throw new UsageError(`--runs must be a whole number, got "${values.runs}"`);

    const { cluster, warnings } = await loadCluster(file);
    for (const w of warnings) process.stderr.write(formatProblem(file, w) + "\n");
    const scenarios = parseScenarios(values.scenario ?? [], SCENARIOS, scenariosFor(cluster));
    if (values.compare && cluster.endpoint.mode !== "haproxy-keepalived") {
      throw new UsageError(`--compare seeds swaps HAProxy/keepalived configurations, but cluster ${cluster.name} uses endpoint mode ${cluster.endpoint.mode}`, "drop --compare");
    }
    let machines: Machines | undefined;
    if (values.lab !== undefined) machines = await labMachines(values.lab, cluster.hosts);
    else if (off !== undefined && on !== undefined) {
      machines = commandMachines(off, on);
      if (!values.yes && scenarios.includes("lb-machine-down")) {
        if (!process.stdin.isTTY) throw new UsageError("the power commands need confirmation", "run on a terminal, or pass --yes");
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        const a = await rl.question(`lb-machine-down will run on this machine:\n  ${off}\n  ${on}\non the VIP holder. Continue? [y/N] `);
        rl.close();
        if (!/^y(es)?$/i.test(a.trim())) throw new UsageError("not confirmed; nothing was changed");
      }
    }

    const say = (s: string) => process.stderr.write(`${s}\n`);
    const report = await drill(cluster, { scenarios, profiles, ...(machines ? { machines } : {}), ...opts, progress: say });
    if (values.report) {
      await mkdir(dirname(values.report), { recursive: true });
      for (const f of reportFiles(report, values.report)) await writeFile(f.path, f.content);
      say(`report: ${values.report} (and the same data as JSON next to it)`);
    }
    if (output === "json") process.stdout.write(reportJson(report));
    else if (output === "yaml") process.stdout.write(await formatData("yaml", JSON.parse(reportJson(report))));
    else {
      const text = renderDrillSummary(report);
      process.stdout.write((colorEnabled(process.stdout) ? colorDrill(text) : text) + "\n");
    }
    return drillPassed(report) ? 0 : 1;
  },
};
