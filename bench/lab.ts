/**
 * Lab benchmark: prints the cold base build time, `lab up` time with a cached base for 3, 5 and
 * 10 machines, and memory per idle machine. Targets (issue 4): up <= 10 s for 5 machines with a
 * cached base, <= 64 MiB per idle machine.
 *
 *   sudo node --import tsx bench/lab.ts [--skip-cold] [--idle-seconds 10]
 *
 * The cold build goes to a throw-away cache directory, so the shared cache (and labs using it)
 * are left alone. The bench lab is `kb-bench` on 198.19.252.0/24; it is removed at the end and
 * when found stale at the start.
 */
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ensureBase } from "../src/lab/base.ts";
import { cgroupDirs, cgroupPids, sleep } from "../src/lab/host.ts";
import { labDown, labUp } from "../src/lab/index.ts";
import { benchArgs } from "./args.ts";

const NAME = "kb-bench";
const SUBNET = "198.19.252.0/24";
const { values } = benchArgs(import.meta.url, { "skip-cold": { type: "boolean" }, "idle-seconds": { type: "string" } });
const idle = Number(values["idle-seconds"] ?? "10");

const MiB = 1024 * 1024;
const fmt = (n: number, d = 1) => n.toFixed(d);

async function memAvailable(): Promise<number> {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(await fs.readFile("/proc/meminfo", "utf8"));
  return Number(m![1]) * 1024;
}

/** Proportional set size (bytes) of every process of one machine, its nspawn and launcher included. */
async function machinePss(machine: string): Promise<number> {
  let total = 0;
  for (const pid of await cgroupPids(cgroupDirs(`kubeha-lab-${NAME}`, machine))) {
    const s = await fs.readFile(`/proc/${pid}/smaps_rollup`, "utf8").catch(() => "");
    total += Number(/^Pss:\s+(\d+) kB/m.exec(s)?.[1] ?? 0) * 1024;
  }
  return total;
}

async function upTime(workdir: string, masters: number, workers: number): Promise<{ seconds: number; names: string[] }> {
  const t = performance.now();
  const info = await labUp({ name: NAME, subnet: SUBNET, masters, workers, cwd: workdir });
  return { seconds: (performance.now() - t) / 1000, names: info.machines.map((m) => m.name) };
}

const workdir = await fs.mkdtemp(path.join(os.tmpdir(), "kubeha-lab-bench-"));
try {
  await labDown(NAME);
  console.log(`kubeha lab benchmark (${os.cpus().length} cores, ${fmt(os.totalmem() / 2 ** 30)} GiB)`);

  if (!values["skip-cold"]) {
    const cold = await fs.mkdtemp(path.join("/var/cache/kubeha", "bench-cold-"));
    try {
      const b = await ensureBase({ cacheDir: cold });
      const du = await import("node:child_process").then((cp) => cp.execFileSync("du", ["-sm", b.rootfs]).toString().split("\t")[0]);
      console.log(`base build (cold, debootstrap + customize): ${fmt(b.seconds)} s, ${du} MiB`);
    } finally {
      await fs.rm(cold, { recursive: true, force: true });
    }
  }
  const warm = await ensureBase();
  console.log(`base lookup (cached): ${fmt(warm.seconds * 1000, 0)} ms`);

  for (const [masters, workers] of [[3, 0], [3, 2], [3, 7]] as const) {
    const r = await upTime(workdir, masters, workers);
    console.log(`lab up, ${r.names.length} machines, cached base: ${fmt(r.seconds, 2)} s (all running)`);
    if (r.names.length === 10) {
      // Memory of idle machines: let boot-time work settle first.
      await sleep(idle * 1000);
      const pss = await Promise.all(r.names.map(machinePss));
      const avg = pss.reduce((a, b) => a + b, 0) / pss.length;
      console.log(
        `memory per idle machine after ${idle} s (PSS of its processes incl. nspawn): avg ${fmt(avg / MiB)} MiB, ` +
          `max ${fmt(Math.max(...pss) / MiB)} MiB`,
      );
      const withLab = await memAvailable();
      const t = performance.now();
      await labDown(NAME);
      const downS = (performance.now() - t) / 1000;
      await sleep(1000);
      const without = await memAvailable();
      console.log(
        `memory per machine from MemAvailable (lab up vs down, incl. kernel, tmpfs, page cache): ` +
          `${fmt((without - withLab) / r.names.length / MiB)} MiB`,
      );
      console.log(`lab down, 10 machines: ${fmt(downS, 2)} s`);
    } else {
      await labDown(NAME);
    }
  }
} finally {
  await labDown(NAME);
  await fs.rm(workdir, { recursive: true, force: true });
}
