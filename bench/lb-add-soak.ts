/**
 * Benchmark (not a test): does adding and removing an LB host ever put the VIP on a second host, and
 * how close does it come? nodes.test's LB tier (3 masters with external etcd, dedicated LB hosts
 * lb1..lb3; Kubernetes binaries are the stand-ins) is built without lb3; then, N rounds: `kubeha
 * apply` with lb3 in the file (lb3's first install of haproxy and keepalived, every LB host's
 * keepalived reloaded with the new unicast peer list, lb3 started), then `kubeha node remove lb3
 * --write` (reloaded again without it), then lb3's packages purged so that the next round installs
 * them afresh. Each operation runs under the e2e's load (API probes through the VIP at 50/s, etcd
 * writes), optionally with `stress-ng --cpu K` beside it, while
 * - the VIP holders are watched on every LB host (src/drill/watch.ts): any change is a spurious
 *   VIP move (the target is 0), and the keepalived journals around it are printed;
 * - tcpdump captures every VRRP advert (kernel timestamps): per sender, the longest silence between
 *   two of its adverts, and per link the longest gap between arrivals. A backup takes the VIP when
 *   that silence reaches its master-down interval (3 adverts + skew: ~71 ms for priority 120 at
 *   20 ms adverts), so the figure is the margin left. Also printed: every change of a sender's
 *   advertised priority (when the reload took the new configuration) and keepalived's reloads.
 *
 *   sudo node --import tsx bench/lb-add-soak.ts [--rounds 10] [--stress K] [--keep]
 *     [--name LAB --subnet CIDR]   (default lab kb-lbadd on 198.19.201.0/24)
 *
 * Needs `npm run build` (the CLI runs from dist/, as the e2e tests run it). Exit status 1 when the
 * VIP moved in any round.
 */
import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { labDown, labExec, labUp, sleep, type LabInfo } from "../src/lab/index.ts";
import { parseCluster } from "../src/spec/read.ts";
import type { Cluster } from "../src/spec/model.ts";
import { watchVip } from "../src/drill/watch.ts";
import { loadSummary, startLoad } from "../src/drill/load.ts";
import { kubehaLive, REPO } from "../test/helpers/cli.ts";
import { withoutHosts } from "../test/helpers/e2e-lab.ts";
import { benchArgs } from "./args.ts";
import { parseAdvert, type Advert } from "./vrrp-anatomy.ts";

const { values } = benchArgs(import.meta.url, {
  rounds: { type: "string", default: "10" },
  stress: { type: "string", default: "0" },
  keep: { type: "boolean" },
  name: { type: "string", default: "kb-lbadd" },
  subnet: { type: "string", default: "198.19.201.0/24" },
});
const rounds = Number(values.rounds);
const stressCpus = Number(values.stress);
if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(stressCpus) || stressCpus < 0) {
  console.error("lb-add-soak: --rounds must be a whole number >= 1 and --stress >= 0");
  process.exit(2);
}
const NAME = values.name;

await labDown(NAME); // a lab left by a killed run
const cwd = mkdtempSync(join(tmpdir(), `kubeha-${NAME}-`));
console.log(`lab ${NAME}: up (3 masters, 3 LB hosts)`);
const lab: LabInfo = await labUp({ name: NAME, subnet: values.subnet, masters: 3, workers: 0, lbs: 3, cwd, bundle: join(REPO, "test/standins/bundle") });
const fullText = readFileSync(lab.clusterFile, "utf8");

function writeHosts(without: string[]): void {
  writeFileSync(lab.clusterFile, withoutHosts(fullText, without));
}
function cluster(text: string): Cluster {
  const r = parseCluster(text, { sourcePath: lab.clusterFile });
  if (!r.cluster) throw new Error(r.problems.map((p) => p.message).join("\n"));
  return r.cluster;
}
async function cli(args: string[]) {
  const r = await kubehaLive(args, { cwd, timeoutMs: 10 * 60_000 }, () => undefined);
  // Thrown, not exited: the rounds' `finally` stops stress-ng and takes the lab down.
  if (r.code !== 0) throw new Error(`kubeha ${args.join(" ")} failed (exit ${r.code})\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  return r;
}

/** The longest gap (ms) between consecutive items of each key, and when it ended (wall ms). */
function longestGaps<T extends { wallMs: number }>(items: readonly T[], key: (x: T) => string): Map<string, { gap: number; at: number }> {
  const out = new Map<string, { gap: number; at: number }>();
  const last = new Map<string, number>();
  for (const x of items) {
    const k = key(x);
    const p = last.get(k);
    if (p !== undefined && x.wallMs - p > (out.get(k)?.gap ?? 0)) out.set(k, { gap: x.wallMs - p, at: x.wallMs });
    last.set(k, x.wallMs);
  }
  return out;
}

let stress: ReturnType<typeof spawn> | undefined;
const startStress = () => stressCpus > 0 ? spawn("stress-ng", ["--cpu", String(stressCpus), "--timeout", `${rounds * 10}m`], { stdio: "ignore" }) : undefined;
const all = cluster(fullText);
const lbs = all.hosts.filter((h) => h.roles.includes("lb"));
let moves = 0;

async function op(label: string, args: string[]): Promise<void> {
  const before = cluster(readFileSync(lab.clusterFile, "utf8"));
  const t0 = performance.now();
  const watcher = watchVip(all, lbs, () => performance.now() - t0, { maxMs: 15 * 60_000 });
  if (!(await watcher.ready(15_000))) throw new Error("the VIP watcher did not get every LB host's addresses");
  const since = Math.floor(Date.now() / 1000) - 1;
  const lines: string[] = [];
  const dump = spawn("tcpdump", ["-i", "any", "-n", "-tt", "-l", "ip proto 112"], { stdio: ["ignore", "pipe", "ignore"] });
  createInterface({ input: dump.stdout! }).on("line", (l) => lines.push(l));
  await sleep(500);
  const load = await startLoad(before, { rateHz: 50 });
  const a0 = performance.now();
  await cli(args);
  const ms = Math.round(performance.now() - a0);
  await sleep(3000);
  const f = await load.stop();
  await watcher.stop();
  dump.kill();
  const adverts = lines.map(parseAdvert).filter((x): x is Advert => x !== undefined);
  // Arrivals: the copy leaving the bridge towards the receiver ("Out" on the receiver's veth).
  const arrivals = lines.map((l) => /^(\d+)\.(\d{6}) \S+ +Out +IP (\S+) > (\S+): VRRPv\d, Advertisement, vrid \d+, prio (\d+)/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ wallMs: Number(m[1]) * 1000 + Number(m[2]) / 1000, link: `${m[3]}>${m[4]}`, prio: Number(m[5]) }));
  const gaps = longestGaps(adverts, (a) => a.src);
  const inGaps = longestGaps(arrivals, (a) => a.link);
  // Every change of a sender's advertised priority.
  const prios: string[] = [];
  const lastPrio = new Map<string, number>();
  for (const a of adverts) {
    if (lastPrio.get(a.src) !== a.prio) prios.push(`${a.src.split(".").at(-1)}:${a.prio}@${(a.wallMs / 1000).toFixed(3)}`);
    lastPrio.set(a.src, a.prio);
  }
  const name = (ip: string) => lab.machines.find((m) => m.address === ip)?.name ?? ip;
  console.log(`  adverts ${adverts.length}; longest silence per sender: ${[...gaps].map(([ip, g]) => `${name(ip)} ${g.gap.toFixed(1)} ms`).join(", ")}; per link (arrival) ${[...inGaps].map(([l, g]) => `${l.replace(/\d+\.\d+\.\d+\./g, "")} ${g.gap.toFixed(1)} ending ${(g.at / 1000).toFixed(3)}`).join(", ")}; prio changes ${prios.join(" ")}`);
  const ev = watcher.events;
  const changes = ev.length - 1;
  console.log(`${label}: ${(ms / 1000).toFixed(1)} s; ${loadSummary(f)}; holders ${JSON.stringify(ev.map((e) => e.holders))} at ${ev.map((e) => Math.round(e.t)).join(",")} ms`);
  // When each LB host's keepalived reloaded and lb3's dpkg ran, on the same clock as the capture.
  for (const h of ["lb1", "lb2", "lb3"]) {
    const j = await labExec(NAME, h, ["bash", "-c", `journalctl --since @${since} --no-pager -o short-unix | grep -E '(Reloading|Reloaded|Starting|Started) keepalived' | head -6`], { timeoutMs: 30_000 });
    if (j.stdout.trim()) console.log(`  ${h}: ${j.stdout.trim().split("\n").map((l) => l.slice(0, 110)).join("\n  " + h + ": ")}`);
  }
  if (changes > 0) {
    moves += changes;
    for (const h of ["lb1", "lb2", "lb3"]) {
      const j = await labExec(NAME, h, ["bash", "-c", `journalctl -u keepalived --since @${since} --no-pager -o short-precise | tail -60`], { timeoutMs: 30_000 });
      console.log(`--- ${h} keepalived journal since @${since}\n${j.stdout}`);
    }
  }
}

// node remove forgets lb3's host key; each round puts the pinned keys back before adding it again.
const knownHosts = join(dirname(lab.clusterFile), "known_hosts");
const pinnedHosts = join(dirname(lab.clusterFile), "known_hosts.full");
try {
  writeHosts(["lb3"]);
  console.log("apply without lb3");
  await cli(["apply", lab.clusterFile, "--output", "plain"]);
  copyFileSync(knownHosts, pinnedHosts);
  stress = startStress();
  for (let i = 1; i <= rounds; i++) {
    writeHosts([]);
    copyFileSync(pinnedHosts, knownHosts);
    await op(`round ${i}: add lb3`, ["apply", lab.clusterFile, "--output", "plain"]);
    await op(`round ${i}: remove lb3`, ["node", "remove", lab.clusterFile, "lb3", "--write"]);
    // A first install on lb3 every round, as in nodes.test (dpkg is most of the load).
    await labExec(NAME, "lb3", ["bash", "-c", "DEBIAN_FRONTEND=noninteractive apt-get purge -y -q haproxy keepalived >/dev/null 2>&1; rm -rf /etc/haproxy /etc/keepalived"], { timeoutMs: 120_000 });
    // node remove --write rewrote the file without lb3; the full text adds it back next round.
  }
} finally {
  stress?.kill();
  if (!values.keep) {
    await labDown(NAME);
    rmSync(cwd, { recursive: true, force: true });
  }
}
console.log(`${rounds} rounds: ${moves} VIP holder changes`);
process.exit(moves > 0 ? 1 : 0);
