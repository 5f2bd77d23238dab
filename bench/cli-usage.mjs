// Preloaded into each process bench/cli.ts times (node --import): at exit, writes the process's own
// CPU seconds and peak memory (getrusage) to the file named by KUBEHA_BENCH_USAGE.
import { writeFileSync } from "node:fs";
const out = process.env.KUBEHA_BENCH_USAGE;
if (out) {
  process.on("exit", () => {
    const u = process.resourceUsage();
    writeFileSync(out, JSON.stringify({ cpuS: (u.userCPUTime + u.systemCPUTime) / 1e6, maxRssMiB: u.maxRSS / 1024 }));
  });
}
