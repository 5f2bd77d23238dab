/**
 * Benchmark (not a test): a full drill on a 3-master lab (HAProxy + keepalived + external etcd on
 * each master; Kubernetes binaries are the stand-ins), optionally with the seeds' configurations
 * on the same machines, and the figures issue 16's targets are about (p95 over the runs):
 *   lb-haproxy-dies blackout <= 500 ms; lb-keepalived-crash two holders 0 (<= 50) ms every run;
 *   lb-machine-down blackout <= 1,000 ms, <= 50 failed probes at 50/s, VIP moved <= 100 ms;
 *   apiserver-down and etcd-member-down 0 failed probes; 0 acknowledged etcd writes lost.
 *   sudo node --import tsx bench/drill.ts [--compare] [--runs N] [--scenario NAME ...] [--keep]
 *     [--name LAB --subnet CIDR]   (default lab kb-drill on 198.19.244.0/24) [--vrrp-anatomy]
 * `--vrrp-anatomy` captures the VRRP adverts of the lab's machines (tcpdump) and prints, for every
 * kubeha run of an LB scenario, where the time from the fault to "VIP moved" went (bench/vrrp-anatomy.ts).
 * `--runs N` runs each scenario N times (`kubeha drill --runs`): the summary then has every figure's
 * min / p50 / p95 / max, and the comparison uses p50s. Writes test-output/bench-drill.html (+ .json).
 */
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { labDown, labUp } from "../src/lab/index.ts";
import { loadCluster } from "../src/spec/read.ts";
import { apply } from "../src/apply.ts";
import { drill } from "../src/drill/run.ts";
import { labMachines } from "../src/drill/machines.ts";
import { parseScenarios } from "../src/drill/scenarios.ts";
import { renderDrillSummary } from "../src/drill/summary.ts";
import { reportFiles } from "../src/drill/report-html.ts";
import { PROFILES, SCENARIOS, type DrillReport, type ProfileName } from "../src/drill/types.ts";
import { REPO } from "../test/helpers/cli.ts";
import { benchArgs } from "./args.ts";
import { anatomy, parseAdvert, renderAnatomy } from "./vrrp-anatomy.ts";

const { values } = benchArgs(import.meta.url, {
  compare: { type: "boolean" },
  runs: { type: "string", default: "1" },
  scenario: { type: "string", multiple: true },
  keep: { type: "boolean" },
  name: { type: "string", default: "kb-drill" },
  subnet: { type: "string", default: "198.19.244.0/24" },
  "vrrp-anatomy": { type: "boolean" },
});
const NAME = values.name;
const scenarios = parseScenarios(values.scenario ?? [], SCENARIOS);
const profiles: ProfileName[] = values.compare ? [...PROFILES] : ["kubeha"];
const cwd = mkdtempSync(join(tmpdir(), "kubeha-bench-drill-"));
const out = join(REPO, "test-output");
mkdirSync(out, { recursive: true });
await labDown(NAME);
let report: DrillReport | undefined;
try {
  const lab = await labUp({ name: NAME, subnet: values.subnet, masters: 3, workers: 0, cwd, bundle: join(REPO, "test/standins/bundle") });
  const { cluster } = await loadCluster(lab.clusterFile);
  await apply(cluster);
  const machines = await labMachines(NAME, cluster.hosts);
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive whole number, got ${values.runs}`);
  const capture = values["vrrp-anatomy"] ? startCapture(join(cwd, "vrrp.txt")) : undefined;
  const t = Date.now();
  report = await drill(cluster, { scenarios, profiles, machines, runs, progress: (s) => console.error(`  ${s}`) });
  console.log(`${runs} run(s) in ${((Date.now() - t) / 1000).toFixed(0)} s:\n${renderDrillSummary(report)}\n`);
  for (const f of reportFiles(report, join(out, "bench-drill.html"))) writeFileSync(f.path, f.content);
  if (capture) {
    const ours = new Set(cluster.hosts.map((h) => h.internalAddress));
    const adverts = (await capture.stop()).split("\n").flatMap((l) => parseAdvert(l) ?? []).filter((a) => ours.has(a.src));
    const addressOf = (name: string) => cluster.hosts.find((h) => h.name === name)?.internalAddress ?? "";
    for (const sc of ["lb-haproxy-dies", "lb-keepalived-crash", "lb-machine-down"]) {
      const rows = report.scenarios.filter((r) => r.scenario === sc && r.profile === "kubeha").flatMap((r) => anatomy(r, adverts, addressOf) ?? []);
      if (rows.length) console.log(`${renderAnatomy(sc, rows)}\n`);
    }
  }
} finally {
  if (!values.keep) await labDown(NAME);
  rmSync(cwd, { recursive: true, force: true });
}
if (report) console.log(`report: ${join(out, "bench-drill.html")} (+ .json)`);

/**
 * tcpdump on every interface (a bridge's own device does not see what it forwards between its
 * ports), VRRP only, into `file` (kernel timestamps, epoch seconds); bounded
 * by a packet count. `stop()` ends it (SIGTERM to its PID) and returns what it wrote.
 */
function startCapture(file: string): { stop(): Promise<string> } {
  const p = spawn("tcpdump", ["-i", "any", "-n", "-tt", "-l", "-c", "5000000", "ip proto 112"], { stdio: ["ignore", openSync(file, "w"), "ignore"] });
  const exited = new Promise<void>((r) => p.once("exit", () => r()));
  p.once("error", (err) => console.error(`--vrrp-anatomy: tcpdump did not start (${err.message}); apt-get install tcpdump`));
  return {
    async stop() {
      if (p.exitCode === null && p.pid) p.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      return readFileSync(file, "utf8");
    },
  };
}
