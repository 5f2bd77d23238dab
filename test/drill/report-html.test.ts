import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { renderReportHtml, reportFiles, reportJson } from "../../src/drill/report-html.ts";
import { distributionRows } from "../../src/drill/compare.ts";
import type { ApiSample, DrillReport, EtcdWrite, Mark, ScenarioResult, VipEvent } from "../../src/drill/types.ts";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const outDir = path.join(repo, "test-output");
const EVIL_HOST = "<b>x</b>";
const EVIL_PROBLEM = `restore of <script>alert("m1")</script> & friends failed`;

/** Deterministic pseudo-random numbers (LCG), so the synthetic report is the same every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** 50/s for `durationMs`; a probe fails when `fails(t)` returns its reason. */
function samples(durationMs: number, fails: (t: number) => string | undefined, seed: number): ApiSample[] {
  const r = rng(seed);
  const out: ApiSample[] = [];
  for (let t = 0; t < durationMs; t += 20) {
    const error = fails(t);
    // A timeout's phase alternates (connect, answer), so the report's reasons must tell the two apart.
    const phase = error === "timeout" ? (t % 40 === 0 ? "connect" : "answer") : error === "ECONNREFUSED" ? "connect" : undefined;
    out.push(error ? { t, ms: error === "timeout" ? 500 : 1 + Math.round(r() * 3), ok: false, error, ...(phase ? { phase } : {}) } : { t, ms: 3 + Math.round(r() * 12), ok: true });
  }
  return out;
}

function writes(durationMs: number, fails: (t: number) => string | undefined): EtcdWrite[] {
  const out: EtcdWrite[] = [];
  let t = 0;
  for (let seq = 1; t < durationMs; seq++) {
    const error = fails(t);
    const ms = error ? 1000 : 8;
    out.push(error ? { seq, t, ms, acked: false, error } : { seq, t, ms, acked: true });
    t += ms + 100;
  }
  return out;
}

function scenario(
  over: Pick<ScenarioResult, "scenario" | "profile" | "samples" | "writes" | "vip" | "marks"> & Partial<ScenarioResult>,
): ScenarioResult {
  const failed = over.samples.filter((s) => !s.ok).length;
  return {
    run: 1,
    persistent: null,
    targets: ["m1"],
    fault: "SIGKILL haproxy on m1 (the VIP holder)",
    expectation: "the VIP moves within 1 s; no acknowledged write is lost",
    startedAt: "2025-01-01T10:00:00.000Z",
    durationMs: 20_000,
    figures: {
      blackoutMs: 1200,
      failedProbes: failed,
      totalProbes: over.samples.length,
      vipMovedMs: 600,
      splitBrainMs: 0,
      healthyAfterMs: 9500,
      etcdAcked: over.writes.filter((w) => w.acked).length,
      etcdFailed: over.writes.filter((w) => !w.acked).length,
      etcdLost: 0,
    },
    checks: [
      { name: "blackout ≤ 1000 ms", ok: false, detail: "1200 ms" },
      { name: "no acknowledged write lost", ok: true, detail: "0 of 150 lost" },
    ],
    problems: [],
    ...over,
  };
}

function syntheticReport(): DrillReport {
  const marks = (fault: number): Mark[] => [
    { t: fault, kind: "fault", label: "SIGKILL haproxy on m1" },
    { t: fault + 100, kind: "note", label: "keepalived FAULT on m1" },
    { t: 12_000, kind: "restore", label: "haproxy started on m1" },
    { t: 14_500, kind: "healthy", label: "status healthy" },
  ];
  const haproxy = scenario({
    scenario: "lb-haproxy-dies",
    profile: "kubeha",
    targets: ["m1"],
    // One long window (refused, then timeouts) and two isolated failures: three failure runs.
    samples: samples(20_000, (t) => (t >= 5000 && t < 5600 ? "ECONNREFUSED" : t >= 5600 && t < 6200 ? "timeout" : t === 9000 || t === 9040 ? "ECONNRESET" : undefined), 1),
    writes: writes(20_000, () => undefined),
    vip: [
      { t: 0, holders: ["m1"] },
      { t: 5400, holders: [] },
      { t: 5600, holders: [EVIL_HOST] },
    ],
    marks: marks(5000),
  });
  const partition = scenario({
    scenario: "lb-partition",
    profile: "kubeha",
    targets: ["m1", "m2", EVIL_HOST],
    fault: "drop VRRP between the load balancers",
    expectation: "two VIP holders are detected and reported",
    samples: samples(20_000, (t) => (t >= 6000 && t < 6100 ? "ECONNRESET" : t >= 8000 && t < 8400 ? "HTTP 500" : undefined), 2),
    writes: writes(20_000, (t) => (t >= 6000 && t < 7500 ? "context deadline exceeded" : undefined)),
    vip: [
      { t: 0, holders: ["m1"] },
      { t: 6000, holders: ["m1", "m2"] },
      { t: 11_000, holders: ["m1"] },
    ] satisfies VipEvent[],
    marks: [
      { t: 6000, kind: "fault", label: "iptables DROP vrrp between LBs" },
      { t: 11_000, kind: "restore", label: "rules removed" },
      { t: 13_000, kind: "healthy", label: "status healthy" },
    ],
    problems: [EVIL_PROBLEM],
  });
  partition.figures.splitBrainMs = 5000;
  const seed = scenario({
    scenario: "lb-haproxy-dies",
    profile: "seed-002",
    samples: samples(20_000, (t) => (t >= 5000 && t < 9500 ? "timeout" : undefined), 3),
    writes: writes(20_000, () => undefined),
    vip: [
      { t: 0, holders: ["m1"] },
      { t: 9300, holders: ["m2"] },
    ],
    marks: marks(5000),
  });
  seed.figures.blackoutMs = 4500;
  return {
    version: 1,
    cluster: "lab-3",
    endpoint: "https://198.18.0.10:6443",
    startedAt: "2025-01-01T10:00:00.000Z",
    finishedAt: "2025-01-01T10:03:10.000Z",
    probe: { from: "kubeha host (198.18.0.1)", path: "/readyz?exclude=shutdown", rateHz: 50, timeoutMs: 500, etcdIntervalMs: 100 },
    persistentClients: { clients: 3, intervalMs: 200, readIdleMs: 30_000, pingTimeoutMs: 15_000 },
    standIn: "kube-apiserver stand-in (test/standins/kube-apiserver): answers /readyz from etcd health",
    runs: 1,
    scenarios: [haproxy, partition, seed],
    distributions: distributionRows([haproxy, partition, seed]),
    comparison: [
      { scenario: "lb-haproxy-dies", profile: "seed-002", figure: "blackoutMs", kubeha: 1200, seed: 4500, ratio: 3.75 },
      { scenario: "lb-haproxy-dies", profile: "seed-002", figure: "splitBrainMs", kubeha: 0, seed: 0, ratio: null, note: "0 ms both" },
    ],
  };
}

/** Failure runs as the data has them: consecutive failed samples in send order. */
function failureRuns(s: ScenarioResult): number {
  const sorted = [...s.samples].sort((a, b) => a.t - b.t);
  return sorted.filter((x, i) => !x.ok && (i === 0 || sorted[i - 1]!.ok)).length;
}

function escHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

function reportStrings(v: unknown, out: string[] = []): string[] {
  if (typeof v === "string") out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => reportStrings(x, out));
  else if (v && typeof v === "object") Object.values(v).forEach((x) => reportStrings(x, out));
  return out;
}

/**
 * The self-containment rule. The page must not load anything: no <script>, <link>, <img>, <iframe>,
 * <object>, <embed>, <base>, no `src=` attribute, no CSS `@import` and no `url(` other than a
 * same-document `url(#id)`, and every `href` is a same-document `#anchor`. Separately, every
 * `http://` or `https://` in the file must lie inside an occurrence of a (HTML-escaped) string
 * field of the report, e.g. the endpoint URL: such text is shown, never fetched. (The SVG is
 * inline HTML, so it needs no xmlns URL.) Returns the violations.
 */
function selfContainmentViolations(html: string, report: DrillReport): string[] {
  const bad: string[] = [];
  for (const re of [/<(script|link|img|iframe|object|embed|base|audio|video|source)\b/gi, /\bsrc\s*=/gi, /@import/gi, /url\((?!#)/gi, /\bhref\s*=\s*"(?!#)/gi]) {
    for (const m of html.matchAll(re)) bad.push(`${m[0]} at ${m.index}`);
  }
  const allowed: [number, number][] = [];
  for (const s of new Set(reportStrings(report).map(escHtml))) {
    if (!/https?:\/\//i.test(s)) continue;
    for (let i = html.indexOf(s); i >= 0; i = html.indexOf(s, i + 1)) allowed.push([i, i + s.length]);
  }
  for (const m of html.matchAll(/https?:\/\//gi)) {
    if (!allowed.some(([a, b]) => m.index >= a && m.index + m[0].length <= b)) bad.push(`${m[0]} at ${m.index}: ${html.slice(m.index, m.index + 60)}`);
  }
  return bad;
}

describe("drill report HTML", () => {
  const report = syntheticReport();
  const html = renderReportHtml(report);

  test("the synthetic data has what the report must draw", () => {
    assert.equal(report.scenarios[0]!.samples.length, 1000);
    assert.deepEqual(report.scenarios.map(failureRuns), [3, 2, 1]);
  });

  test("is self-contained: loads nothing, URLs only as report text", () => {
    assert.deepEqual(selfContainmentViolations(html, report), []);
    // The rule is exercised (the endpoint URL is shown) and catches what it should.
    assert.ok(html.includes("https://198.18.0.10:6443"));
    assert.equal(selfContainmentViolations(html.replace("</body>", '<a href="https://example.org/x">x</a></body>'), report).length, 2);
    assert.equal(selfContainmentViolations(html.replace("</style>", "@import 'x.css';</style>"), report).length, 1);
    assert.equal(selfContainmentViolations(html.replace("</body>", "<p>see http://198.18.0.99/</p></body>"), report).length, 1);
  });

  test("escapes every string from the report", () => {
    assert.ok(!html.includes(EVIL_HOST));
    assert.ok(html.includes("&lt;b&gt;x&lt;/b&gt;"));
    assert.ok(!html.includes("<script"));
    assert.ok(html.includes("restore of &lt;script&gt;alert(&quot;m1&quot;)&lt;/script&gt; &amp; friends failed"));
  });

  test("is deterministic", () => {
    assert.equal(renderReportHtml(syntheticReport()), html);
    const now = Date.now;
    Date.now = () => 0;
    try {
      assert.equal(renderReportHtml(report), html);
    } finally {
      Date.now = now;
    }
  });

  test("one chart per scenario, failure runs merged into one rectangle each", () => {
    const charts = html.split('<svg class="timeline"').slice(1);
    assert.equal(charts.length, report.scenarios.length);
    charts.forEach((svg, i) => {
      const s = report.scenarios[i]!;
      assert.ok(svg.includes(`data-scenario="${s.scenario}" data-profile="${s.profile}"`));
      assert.match(svg, /<title id="c\d+-title">Timeline of /);
      const fails = (svg.match(/class="probe-fail"/g) ?? []).length;
      const oks = (svg.match(/class="probe-ok"/g) ?? []).length;
      assert.equal(fails, failureRuns(s));
      // 1,000 samples become a handful of shapes: runs alternate, so ok runs are within one of failure runs.
      assert.ok(Math.abs(oks - fails) <= 1, `${oks} ok rects vs ${fails} failure rects`);
    });
    // 3 scenarios × 1,000 samples: without merging the page would be far larger.
    assert.ok(html.length < 120_000, `${html.length} bytes`);
  });

  test("shows split brain and VIP holders, marks and etcd failures", () => {
    const partition = html.split('<svg class="timeline"')[2]!;
    assert.equal((partition.match(/class="vip-split"/g) ?? []).length, 1);
    assert.ok(partition.includes("SPLIT BRAIN"));
    assert.match(partition, /split brain 6\.00 s – 11\.00 s: m1, m2 all hold the VIP/);
    assert.ok((partition.match(/class="etcd-fail"/g) ?? []).length >= 1);
    const first = html.split('<svg class="timeline"')[1]!;
    assert.equal((first.match(/class="vip-split"/g) ?? []).length, 0);
    assert.equal((first.match(/class="vip-none"/g) ?? []).length, 1);
    for (const kind of ["fault", "note", "restore", "healthy"]) assert.ok(first.includes(`class="mark mark-${kind}"`), kind);
  });

  test("failure reasons say where a timeout happened: at connect (nobody answered) apart from at answer (a connection gone quiet)", () => {
    // The first scenario: 30 timeouts (5.6-6.2 s), at connect and at answer in turn; 30 refusals.
    const first = html.split("<h3>API probe failures</h3>")[1]!.split("</ul>")[0]!;
    assert.match(first, /<code>timeout at connect<\/code> ×15/);
    assert.match(first, /<code>timeout at answer<\/code> ×15/);
    assert.match(first, /<code>ECONNREFUSED<\/code> ×30/);
    assert.doesNotMatch(first, /<code>timeout<\/code>/);
  });

  test("draws data in any order, and scenarios with no data", () => {
    const shuffled = structuredClone(report);
    for (const s of shuffled.scenarios) {
      s.samples.reverse();
      s.writes.reverse();
      s.vip.reverse();
      s.marks.reverse();
    }
    assert.equal(renderReportHtml(shuffled), html);
    const empty = renderReportHtml({
      ...report,
      scenarios: [{ ...report.scenarios[0]!, samples: [], writes: [], vip: [], marks: [], durationMs: 0 }],
    });
    assert.equal(empty.split('<svg class="timeline"').length, 2);
    for (const text of ["no API probe samples", "no etcd writes", "no VIP readings"]) assert.ok(empty.includes(text), text);
    assert.ok(!empty.includes("NaN") && !empty.includes("Infinity"));
    assert.ok(!html.includes("NaN") && !html.includes("Infinity"));
  });

  test("summary, comparison and checks", () => {
    const tbody = html.slice(html.indexOf('<table class="summary">'), html.indexOf("</table>", html.indexOf('<table class="summary">')));
    assert.equal((tbody.match(/<tr data-scenario=/g) ?? []).length, 3);
    assert.ok(html.includes('<td class="n better">3.8×</td>'));
    assert.ok(html.includes("0 ms both"));
    assert.ok(html.includes('class="check-fail"><span class="verdict">✗ FAIL</span> <b>blackout ≤ 1000 ms</b>'));
    assert.ok(html.includes('class="check-ok"><span class="verdict">✓ pass</span>'));
    const noComparison = renderReportHtml({ ...report, comparison: [] });
    assert.ok(!noComparison.includes('id="comparison"'));
  });

  test("with several runs: a distribution table (min / p50 / p95 / max per figure), run numbers, p50 comparison", () => {
    assert.ok(!html.includes('id="distribution"'), "one run: no distribution table");
    const again = report.scenarios.map((s) => ({ ...s, run: 2, figures: { ...s.figures, blackoutMs: s.figures.blackoutMs * 2 } }));
    const scenarios = [...report.scenarios, ...again];
    const multi = renderReportHtml({ ...report, runs: 2, scenarios, distributions: distributionRows(scenarios) });
    const table = multi.slice(multi.indexOf('<section id="distribution">'), multi.indexOf("</section>", multi.indexOf('<section id="distribution">')));
    assert.match(table, /<h2>Distribution over 2 runs<\/h2>/);
    const b = report.scenarios[0]!.figures.blackoutMs;
    assert.ok(
      table.includes(`<tr data-scenario="lb-haproxy-dies" data-profile="kubeha" data-figure="blackoutMs"><td>lb-haproxy-dies</td><td>kubeha</td><td>blackoutMs</td><td class="n">2</td><td class="n">${b} / ${b} / ${b * 2} / ${b * 2}</td></tr>`),
      table,
    );
    assert.match(multi, /<td>kubeha · run 2<\/td>/);
    assert.match(multi, /Values are each side's p50 over 2 runs\./);
  });

  test("the stand-in banner is there exactly when standIn is set", () => {
    assert.match(html, /<div class="standin" role="alert" id="stand-in">\n<strong>Stand-in control plane: these are not Kubernetes results\.<\/strong>/);
    assert.ok(html.includes(`<blockquote>${escHtml(report.standIn!)}</blockquote>`));
    assert.match(html, /<title>\[stand-in\] kubeha drill: lab-3<\/title>/);
    const real = renderReportHtml({ ...report, standIn: null });
    assert.ok(!real.includes('id="stand-in"'));
    assert.ok(!real.includes("stand-in"));
  });

  test("reportFiles: the HTML and the same data as JSON beside it", () => {
    const files = reportFiles(report, "/tmp/out/drill.html");
    assert.deepEqual(files.map((f) => f.path), ["/tmp/out/drill.html", "/tmp/out/drill.json"]);
    assert.equal(files[0]!.content, html);
    assert.equal(files[1]!.content, reportJson(report));
    assert.ok(files[1]!.content.endsWith("}\n"));
    assert.deepEqual(JSON.parse(files[1]!.content), report);
    assert.equal(reportFiles(report, "r")[1]!.path, "r.json");
  });
});

describe("drill report in headless Chromium", () => {
  let browser: Browser | undefined;
  // The launch bound is generous on purpose: this file tests the report, not Chromium's start-up.
  // CI once measured over 10 s for the first launch on a fresh machine (about 0.4 s here, caches
  // dropped, one core busy), with nothing on Chromium's stderr but the wrapper's harmless /dev/shm warning.
  before(async () => {
    const started = Date.now();
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"], timeout: 120_000 });
    console.log(`headless Chromium launched in ${Date.now() - started} ms`);
  }, { timeout: 150_000 });
  after(async () => {
    await browser?.close();
  });

  test("charts render, failure runs are drawn, nothing is fetched", { timeout: 60_000 }, async () => {
    const report = syntheticReport();
    await fs.mkdir(outDir, { recursive: true });
    const htmlPath = path.join(outDir, "drill-report.html");
    for (const f of reportFiles(report, htmlPath)) await fs.writeFile(f.path, f.content);
    const url = pathToFileURL(htmlPath).href;

    const page = await browser!.newPage({ viewport: { width: 1100, height: 800 } });
    const problems: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console error: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("request", (r) => {
      if (r.url() !== url) problems.push(`request: ${r.url()}`);
    });
    page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ""}`));
    await page.goto(url, { waitUntil: "load" });

    // A string, not a function: tsx may wrap functions in helpers the page does not have.
    const charts = (await page.evaluate(`Array.from(document.querySelectorAll("svg.timeline")).map((svg) => {
      const box = svg.getBoundingClientRect();
      const fails = Array.from(svg.querySelectorAll("rect.probe-fail"));
      return {
        scenario: svg.dataset.scenario,
        profile: svg.dataset.profile,
        width: box.width,
        height: box.height,
        failRects: fails.length,
        visibleFailRects: fails.filter((r) => r.getBoundingClientRect().width > 0 && r.getBoundingClientRect().height > 0).length,
        hosts: Array.from(svg.querySelectorAll("rect.vip-band")).map((r) => r.getAttribute("data-host")),
      };
    })`)) as { scenario: string; profile: string; width: number; height: number; failRects: number; visibleFailRects: number; hosts: string[] }[];

    assert.equal(charts.length, report.scenarios.length);
    charts.forEach((c, i) => {
      const s = report.scenarios[i]!;
      assert.deepEqual([c.scenario, c.profile], [s.scenario, s.profile]);
      assert.ok(c.width > 100 && c.height > 50, `chart ${i} box ${c.width}×${c.height}`);
      assert.equal(c.failRects, failureRuns(s), `failure rectangles in chart ${i}`);
      assert.equal(c.visibleFailRects, c.failRects, `visible failure rectangles in chart ${i}`);
    });
    // The escaped host name arrives in the DOM as the literal text, not as markup.
    assert.ok(charts[0]!.hosts.includes(EVIL_HOST));

    const page2 = (await page.evaluate(`({
      summaryRows: document.querySelectorAll("#summary tbody tr").length,
      bannerHeight: document.getElementById("stand-in")?.getBoundingClientRect().height ?? 0,
      bannerText: document.getElementById("stand-in")?.innerText ?? "",
      bold: document.querySelectorAll("svg b, td b").length,
    })`)) as { summaryRows: number; bannerHeight: number; bannerText: string; bold: number };
    assert.equal(page2.summaryRows, report.scenarios.length);
    assert.ok(page2.bannerHeight > 20);
    assert.match(page2.bannerText, /these are not Kubernetes results/);
    assert.equal(page2.bold, 0);

    const png = path.join(outDir, "drill-report.png");
    await page.screenshot({ path: png, fullPage: true });
    await page.close();
    const buf = await fs.readFile(png);
    assert.deepEqual([...buf.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const [w, h] = [buf.readUInt32BE(16), buf.readUInt32BE(20)];
    assert.ok(w >= 1000 && h >= 1500, `screenshot ${w}×${h}`);
    assert.ok(buf.length > 50_000, `screenshot is ${buf.length} bytes`);
    assert.deepEqual(problems, []);
  });
});
