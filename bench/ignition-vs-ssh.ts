/**
 * Benchmark (not a test): time from `lab up` to a healthy cluster, hosts that configure themselves
 * from Ignition against the SSH apply path, on the same lab shape: 3 masters (control plane,
 * external etcd, HAProxy + keepalived co-located on 8443) and 2 workers, Kubernetes binaries from
 * the stand-in bundle — the shape test/e2e/ignition.test.ts brings up.
 *
 *   ignition: `lab up --kube-standins --provision ignition` (the real Ignition writes each root,
 *             the machines install themselves at boot), then `kubeha status` until it exits 0.
 *   ssh:      `lab up --kube-standins`, `kubeha apply`, then `kubeha status` until it exits 0.
 *
 * Each path is timed from the start of `lab up` to the first healthy `status`; the lab is taken
 * down between runs. The load average (1 min, /proc/loadavg) is sampled every 5 s during each run:
 * the machine may be shared, and the figures mean little without it.
 *
 *   npm run build && sudo node --import tsx bench/ignition-vs-ssh.ts [--runs N] [--name LAB --subnet CIDR]
 *     (default 1 run per path, lab kb-ignssh on 198.19.246.0/24; the CLI runs dist/, hence the build)
 */
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { labDown, labUp } from "../src/lab/index.ts";
import { sleep } from "../src/lab/host.ts";
import type { LabProvision } from "../src/lab/plan.ts";
import { distribution } from "../src/drill/stats.ts";
import { kubehaLive, REPO } from "../test/helpers/cli.ts";
import { benchArgs } from "./args.ts";

const { values } = benchArgs(import.meta.url, {
  runs: { type: "string", default: "1" },
  name: { type: "string", default: "kb-ignssh" },
  subnet: { type: "string", default: "198.19.246.0/24" },
  "healthy-timeout": { type: "string", default: "600" },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error(`--runs must be a whole number from 1 to 20, got ${values.runs}`);
const healthyTimeoutS = Number(values["healthy-timeout"]);
const NAME = values.name;
const SUBNET = values.subnet;
const SHAPE = { masters: 3, workers: 2 } as const;

/** The CLI as a child process, asynchronously (the load sampler keeps running meanwhile). */
const cli = (args: string[], cwd: string, timeoutMs: number) => kubehaLive(args, { cwd, timeoutMs }, () => undefined);

const loadavg1 = () => Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);

/** Samples the 1-min load average every 5 s until stopped. */
function loadSampler(): { stop: () => number[] } {
  const samples = [loadavg1()];
  const timer = setInterval(() => samples.push(loadavg1()), 5000);
  return {
    stop: () => {
      clearInterval(timer);
      samples.push(loadavg1());
      return samples;
    },
  };
}

interface RunResult {
  path: LabProvision;
  seconds: number;
  upSeconds: number;
  applySeconds?: number;
  load: number[];
}

async function once(provision: LabProvision): Promise<RunResult> {
  await labDown(NAME);
  const cwd = mkdtempSync(join(os.tmpdir(), "kubeha-bench-ignssh-"));
  const load = loadSampler();
  try {
    const t0 = performance.now();
    const lab = await labUp({ name: NAME, subnet: SUBNET, ...SHAPE, cwd, bundle: join(REPO, "test/standins/bundle"), provision });
    const upSeconds = (performance.now() - t0) / 1000;
    let applySeconds: number | undefined;
    if (provision === "ssh") {
      const t = performance.now();
      const a = await cli(["apply", lab.clusterFile, "--output", "plain"], cwd, 15 * 60_000);
      applySeconds = (performance.now() - t) / 1000;
      if (a.code !== 0) throw new Error(`kubeha apply exit ${a.code}:\n${a.stderr.slice(-2000)}`);
    }
    const end = t0 + healthyTimeoutS * 1000;
    for (;;) {
      const s = await cli(["status", lab.clusterFile, "--output", "json"], cwd, 120_000);
      if (s.code === 0) break;
      if (performance.now() > end) {
        const problems = (() => {
          try {
            return (JSON.parse(s.stdout) as { problems: string[] }).problems.join("; ");
          } catch {
            return s.stderr.slice(-500);
          }
        })();
        throw new Error(`${provision}: not healthy ${healthyTimeoutS} s after lab up started (status exit ${s.code}): ${problems}`);
      }
      await sleep(2000);
    }
    return { path: provision, seconds: (performance.now() - t0) / 1000, upSeconds, ...(applySeconds !== undefined ? { applySeconds } : {}), load: load.stop() };
  } finally {
    load.stop();
    await labDown(NAME);
    rmSync(cwd, { recursive: true, force: true });
  }
}

const results: RunResult[] = [];
console.log(`kubeha bench: lab up -> healthy, Ignition vs SSH apply; ${SHAPE.masters} masters (LB co-located, :8443, external etcd) + ${SHAPE.workers} workers, stand-ins; ${os.cpus().length} cores; lab ${NAME} on ${SUBNET}; ${runs} run(s) per path`);
console.log(`load average before: ${readFileSync("/proc/loadavg", "utf8").trim()}`);
try {
  for (let i = 1; i <= runs; i++) {
    for (const p of ["ignition", "ssh"] as const) {
      const r = await once(p);
      results.push(r);
      const l = r.load;
      console.log(
        `run ${i} ${p.padEnd(8)}: healthy ${r.seconds.toFixed(1)} s after lab up started (lab up ${r.upSeconds.toFixed(1)} s` +
          `${r.applySeconds !== undefined ? `, apply ${r.applySeconds.toFixed(1)} s` : ""}); load avg 1 min during: mean ${(l.reduce((a, b) => a + b, 0) / l.length).toFixed(2)}, max ${Math.max(...l).toFixed(2)}`,
      );
    }
  }
} finally {
  await labDown(NAME);
}

const fmt = (n: number) => n.toFixed(1).padStart(7);
console.log("\npath      runs   min s   p50 s   max s   load mean   load max");
for (const p of ["ignition", "ssh"] as const) {
  const rs = results.filter((r) => r.path === p);
  if (!rs.length) continue;
  const d = distribution(rs.map((r) => r.seconds))!;
  const loads = rs.flatMap((r) => r.load);
  console.log(
    `${p.padEnd(8)}  ${String(rs.length).padStart(4)} ${fmt(d.min)} ${fmt(d.p50)} ${fmt(d.max)}` +
      `   ${(loads.reduce((a, b) => a + b, 0) / loads.length).toFixed(2).padStart(9)}   ${Math.max(...loads).toFixed(2).padStart(8)}`,
  );
}
