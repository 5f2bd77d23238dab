/** The text summary `kubeha drill` prints: one row per scenario, the failed checks, the ratios. Pure. */
import { table } from "../report/format.ts";
import { formatDistribution } from "./stats.ts";
import type { DrillReport } from "./types.ts";
import type { PersistentFigures } from "./persistent.ts";

const ms = (v: number | null) => (v === null ? "-" : String(v));
const persistentCell = (p: PersistentFigures | null) => (p ? `${p.longestNoAnswerMs} / ${p.reconnects} (${p.protocol})` : "-");

export function renderDrillSummary(r: DrillReport): string {
  const out: string[] = [];
  if (r.standIn) out.push(`STAND-IN control plane: ${r.standIn}`, "These figures measure kubeha's LB/etcd layer around stand-ins; they are not Kubernetes results.", "");
  out.push(`drill of ${r.cluster} (${r.endpoint}); probes ${r.probe.rateHz}/s, timeout ${r.probe.timeoutMs} ms, from ${r.probe.from}`, "");
  const runCol = r.runs > 1;
  const rows = [["SCENARIO", "PROFILE", ...(runCol ? ["RUN"] : []), "BLACKOUT ms", "FAILED/TOTAL", "PERSISTENT NO-ANSWER ms / RECONNECTS", "VIP MOVED ms", "2 HOLDERS ms", "HEALTHY ms", "ETCD ACKED/FAILED/LOST", "RESULT"]];
  for (const s of r.scenarios) {
    const f = s.figures;
    const bad = s.checks.filter((c) => !c.ok).length + s.problems.length;
    rows.push([s.scenario, s.profile, ...(runCol ? [`${s.run}/${r.runs}`] : []), String(f.blackoutMs), `${f.failedProbes}/${f.totalProbes}${f.unsentProbes ? ` +${f.unsentProbes} unsent` : ""}`, persistentCell(s.persistent), ms(f.vipMovedMs), String(f.splitBrainMs), ms(f.healthyAfterMs), `${f.etcdAcked}/${f.etcdFailed}/${f.etcdLost}`, bad ? "FAIL" : "ok"]);
  }
  out.push(table(rows));
  const lanes = [...new Set(r.scenarios.flatMap((s) => (s.persistent ? [s.persistent.protocol] : [])))];
  if (r.persistentClients) {
    const p = r.persistentClients;
    out.push(
      "",
      `Persistent clients: ${p.clients} client-go-like clients, one long-lived connection each over ${lanes.length ? lanes.join(" and ") : "(none started)"}, ` +
        `GET every ${p.intervalMs} ms, HTTP/2 PING after ${p.readIdleMs} ms read-idle with a ${p.pingTimeoutMs} ms timeout. ` +
        "NO-ANSWER is the longest any of them went without an answer (the new-connection BLACKOUT is the best case).",
    );
  }
  const issues = r.scenarios.flatMap((s) => [
    ...s.checks.filter((c) => !c.ok).map((c) => `${s.scenario} [${s.profile}]${runCol ? ` run ${s.run}` : ""}: ${c.name}: ${c.detail}`),
    ...s.problems.map((p) => `${s.scenario} [${s.profile}]${runCol ? ` run ${s.run}` : ""}: ${p}`),
  ]);
  if (issues.length) out.push("", "Not met:", ...issues.map((i) => `  ${i}`));
  if (r.runs > 1) {
    out.push("", `Distribution over ${r.runs} runs (min / p50 / p95 / max; nearest-rank percentiles; n = runs with a value):`);
    const d = [["SCENARIO", "PROFILE", "FIGURE", "N", "MIN / P50 / P95 / MAX"]];
    for (const x of r.distributions) d.push([x.scenario, x.profile, x.figure, String(x.dist?.n ?? 0), formatDistribution(x.dist)]);
    out.push(table(d));
  }
  if (r.comparison.length) {
    out.push("", `Seeds compared with kubeha (ratio = seed / kubeha${r.runs > 1 ? `; each side's p50 over ${r.runs} runs` : ""}):`);
    const c = [["SCENARIO", "PROFILE", "FIGURE", "KUBEHA", "SEED", "RATIO"]];
    for (const x of r.comparison) c.push([x.scenario, x.profile, x.figure, ms(x.kubeha), ms(x.seed), x.ratio === null ? (x.note ?? "-") : `${x.ratio}×`]);
    out.push(table(c));
  }
  return out.join("\n");
}
