/**
 * CLI start-up and scale benchmark (issue 15's targets), against bare Node in the same run:
 *
 *   npm run build && node --import tsx bench/cli.ts [--runs 5] [--hosts 1000] [--big 25000]
 *
 * Times whole processes of the compiled CLI (bin/kubeha.mjs): `node -e 0`, `kubeha --help`,
 * `kubeha --version`, `validate` and `render` of a generated file with --hosts hosts (render writes
 * to a fresh directory, on /dev/shm when there is one so the disk is not what is measured), and
 * `validate` of --big hosts for its peak memory. Prints median / min / max of wall and CPU seconds
 * and the peak RSS. Targets: --help <= 0.15 s above bare Node; validate (1,000) <= 0.3 s;
 * render (1,000) <= 1.0 s; validate (25,000) peak <= 200 MiB. A benchmark, not a test: it prints
 * and never fails on a figure.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { clusterYaml } from "../test/helpers/big-cluster.ts";
import { benchArgs } from "./args.ts";

const { values } = benchArgs(import.meta.url, { runs: { type: "string" }, hosts: { type: "string" }, big: { type: "string" } });
const runs = Number(values.runs ?? "5");
const hosts = Number(values.hosts ?? "1000");
const big = Number(values.big ?? "25000");
const repo = fileURLToPath(new URL("..", import.meta.url));
const bin = join(repo, "bin/kubeha.mjs");
const preload = join(repo, "bench/cli-usage.mjs");
if (!existsSync(join(repo, "dist/cli/main.js"))) throw new Error("run `npm run build` first: the benchmark times the compiled CLI");

interface Sample {
  wallS: number;
  cpuS: number;
  maxRssMiB: number;
}

const work = mkdtempSync(join(tmpdir(), "kubeha-bench-cli-"));
const outBase = existsSync("/dev/shm") ? mkdtempSync("/dev/shm/kubeha-bench-render-") : join(work, "render");
const usageFile = join(work, "usage.json");

function once(args: string[], before?: () => void): Sample {
  before?.();
  rmSync(usageFile, { force: true });
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ["--import", preload, ...args], { cwd: work, encoding: "utf8", env: { ...process.env, KUBEHA_BENCH_USAGE: usageFile, NO_COLOR: "1" } });
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  const u = JSON.parse(readFileSync(usageFile, "utf8")) as { cpuS: number; maxRssMiB: number };
  return { wallS, ...u };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[], d = 3) => `${median(xs).toFixed(d)} (${Math.min(...xs).toFixed(d)}-${Math.max(...xs).toFixed(d)})`;

function measure(label: string, args: string[], n: number, before?: () => void): Sample[] {
  once(args, before); // warm the file cache
  const s = Array.from({ length: n }, () => once(args, before));
  process.stdout.write(
    `${label.padEnd(28)} wall ${fmt(s.map((x) => x.wallS))} s   cpu ${fmt(s.map((x) => x.cpuS))} s   peak ${fmt(s.map((x) => x.maxRssMiB), 0)} MiB\n`,
  );
  return s;
}

try {
  writeFileSync(join(work, "small.yaml"), clusterYaml(hosts));
  writeFileSync(join(work, "big.yaml"), clusterYaml(big));
  process.stdout.write(`kubeha CLI benchmark: Node ${process.version}, ${cpus().length} CPUs, ${runs} runs each (median (min-max))\n`);
  const bare = measure("node -e 0", ["-e", "0"], runs);
  const help = measure("kubeha --help", [bin, "--help"], runs);
  measure("kubeha --version", [bin, "--version"], runs);
  const validate = measure(`validate (${hosts} hosts)`, [bin, "validate", "small.yaml"], runs);
  const out = join(outBase, "out");
  const render = measure(`render (${hosts} hosts)`, [bin, "render", "small.yaml", "--dir", out], runs, () => rmSync(out, { recursive: true, force: true }));
  const mem = measure(`validate (${big} hosts)`, [bin, "validate", "big.yaml"], Math.min(runs, 3));
  const m = (s: Sample[], k: keyof Sample) => median(s.map((x) => x[k]));
  process.stdout.write(
    "\ntargets (wall, median):\n" +
      `  --help above bare Node  ${(m(help, "wallS") - m(bare, "wallS")).toFixed(3)} s (cpu ${(m(help, "cpuS") - m(bare, "cpuS")).toFixed(3)} s)  target <= 0.15 s\n` +
      `  validate ${hosts}          ${m(validate, "wallS").toFixed(3)} s (cpu ${m(validate, "cpuS").toFixed(3)} s)  target <= 0.3 s\n` +
      `  render ${hosts}            ${m(render, "wallS").toFixed(3)} s (cpu ${m(render, "cpuS").toFixed(3)} s)  target <= 1.0 s\n` +
      `  validate ${big} peak    ${m(mem, "maxRssMiB").toFixed(0)} MiB  target <= 200 MiB\n`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
  if (outBase.startsWith("/dev/shm/")) rmSync(outBase, { recursive: true, force: true });
}
