import { test } from "node:test";
import assert from "node:assert/strict";
import { loadFigures, loadSummary } from "../../src/drill/load.ts";
import { LATE, SKIPPED } from "../../src/drill/probes.ts";

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
