/**
 * The drill report: one self-contained HTML file (inline CSS, charts as inline SVG drawn here, no
 * script, no external URL) plus the same data as JSON. Pure and deterministic: the same report
 * renders to the same bytes, so a re-rendered report can be diffed against an old one.
 *
 * Every string that comes from the report (host names, errors, labels) goes through `esc`: host
 * names and probe errors are data from machines, not markup.
 */
import { formatDistribution } from "./stats.ts";
import { probeReason } from "./figures.ts";
import type { ApiSample, ComparisonRow, DistributionRow, DrillReport, EtcdWrite, Mark, ScenarioFigures, ScenarioResult, VipEvent } from "./types.ts";

/** The HTML file and the JSON file `--report PATH` writes, in that order. */
export function reportFiles(report: DrillReport, htmlPath: string): { path: string; content: string }[] {
  return [
    { path: htmlPath, content: renderReportHtml(report) },
    { path: jsonPathFor(htmlPath), content: reportJson(report) },
  ];
}

/** `x.html` / `x.htm` → `x.json`; any other name gets `.json` appended (`x` → `x.json`). */
export function jsonPathFor(htmlPath: string): string {
  const m = /\.html?$/i.exec(htmlPath);
  return m ? htmlPath.slice(0, m.index) + ".json" : htmlPath + ".json";
}

/** The report as pretty JSON with a final newline (the `.json` file next to the HTML). */
export function reportJson(report: DrillReport): string {
  return JSON.stringify(report, null, 2) + "\n";
}

/** The whole report as one HTML document. */
export function renderReportHtml(report: DrillReport): string {
  const title = `${report.standIn !== null ? "[stand-in] " : ""}kubeha drill: ${report.cluster}`;
  const body = [
    standInBanner(report),
    header(report),
    summaryTable(report),
    distributionTable(report),
    comparisonTable(report.comparison, report.runs),
    ...report.scenarios.map((s, i) => scenarioSection(report, s, i)),
  ].filter((x) => x !== "");
  return [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(title)}</title>`,
    `<style>${CSS}</style>`,
    "</head>",
    "<body>",
    ...body,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// Page parts

function standInBanner(r: DrillReport): string {
  if (r.standIn === null) return "";
  return [
    '<div class="standin" role="alert" id="stand-in">',
    "<strong>Stand-in control plane: these are not Kubernetes results.</strong>",
    "<p>The control-plane binaries of this cluster were stand-ins, not Kubernetes' own kubeadm, kubelet and " +
      "kube-apiserver: every API probe below answered from a stand-in.</p>",
    `<blockquote>${esc(r.standIn)}</blockquote>`,
    "</div>",
  ].join("\n");
}

function header(r: DrillReport): string {
  const p = r.probe;
  const rows: [string, string][] = [
    ["Cluster", esc(r.cluster)],
    ["Endpoint", `<code>${esc(r.endpoint)}</code>`],
    ["When", `${esc(r.startedAt)} → ${esc(r.finishedAt)}`],
    ["Probes from", esc(p.from)],
    [
      "API probe",
      `HTTPS GET ${esc(p.path)} through the endpoint at ${num(p.rateHz)}/s, timeout ${num(p.timeoutMs)} ms`,
    ],
    ["etcd probe", `sequential numbered writes, ${num(p.etcdIntervalMs)} ms apart; acknowledged keys read back after each scenario`],
    ["Scenarios", `${r.scenarios.length}`],
  ];
  return [
    "<header>",
    `<h1>kubeha drill: ${esc(r.cluster)}${r.standIn !== null ? ' <span class="tag standin-tag">stand-in</span>' : ""}</h1>`,
    '<dl class="meta">',
    ...rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`),
    "</dl>",
    "</header>",
  ].join("\n");
}

function summaryTable(r: DrillReport): string {
  const head = [
    "Scenario",
    "Profile",
    "Blackout ms",
    "Failed / total probes",
    "Persistent clients: longest without an answer ms / reconnects",
    "VIP moved ms",
    "Split brain ms",
    "Healthy after ms",
    "etcd acked / failed / lost",
    "Checks pass / fail",
  ];
  const rows = r.scenarios.map((s, i) => {
    const f = s.figures;
    const pass = s.checks.filter((c) => c.ok).length;
    const fail = s.checks.length - pass;
    return [
      `<tr data-scenario="${esc(s.scenario)}" data-profile="${esc(s.profile)}" class="${fail > 0 || s.problems.length > 0 ? "row-bad" : "row-ok"}">`,
      `<td><a href="#${sectionId(s, i)}">${esc(s.scenario)}</a></td>`,
      `<td>${esc(s.profile)}${r.runs > 1 ? ` · run ${s.run}` : ""}</td>`,
      `<td class="n">${num(f.blackoutMs)}</td>`,
      `<td class="n">${num(f.failedProbes)} / ${num(f.totalProbes)}${f.unsentProbes ? ` <span class="unsent" title="slots not sent: the probing process was late">+${num(f.unsentProbes)} unsent</span>` : ""}</td>`,
      `<td class="n">${s.persistent ? `${num(s.persistent.longestNoAnswerMs)} / ${num(s.persistent.reconnects)} <span class="proto">${esc(s.persistent.protocol)}</span>` : "—"}</td>`,
      `<td class="n">${msOrNull(f.vipMovedMs, "never")}</td>`,
      `<td class="n${f.splitBrainMs > 0 ? " bad" : ""}">${num(f.splitBrainMs)}</td>`,
      `<td class="n">${msOrNull(f.healthyAfterMs, "not healthy")}</td>`,
      `<td class="n">${num(f.etcdAcked)} / ${num(f.etcdFailed)} / <span class="${f.etcdLost > 0 ? "bad" : ""}">${num(f.etcdLost)}</span></td>`,
      `<td class="n"><span class="ok-text">${pass} pass</span> / <span class="${fail > 0 ? "bad" : ""}">${fail} fail</span></td>`,
      "</tr>",
    ].join("");
  });
  return [
    '<section id="summary">',
    "<h2>Summary</h2>",
    ...(r.persistentClients
      ? [
          `<p>Persistent clients: ${num(r.persistentClients.clients)} client-go-like clients, one long-lived connection each (the protocol measured is named in each row), ` +
            `a GET every ${num(r.persistentClients.intervalMs)} ms, HTTP/2 PING after ${num(r.persistentClients.readIdleMs)} ms read-idle with a ` +
            `${num(r.persistentClients.pingTimeoutMs)} ms timeout. The new-connection blackout beside it is the best case.</p>`,
        ]
      : []),
    '<table class="summary">',
    `<thead><tr>${head.map((h) => `<th scope="col">${h}</th>`).join("")}</tr></thead>`,
    "<tbody>",
    ...rows,
    "</tbody>",
    "</table>",
    "</section>",
  ].join("\n");
}

/** With several runs: min / p50 / p95 / max of every figure per scenario and profile. */
function distributionTable(r: DrillReport): string {
  if (r.runs <= 1 || r.distributions.length === 0) return "";
  const body = r.distributions.map((d: DistributionRow) =>
    [
      `<tr data-scenario="${esc(d.scenario)}" data-profile="${esc(d.profile)}" data-figure="${esc(d.figure)}">`,
      `<td>${esc(d.scenario)}</td>`,
      `<td>${esc(d.profile)}</td>`,
      `<td>${esc(d.figure)}</td>`,
      `<td class="n">${d.dist ? num(d.dist.n) : "0"}</td>`,
      `<td class="n">${esc(formatDistribution(d.dist))}</td>`,
      "</tr>",
    ].join(""),
  );
  return [
    '<section id="distribution">',
    `<h2>Distribution over ${num(r.runs)} runs</h2>`,
    "<p>Percentiles are nearest-rank: always one of the measured values (with 10 runs p95 is the largest). " +
      "n counts the runs that produced a value (a VIP that never moved has none).</p>",
    '<table class="distribution">',
    '<thead><tr><th scope="col">Scenario</th><th scope="col">Profile</th><th scope="col">Figure</th>' +
      '<th scope="col">n</th><th scope="col">min / p50 / p95 / max</th></tr></thead>',
    "<tbody>",
    ...body,
    "</tbody>",
    "</table>",
    "</section>",
  ].join("\n");
}

function comparisonTable(rows: ComparisonRow[], runs: number): string {
  if (rows.length === 0) return "";
  const body = rows.map((c) => {
    const ratio = c.ratio !== null && Number.isFinite(c.ratio) ? `${formatRatio(c.ratio)}×` : "";
    const cell = [ratio, c.note !== undefined ? esc(c.note) : ""].filter((x) => x !== "").join(" — ") || "—";
    const cls = c.ratio !== null && c.ratio > 1 ? "better" : c.ratio !== null && c.ratio < 1 ? "worse" : "";
    return [
      `<tr data-scenario="${esc(c.scenario)}" data-profile="${esc(c.profile)}">`,
      `<td>${esc(c.scenario)}</td>`,
      `<td>${esc(c.profile)}</td>`,
      `<td>${esc(c.figure)}</td>`,
      `<td class="n">${figureValue(c.figure, c.kubeha)}</td>`,
      `<td class="n">${figureValue(c.figure, c.seed)}</td>`,
      `<td class="n ${cls}">${cell}</td>`,
      "</tr>",
    ].join("");
  });
  return [
    '<section id="comparison">',
    "<h2>kubeha against the seeds' configurations</h2>",
    "<p>Ratio = seed ÷ kubeha for the same scenario on the same machines: above 1× the seed's configuration did worse." +
      (runs > 1 ? ` Values are each side's p50 over ${num(runs)} runs.` : "") +
      "</p>",
    '<table class="comparison">',
    '<thead><tr><th scope="col">Scenario</th><th scope="col">Profile</th><th scope="col">Figure</th>' +
      '<th scope="col">kubeha</th><th scope="col">Seed</th><th scope="col">Ratio</th></tr></thead>',
    "<tbody>",
    ...body,
    "</tbody>",
    "</table>",
    "</section>",
  ].join("\n");
}

function scenarioSection(r: DrillReport, s: ScenarioResult, i: number): string {
  const failedChecks = s.checks.filter((c) => !c.ok).length;
  const verdict =
    failedChecks > 0
      ? `<span class="tag bad-tag">${failedChecks} check${failedChecks === 1 ? "" : "s"} failed</span>`
      : `<span class="tag ok-tag">checks passed</span>`;
  return [
    `<section class="scenario" id="${sectionId(s, i)}" data-scenario="${esc(s.scenario)}" data-profile="${esc(s.profile)}">`,
    `<h2>${esc(s.scenario)} <span class="profile">· ${esc(s.profile)}</span> ${verdict}` +
      `${r.standIn !== null ? ' <span class="tag standin-tag">stand-in</span>' : ""}</h2>`,
    '<dl class="meta">',
    `<dt>Fault</dt><dd>${esc(s.fault)}</dd>`,
    `<dt>Targets</dt><dd>${s.targets.map(esc).join(", ") || "—"}</dd>`,
    `<dt>Expected</dt><dd>${esc(s.expectation)}</dd>`,
    `<dt>Started</dt><dd>${esc(s.startedAt)}, ran ${seconds(s.durationMs)}</dd>`,
    "</dl>",
    '<div class="chart">',
    timelineSvg(r, s, i),
    "</div>",
    legend(),
    marksList(s.marks),
    '<div class="cols">',
    figuresTable(s.figures),
    checksList(s.checks),
    "</div>",
    errorBreakdown(s.samples, s.writes),
    problemsList(s.problems),
    "</section>",
  ].join("\n");
}

function legend(): string {
  const items: [string, string][] = [
    ["sw-ok", "probe ok"],
    ["sw-fail", "probe failed"],
    ["sw-gap", "no probe samples"],
    ["sw-acked", "etcd write acked"],
    ["sw-wfail", "etcd write failed"],
    ["sw-split", "split brain (2+ VIP holders)"],
    ["sw-none", "nobody holds the VIP"],
  ];
  return `<ul class="legend">${items.map(([c, t]) => `<li><span class="sw ${c}"></span>${t}</li>`).join("")}</ul>`;
}

function marksList(marks: Mark[]): string {
  if (marks.length === 0) return "";
  const sorted = sortByT(marks);
  return [
    '<ol class="marks">',
    ...sorted.map((m) => `<li class="mark-${esc(m.kind)}"><span class="t">${seconds(m.t)}</span> <b>${esc(m.kind)}</b> ${esc(m.label)}</li>`),
    "</ol>",
  ].join("\n");
}

const FIGURE_ROWS: [keyof ScenarioFigures, string, string][] = [
  ["blackoutMs", "API blackout", "longest run of failed probes, first failure to next success"],
  ["failedProbes", "Failed probes", ""],
  ["totalProbes", "Total probes", ""],
  ["vipMovedMs", "VIP moved", "fault → one other machine holds the VIP"],
  ["splitBrainMs", "Split brain", "longest time two or more machines held the VIP"],
  ["healthyAfterMs", "Healthy again", "until status is healthy again after the restore"],
  ["leaderMovedMs", "Leader moved", "fault → another host holds the component's Lease (its acquireTime)"],
  ["etcdAcked", "etcd writes acked", ""],
  ["etcdFailed", "etcd writes failed", ""],
  ["etcdLost", "etcd acked writes lost", "must be 0"],
];

function figuresTable(f: ScenarioFigures): string {
  // A figure a scenario does not have (leaderMovedMs outside leader scenarios) gets no row.
  const rows = FIGURE_ROWS.filter(([key]) => f[key] !== undefined).map(([key, name, what]) => {
    const v = f[key]!;
    const isMs = key.endsWith("Ms");
    const text = v === null ? (key === "vipMovedMs" || key === "leaderMovedMs" ? "never" : "not healthy") : isMs ? `${num(v)} ms` : num(v);
    const bad = (key === "etcdLost" && v !== 0) || (key === "splitBrainMs" && v !== 0) || (key === "healthyAfterMs" && v === null);
    return `<tr><th scope="row">${name}</th><td class="n${bad ? " bad" : ""}">${text}</td><td class="what">${what}</td></tr>`;
  });
  return ['<table class="figures">', "<caption>Figures</caption>", "<tbody>", ...rows, "</tbody>", "</table>"].join("\n");
}

function checksList(checks: ScenarioResult["checks"]): string {
  if (checks.length === 0) return '<div class="checks"><h3>Checks</h3><p>No checks for this scenario.</p></div>';
  return [
    '<div class="checks">',
    "<h3>Checks</h3>",
    "<ul>",
    ...checks.map(
      (c) =>
        `<li class="${c.ok ? "check-ok" : "check-fail"}"><span class="verdict">${c.ok ? "✓ pass" : "✗ FAIL"}</span> ` +
        `<b>${esc(c.name)}</b> <span class="detail">${esc(c.detail)}</span></li>`,
    ),
    "</ul>",
    "</div>",
  ].join("\n");
}

/** Failure reasons with counts: the chart shows when, this shows why. */
function errorBreakdown(samples: ApiSample[], writes: EtcdWrite[]): string {
  const api = countErrors(samples.filter((s) => !s.ok).map(probeReason));
  const etcd = countErrors(writes.filter((w) => !w.acked).map((w) => w.error));
  if (api.length === 0 && etcd.length === 0) return "";
  const list = (title: string, rows: [string, number][]) =>
    rows.length === 0
      ? ""
      : `<div><h3>${title}</h3><ul class="reasons">${rows.map(([e, n]) => `<li><code>${esc(e)}</code> ×${n}</li>`).join("")}</ul></div>`;
  return `<div class="cols">${list("API probe failures", api)}${list("etcd write failures", etcd)}</div>`;
}

function countErrors(errors: (string | undefined)[]): [string, number][] {
  const m = new Map<string, number>();
  for (const e of errors) {
    const k = e ?? "(no reason given)";
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

function problemsList(problems: string[]): string {
  if (problems.length === 0) return "";
  return [
    '<div class="problems" role="note">',
    "<h3>Problems in the drill itself</h3>",
    "<ul>",
    ...problems.map((p) => `<li>${esc(p)}</li>`),
    "</ul>",
    "</div>",
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// The timeline chart

const W = 960;
const LEFT = 150;
const RIGHT = 20;
const LABEL_ROW = 14;
const LABEL_ROWS = 3;
const LANE_H = 24;
const VIP_ROW_H = 18;
const LANE_GAP = 10;
const AXIS_H = 30;
/** Colors for VIP holders; no red or green, which mean failed/ok in the other lanes. */
const HOST_COLORS = ["#4e79a7", "#f28e2b", "#76b7b2", "#b07aa1", "#edc948", "#9c755f", "#86bcb6", "#d4a6c8", "#8cd17d", "#bab0ac"];
const MARK_COLORS: Record<Mark["kind"], string> = {
  fault: "#c0392b",
  restore: "#2c6fbb",
  healthy: "#1e8449",
  note: "#666666",
};

/** A run of consecutive items in the same state, drawn as one rectangle. */
interface Run {
  ok: boolean;
  from: number;
  to: number;
  count: number;
  firstIndex: number;
}

/**
 * Consecutive items in the same state merged into one run. A run lasts from its first item's send
 * time to the next run's first send time (the figures' blackout definition); the last run ends
 * when its last item finished.
 */
function stateRuns<T extends { t: number; ms: number }>(items: readonly T[], ok: (x: T) => boolean): Run[] {
  const sorted = sortByT(items);
  const runs: Run[] = [];
  sorted.forEach((x, i) => {
    const state = ok(x);
    const last = runs[runs.length - 1];
    if (last && last.ok === state) {
      last.count++;
      last.to = x.t + x.ms;
    } else {
      if (last) last.to = x.t;
      runs.push({ ok: state, from: x.t, to: x.t + x.ms, count: 1, firstIndex: i });
    }
  });
  return runs;
}

/** Stretches between consecutive samples longer than `gapMs`: the probe was not sending. */
function sampleGaps(samples: readonly ApiSample[], gapMs: number): [number, number][] {
  const sorted = sortByT(samples);
  const gaps: [number, number][] = [];
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (b.t - a.t > gapMs) gaps.push([a.t + Math.min(a.ms, b.t - a.t), b.t]);
  }
  return gaps;
}

interface VipSpan {
  from: number;
  to: number;
  holders: string[];
}

function vipSpans(events: readonly VipEvent[], end: number): VipSpan[] {
  const sorted = sortByT(events);
  return sorted.map((e, i) => ({ from: e.t, to: Math.max(e.t, sorted[i + 1]?.t ?? end), holders: [...e.holders].sort(cmp) }));
}

function timelineSvg(r: DrillReport, s: ScenarioResult, index: number): string {
  const id = `c${index}`;
  // One color per machine across the whole report, so a host looks the same in every chart.
  const allHosts = [...new Set(r.scenarios.flatMap((x) => x.vip.flatMap((e) => e.holders)))].sort(cmp);
  const hosts = [...new Set(s.vip.flatMap((e) => e.holders))].sort(cmp);
  // A loop, not Math.max(...spread): a long drill has more samples than a call may take arguments.
  let end = Math.max(1, s.durationMs);
  for (const x of [...s.samples, ...s.writes]) end = Math.max(end, x.t + x.ms);
  for (const x of [...s.vip, ...s.marks]) end = Math.max(end, x.t);
  const plotW = W - LEFT - RIGHT;
  const x = (t: number) => LEFT + (Math.min(Math.max(t, 0), end) / end) * plotW;
  const width = (a: number, b: number) => Math.max(x(b) - x(a), 1);

  const topLabels = 4 + LABEL_ROWS * LABEL_ROW;
  const probeY = topLabels + 6;
  const etcdY = probeY + LANE_H + LANE_GAP;
  const vipY = etcdY + LANE_H + LANE_GAP;
  const vipRows = Math.max(hosts.length, 1);
  const vipH = vipRows * VIP_ROW_H;
  const axisY = vipY + vipH + 6;
  const H = axisY + AXIS_H;

  const out: string[] = [];
  const label = `Timeline of ${s.scenario} (${s.profile}): API probes, etcd writes and VIP holders over ${seconds(end)}`;
  out.push(
    `<svg class="timeline" id="${id}" data-scenario="${esc(s.scenario)}" data-profile="${esc(s.profile)}" ` +
      `viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(label)}" aria-labelledby="${id}-title" ` +
      `font-family="system-ui, sans-serif" font-size="11">`,
  );
  out.push(`<title id="${id}-title">${esc(label)}</title>`);
  out.push(
    `<defs><pattern id="${id}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
      `<rect width="6" height="6" fill="#fde2e2"/><line x1="0" y1="0" x2="0" y2="6" stroke="#d62839" stroke-width="3"/></pattern>` +
      `<pattern id="${id}-gap" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
      `<rect width="6" height="6" fill="#f4f4f4"/><line x1="0" y1="0" x2="0" y2="6" stroke="#bbbbbb" stroke-width="2"/></pattern></defs>`,
  );

  // Lane backgrounds and names.
  const lane = (y: number, h: number, name: string) =>
    `<rect class="lane" x="${LEFT}" y="${y}" width="${plotW}" height="${h}" fill="#fafafa" stroke="#dddddd"/>` +
    `<text x="${LEFT - 8}" y="${f1(y + h / 2 + 4)}" text-anchor="end" fill="#333333">${esc(name)}</text>`;
  out.push(lane(probeY, LANE_H, "API /readyz"));
  out.push(lane(etcdY, LANE_H, "etcd writes"));
  out.push(`<rect class="lane" x="${LEFT}" y="${vipY}" width="${plotW}" height="${vipH}" fill="#fafafa" stroke="#dddddd"/>`);

  // API probe lane: one rectangle per run of equal state, so ~3,000 samples stay a handful of shapes.
  const probeRuns = stateRuns(s.samples, (x) => x.ok);
  const sortedSamples = sortByT(s.samples);
  out.push(`<g class="lane-probe">`);
  for (const run of probeRuns) {
    const tip = runTitle(run, "probe", run.ok ? [] : errorsOf(sortedSamples, run, probeReason));
    out.push(
      `<rect class="${run.ok ? "probe-ok" : "probe-fail"}" x="${f1(x(run.from))}" y="${probeY + 2}" width="${f1(width(run.from, run.to))}" ` +
        `height="${LANE_H - 4}" fill="${run.ok ? "#2a9d57" : "#d62839"}"><title>${esc(tip)}</title></rect>`,
    );
  }
  const gapMs = Math.max(1000, (5 * 1000) / Math.max(r.probe.rateHz, 0.001));
  for (const [a, b] of sampleGaps(s.samples, gapMs)) {
    out.push(
      `<rect class="probe-gap" x="${f1(x(a))}" y="${probeY + 2}" width="${f1(width(a, b))}" height="${LANE_H - 4}" fill="url(#${id}-gap)">` +
        `<title>no probe samples ${seconds(a)} – ${seconds(b)}</title></rect>`,
    );
  }
  if (s.samples.length === 0) out.push(noData(LEFT + plotW / 2, probeY + LANE_H / 2 + 4, "no API probe samples"));
  out.push(`</g>`);

  // etcd lane.
  const writeRuns = stateRuns(s.writes, (w) => w.acked);
  const sortedWrites = sortByT(s.writes);
  out.push(`<g class="lane-etcd">`);
  for (const run of writeRuns) {
    const tip = runTitle(run, "write", run.ok ? [] : errorsOf(sortedWrites, run, (w) => w.error));
    out.push(
      `<rect class="${run.ok ? "etcd-ok" : "etcd-fail"}" x="${f1(x(run.from))}" y="${etcdY + 2}" width="${f1(width(run.from, run.to))}" ` +
        `height="${LANE_H - 4}" fill="${run.ok ? "#2f7fc1" : "#d62839"}"><title>${esc(tip)}</title></rect>`,
    );
  }
  if (s.writes.length === 0) out.push(noData(LEFT + plotW / 2, etcdY + LANE_H / 2 + 4, "no etcd writes"));
  out.push(`</g>`);

  // VIP lane: a row per machine that ever held the VIP; 2+ holders at once are hatched red across the lane.
  out.push(`<g class="lane-vip">`);
  const spans = vipSpans(s.vip, end);
  // Backgrounds first (hatched where 2+ machines or nobody hold the VIP), then the holders' bands,
  // then the split-brain outline and label on top so the bands cannot hide them.
  for (const sp of spans) {
    if (sp.holders.length >= 2) {
      out.push(
        `<rect class="vip-split" x="${f1(x(sp.from))}" y="${vipY}" width="${f1(width(sp.from, sp.to))}" height="${vipH}" fill="url(#${id}-hatch)">` +
          `<title>${esc(`split brain ${seconds(sp.from)} – ${seconds(sp.to)}: ${sp.holders.join(", ")} all hold the VIP`)}</title></rect>`,
      );
    } else if (sp.holders.length === 0) {
      out.push(
        `<rect class="vip-none" x="${f1(x(sp.from))}" y="${vipY}" width="${f1(width(sp.from, sp.to))}" height="${vipH}" fill="url(#${id}-gap)">` +
          `<title>${esc(`nobody holds the VIP ${seconds(sp.from)} – ${seconds(sp.to)}`)}</title></rect>`,
      );
    }
  }
  hosts.forEach((host, row) => {
    const y = vipY + row * VIP_ROW_H;
    const color = HOST_COLORS[allHosts.indexOf(host) % HOST_COLORS.length]!;
    out.push(`<text x="${LEFT - 8}" y="${f1(y + VIP_ROW_H / 2 + 4)}" text-anchor="end" fill="#333333">${esc(`VIP: ${clip(host, 20)}`)}</text>`);
    // Merge consecutive spans this host holds, so a host that keeps the VIP through a split is one band.
    const bands: [number, number][] = [];
    for (const sp of spans) {
      if (!sp.holders.includes(host)) continue;
      const last = bands[bands.length - 1];
      if (last && last[1] === sp.from) last[1] = sp.to;
      else bands.push([sp.from, sp.to]);
    }
    for (const [a, b] of bands) {
      out.push(
        `<rect class="vip-band" data-host="${esc(host)}" x="${f1(x(a))}" y="${y + 3}" width="${f1(width(a, b))}" height="${VIP_ROW_H - 6}" ` +
          `fill="${color}" stroke="#ffffff" stroke-width="0.5"><title>${esc(`${host} holds the VIP ${seconds(a)} – ${seconds(b)}`)}</title></rect>`,
      );
    }
  });
  for (const sp of spans) {
    if (sp.holders.length < 2) continue;
    out.push(
      `<rect class="vip-split-outline" x="${f1(x(sp.from))}" y="${vipY}" width="${f1(width(sp.from, sp.to))}" height="${vipH}" ` +
        `fill="none" stroke="#d62839" stroke-width="2"/>`,
    );
    if (x(sp.to) - x(sp.from) > 80) {
      out.push(
        `<text class="split-label" x="${f1((x(sp.from) + x(sp.to)) / 2)}" y="${f1(vipY + vipH / 2 + 4)}" text-anchor="middle" ` +
          `font-weight="bold" fill="#8b0000" stroke="#ffffff" stroke-width="4" paint-order="stroke">SPLIT BRAIN (${sp.holders.length} holders)</text>`,
      );
    }
  }
  if (hosts.length === 0) out.push(noData(LEFT + plotW / 2, vipY + VIP_ROW_H / 2 + 4, s.vip.length === 0 ? "no VIP readings" : "nobody held the VIP"));
  out.push(`</g>`);

  // Time axis.
  out.push(`<g class="axis">`);
  out.push(`<line x1="${LEFT}" y1="${axisY}" x2="${LEFT + plotW}" y2="${axisY}" stroke="#333333"/>`);
  const step = tickStep(end);
  for (let k = 0; k * step <= end + 1e-9; k++) {
    const t = k * step;
    const tx = f1(x(t));
    out.push(
      `<line x1="${tx}" y1="${axisY}" x2="${tx}" y2="${axisY + 5}" stroke="#333333"/>` +
        `<line x1="${tx}" y1="${probeY}" x2="${tx}" y2="${axisY}" stroke="#000000" stroke-opacity="0.06"/>` +
        `<text x="${tx}" y="${axisY + 17}" text-anchor="middle" fill="#333333">${tickLabel(t, step)}</text>`,
    );
  }
  out.push(`<text x="${LEFT - 22}" y="${axisY + 17}" text-anchor="end" fill="#333333">time since start</text>`);
  out.push(`</g>`);

  // Marks: vertical lines across every lane, labels stacked in rows so close marks stay readable.
  out.push(`<g class="marks">`);
  const rowEnds: number[] = Array.from({ length: LABEL_ROWS }, () => -Infinity);
  for (const m of sortByT(s.marks)) {
    const mx = x(m.t);
    const color = MARK_COLORS[m.kind] ?? "#666666";
    const text = clip(m.label, 40);
    const tw = text.length * 6 + 6;
    const anchorEnd = mx + tw > W - 2;
    const a = anchorEnd ? mx - tw : mx;
    let row = rowEnds.findIndex((e) => e + 4 <= a);
    if (row < 0) row = rowEnds.indexOf(Math.min(...rowEnds));
    rowEnds[row] = a + tw;
    const ly = 4 + (row + 1) * LABEL_ROW - 3;
    out.push(
      `<g class="mark mark-${esc(m.kind)}"><title>${esc(`${m.kind} at ${seconds(m.t)}: ${m.label}`)}</title>` +
        `<line x1="${f1(mx)}" y1="${ly + 3}" x2="${f1(mx)}" y2="${axisY}" stroke="${color}" stroke-width="${m.kind === "note" ? 1 : 2}"` +
        `${m.kind === "note" ? ' stroke-dasharray="4 3"' : ""}/>` +
        `<text x="${f1(anchorEnd ? mx - 3 : mx + 3)}" y="${ly}" text-anchor="${anchorEnd ? "end" : "start"}" fill="${color}">${esc(text)}</text></g>`,
    );
  }
  out.push(`</g>`);
  out.push(`</svg>`);
  return out.join("\n");
}

function noData(cx: number, y: number, text: string): string {
  return `<text class="no-data" x="${f1(cx)}" y="${f1(y)}" text-anchor="middle" fill="#888888">${esc(text)}</text>`;
}

function runTitle(run: Run, what: "probe" | "write", errors: [string, number][]): string {
  const state = what === "probe" ? (run.ok ? "ok" : "failed") : run.ok ? "acked" : "failed";
  const base = `${run.count} ${what}${run.count === 1 ? "" : "s"} ${state}, ${seconds(run.from)} – ${seconds(run.to)}`;
  return errors.length === 0 ? base : `${base}: ${errors.map(([e, n]) => `${e} ×${n}`).join(", ")}`;
}

function errorsOf<T>(sorted: readonly T[], run: Run, err: (x: T) => string | undefined): [string, number][] {
  return countErrors(sorted.slice(run.firstIndex, run.firstIndex + run.count).map(err));
}

/** A tick step (ms) from 1-2-5 steps that gives at most about 12 ticks. */
function tickStep(endMs: number): number {
  const steps = [100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000];
  return steps.find((s) => endMs / s <= 12) ?? Math.ceil(endMs / 12 / 3_600_000) * 3_600_000;
}

function tickLabel(t: number, step: number): string {
  return step < 1000 ? `${(t / 1000).toFixed(1)} s` : `${Math.round(t / 1000)} s`;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text and attribute values from the report, made inert. */
function esc(s: string): string {
  return String(s).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

function sectionId(s: ScenarioResult, i: number): string {
  return `s${i}-${esc(s.scenario)}-${esc(s.profile)}`;
}

function sortByT<T extends { t: number }>(xs: readonly T[]): T[] {
  // Stable sort: equal times keep the engine's order.
  return [...xs].sort((a, b) => a.t - b.t);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One decimal, no `-0`: keeps the SVG small and its bytes stable. */
function f1(n: number): string {
  const v = Math.round(n * 10) / 10;
  return String(v === 0 ? 0 : v);
}

/** An integer with thin-space thousands groups (locale-independent, so output is stable). */
function num(n: number): string {
  if (!Number.isFinite(n)) return "—";
  const r = Math.round(n);
  const s = String(Math.abs(r)).replace(/\B(?=(\d{3})+(?!\d))/g, "\u202f");
  return r < 0 ? `-${s}` : s;
}

/** `null` as words; only "not healthy" is bad in itself (a VIP that never moved is right for apiserver-down). */
function msOrNull(v: number | null, ifNull: string): string {
  if (v !== null) return num(v);
  return ifNull === "not healthy" ? `<span class="bad">${ifNull}</span>` : ifNull;
}

function figureValue(figure: ComparisonRow["figure"], v: number | null): string {
  if (v === null) return figure === "vipMovedMs" ? "never" : figure === "healthyAfterMs" ? "not healthy" : "—";
  return figure === "failedProbes" ? num(v) : `${num(v)} ms`;
}

function formatRatio(r: number): string {
  return r >= 100 ? String(Math.round(r)) : r.toFixed(1);
}

/** `3.25 s`. */
function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : s.slice(0, n - 1) + "…";
}

const CSS = `
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1040px; padding: 16px 24px 48px; color: #1b1b1b; background: #ffffff; line-height: 1.4; }
h1 { font-size: 1.6em; margin: 0.3em 0; }
h2 { font-size: 1.25em; margin: 1.6em 0 0.4em; border-bottom: 1px solid #dddddd; padding-bottom: 0.2em; }
h3 { font-size: 1em; margin: 0.8em 0 0.3em; }
.profile { color: #555555; font-weight: normal; }
.standin { border: 3px solid #b8860b; background: #fff4cc; padding: 10px 16px; margin: 8px 0 16px; border-radius: 4px; }
.standin strong { font-size: 1.15em; color: #7a4d00; }
.standin blockquote { margin: 6px 0 0; padding-left: 10px; border-left: 3px solid #b8860b; font-family: ui-monospace, monospace; white-space: pre-wrap; }
.tag { font-size: 0.7em; padding: 2px 6px; border-radius: 3px; vertical-align: middle; font-weight: bold; }
.standin-tag { background: #fff4cc; border: 1px solid #b8860b; color: #7a4d00; }
.ok-tag { background: #e3f5e9; border: 1px solid #2a9d57; color: #14532d; }
.bad-tag { background: #fde2e2; border: 1px solid #d62839; color: #8b0000; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0.4em 0; }
dl.meta dt { font-weight: bold; color: #444444; }
dl.meta dd { margin: 0; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.92em; }
th, td { border: 1px solid #dddddd; padding: 3px 8px; text-align: left; vertical-align: top; }
thead th { background: #f2f2f2; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.what { color: #555555; }
table.summary td:nth-child(-n+2), table.comparison td:nth-child(-n+3) { white-space: nowrap; }
caption { text-align: left; font-weight: bold; padding-bottom: 4px; }
.bad { color: #b00020; font-weight: bold; }
.ok-text { color: #1e7a45; }
.better { color: #1e7a45; font-weight: bold; }
.worse { color: #b00020; font-weight: bold; }
tr.row-bad td:first-child { border-left: 4px solid #d62839; }
tr.row-ok td:first-child { border-left: 4px solid #2a9d57; }
.chart { overflow-x: auto; margin: 0.6em 0 0.2em; }
.chart svg { display: block; max-width: 100%; height: auto; }
.legend { list-style: none; padding: 0; margin: 0.2em 0; display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 0.85em; }
.sw { display: inline-block; width: 14px; height: 10px; margin-right: 5px; vertical-align: middle; border: 1px solid #999999; }
.sw-ok { background: #2a9d57; } .sw-fail { background: #d62839; } .sw-acked { background: #2f7fc1; } .sw-wfail { background: #d62839; }
.sw-gap, .sw-none { background: repeating-linear-gradient(45deg, #f4f4f4 0 3px, #bbbbbb 3px 5px); }
.sw-split { background: repeating-linear-gradient(45deg, #fde2e2 0 3px, #d62839 3px 6px); }
ol.marks { list-style: none; padding: 0; margin: 0.3em 0; font-size: 0.85em; columns: 2; }
ol.marks .t { font-variant-numeric: tabular-nums; color: #555555; display: inline-block; min-width: 5em; }
.mark-fault b { color: #c0392b; } .mark-restore b { color: #2c6fbb; } .mark-healthy b { color: #1e8449; } .mark-note b { color: #666666; }
.cols { display: flex; flex-wrap: wrap; gap: 8px 32px; align-items: flex-start; }
.checks ul, .problems ul, ul.reasons { padding-left: 1.2em; margin: 0.2em 0; }
.checks li { list-style: none; margin-left: -1.2em; padding: 2px 6px; border-radius: 3px; margin-bottom: 2px; }
.check-ok { background: #e3f5e9; }
.check-fail { background: #fde2e2; }
.check-ok .verdict { color: #14532d; font-weight: bold; }
.check-fail .verdict { color: #8b0000; font-weight: bold; }
.detail { color: #444444; }
.problems { border: 2px solid #d62839; background: #fff5f5; padding: 4px 12px; margin: 0.6em 0; border-radius: 4px; }
code { font-family: ui-monospace, monospace; font-size: 0.95em; }
@media print { .chart { overflow: visible; } section.scenario { break-inside: avoid; } }
`.trim();
