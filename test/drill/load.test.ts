import { test } from "node:test";
import assert from "node:assert/strict";
import { loadFigures, loadSummary, sentFailures } from "../../src/drill/load.ts";
import { LATE, SKIPPED } from "../../src/drill/types.ts";

test("load figures: failed probes, the longest outage and the first reasons", () => {
  const samples = [
    { t: 0, ms: 5, ok: true },
    { t: 20, ms: 1000, ok: false, error: "timeout" },
    { t: 40, ms: 3, ok: false, error: "ECONNRESET" },
    { t: 60, ms: 5, ok: true },
  ];
  const f = loadFigures(samples, 80, { acked: 10, failed: 1, lost: [] });
  assert.equal(f.probes, 4);
  assert.equal(f.failedProbes, 2);
  assert.equal(f.blackoutMs, 40);
  assert.deepEqual(f.failures, ["t=20 timeout", "t=40 ECONNRESET"]);
  assert.deepEqual(f.failed, [samples[1], samples[2]], "every failed probe, for timelines");
  assert.equal(f.t0, 0);
  assert.equal(loadFigures(samples, 80, null, 1234.5).t0, 1234.5);
  assert.equal(loadSummary(f), "4 probes in 0.1 s, 2 failed (blackout 40 ms); etcd 10 acked, 1 not acked, 0 lost");
  assert.equal(loadSummary(loadFigures([], 1000, null)), "0 probes in 1.0 s, 0 failed (blackout 0 ms)");
});

test("load summary: slots never sent (the probing process late, or its in-flight cap) are counted among the failed and named", () => {
  const f = loadFigures([
    { t: 0, ms: 5, ok: true },
    { t: 20, ms: 0, ok: false, error: LATE },
    { t: 40, ms: 0, ok: false, error: LATE },
    { t: 60, ms: 0, ok: false, error: SKIPPED },
    { t: 80, ms: 1000, ok: false, error: "timeout" },
  ], 100, null);
  assert.equal(loadSummary(f), "5 probes in 0.1 s, 4 failed (blackout 1060 ms), of which 3 never sent (the probing process late or at its in-flight cap)");
});

test("sentFailures: what counts against the cluster; unsent slots never, a timeout only when the probing process was not stalled during its wait", () => {
  const f = loadFigures([
    { t: 0, ms: 5, ok: true },
    { t: 20, ms: 1000, ok: false, error: "timeout" }, // a LATE slot fell due at t=40, within its 1,000 ms wait: excused
    { t: 40, ms: 0, ok: false, error: LATE },
    { t: 60, ms: 0, ok: false, error: SKIPPED },
    { t: 2000, ms: 3, ok: false, error: "ECONNRESET" },
    { t: 3000, ms: 1000, ok: false, error: "timeout" }, // no stall during its wait: counts
    { t: 5000, ms: 1000, ok: false, error: "timeout" }, // the stall (t=6500) comes after its 1,000 ms wait
    { t: 6500, ms: 0, ok: false, error: LATE },
  ], 7000, null, 0, 1000);
  assert.deepEqual(sentFailures(f).map((x) => `${x.t} ${x.error}`), ["2000 ECONNRESET", "3000 timeout", "5000 timeout"]);
  // A longer per-probe limit covers the later stall too.
  assert.deepEqual(sentFailures({ ...f, timeoutMs: 2000 }).map((x) => `${x.t} ${x.error}`), ["2000 ECONNRESET", "3000 timeout"]);
});
