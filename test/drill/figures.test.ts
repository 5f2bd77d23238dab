import { test } from "node:test";
import assert from "node:assert/strict";
import { blackout, checkZeroLoss, computeFigures, holdersAt, splitBrainMs, vipMoved } from "../../src/drill/figures.ts";
import { LATE, SKIPPED, type ApiSample, type EtcdWrite, type VipEvent } from "../../src/drill/types.ts";

const w = (seq: number, acked: boolean): EtcdWrite => ({ seq, t: seq * 10, ms: 3, acked, ...(acked ? {} : { error: "timeout" }) });
const readOf = (pairs: [number, string][]) => new Map(pairs);
const all = (seqs: number[]) => readOf(seqs.map((s) => [s, String(s)]));

test("checkZeroLoss: table", async (t) => {
  const cases: { name: string; writes: EtcdWrite[]; read: Map<number, string>; want: { lost: number[]; acked: number; failed: number } }[] = [
    { name: "every acked key read back", writes: [w(1, true), w(2, true), w(3, true)], read: all([1, 2, 3]), want: { lost: [], acked: 3, failed: 0 } },
    { name: "one acknowledged key missing is reported by its seq", writes: [w(1, true), w(2, true), w(3, true)], read: all([1, 3]), want: { lost: [2], acked: 3, failed: 0 } },
    { name: "an acknowledged key with a wrong value is loss", writes: [w(1, true), w(2, true)], read: readOf([[1, "1"], [2, "7"]]), want: { lost: [2], acked: 2, failed: 0 } },
    { name: "an empty value is wrong too", writes: [w(4, true)], read: readOf([[4, ""]]), want: { lost: [4], acked: 1, failed: 0 } },
    { name: "unacked missing keys are not loss", writes: [w(1, true), w(2, false), w(3, false), w(4, true)], read: all([1, 4]), want: { lost: [], acked: 2, failed: 2 } },
    { name: "unacked keys that did land are not loss either", writes: [w(1, false)], read: all([1]), want: { lost: [], acked: 0, failed: 1 } },
    { name: "everything missing after a wipe", writes: [w(3, true), w(1, true), w(2, false)], read: new Map(), want: { lost: [1, 3], acked: 2, failed: 1 } },
    { name: "extra keys nobody wrote are ignored", writes: [w(1, true)], read: all([1, 99]), want: { lost: [], acked: 1, failed: 0 } },
    { name: "no writes", writes: [], read: new Map(), want: { lost: [], acked: 0, failed: 0 } },
  ];
  for (const c of cases) await t.test(c.name, () => assert.deepEqual(checkZeroLoss(c.writes, c.read), c.want));
});

const ok = (t: number, ms = 5): ApiSample => ({ t, ms, ok: true });
const bad = (t: number, ms = 5, error = "ECONNREFUSED"): ApiSample => ({ t, ms, ok: false, error });

test("blackout: table", async (t) => {
  const cases: { name: string; samples: ApiSample[]; want: { ms: number; from: number | null } }[] = [
    { name: "no samples", samples: [], want: { ms: 0, from: null } },
    { name: "no failures", samples: [ok(0), ok(20), ok(40)], want: { ms: 0, from: null } },
    { name: "one failure in the middle: to the next success's send time", samples: [ok(0), bad(20), ok(40)], want: { ms: 20, from: 20 } },
    { name: "all failures: to the last failure's t + ms", samples: [bad(0, 3), bad(20, 500, "timeout"), bad(40, 7)], want: { ms: 47, from: 0 } },
    { name: "failure at the end", samples: [ok(0), ok(20), bad(40, 2), bad(60, 250, "timeout")], want: { ms: 270, from: 40 } },
    { name: "two runs: the longest wins", samples: [ok(0), bad(20), ok(40), bad(60), bad(80), bad(100), ok(120), ok(140)], want: { ms: 60, from: 60 } },
    { name: "two equal runs: the earlier one", samples: [bad(0), ok(20), bad(40), ok(60)], want: { ms: 20, from: 0 } },
    { name: "send order, not recorded order", samples: [ok(60), bad(20), ok(0), bad(40)], want: { ms: 40, from: 20 } },
    { name: "a long timeout does not stretch a run ended by a later success", samples: [bad(0, 1000, "timeout"), ok(20)], want: { ms: 20, from: 0 } },
    { name: "skipped slots are failures", samples: [ok(0), bad(20, 0, "skipped: too many in flight"), ok(40)], want: { ms: 20, from: 20 } },
  ];
  for (const c of cases) await t.test(c.name, () => assert.deepEqual(blackout(c.samples), c.want));
});

const ev = (t: number, ...holders: string[]): VipEvent => ({ t, holders });

test("vipMoved: table", async (t) => {
  const cases: { name: string; events: VipEvent[]; faultT: number; before: string[]; want: number | null }[] = [
    { name: "moved to another single holder", events: [ev(0, "m1"), ev(1300, "m2")], faultT: 1000, before: ["m1"], want: 300 },
    { name: "nobody in between, then another holder", events: [ev(0, "m1"), ev(1100), ev(1400, "m3")], faultT: 1000, before: ["m1"], want: 400 },
    { name: "two holders is not moved; the later single holder is", events: [ev(0, "m1"), ev(1100, "m1", "m2"), ev(1500, "m2")], faultT: 1000, before: ["m1"], want: 500 },
    { name: "back to the same holder is not moved", events: [ev(0, "m1"), ev(1100), ev(1200, "m1")], faultT: 1000, before: ["m1"], want: null },
    { name: "events before the fault do not count", events: [ev(0, "m1"), ev(500, "m2"), ev(600, "m1")], faultT: 1000, before: ["m1"], want: null },
    { name: "an event exactly at the fault counts (0 ms)", events: [ev(1000, "m2")], faultT: 1000, before: ["m1"], want: 0 },
    { name: "nobody held it before: the first single holder", events: [ev(0), ev(1200, "m1")], faultT: 1000, before: [], want: 200 },
    { name: "no events", events: [], faultT: 0, before: ["m1"], want: null },
  ];
  for (const c of cases) await t.test(c.name, () => assert.equal(vipMoved(c.events, c.faultT, c.before), c.want));
});

test("splitBrainMs: table", async (t) => {
  const cases: { name: string; events: VipEvent[]; endT: number; want: number }[] = [
    { name: "never two holders", events: [ev(0, "m1"), ev(100), ev(200, "m2")], endT: 1000, want: 0 },
    { name: "one period", events: [ev(0, "m1"), ev(100, "m1", "m2"), ev(350, "m2")], endT: 1000, want: 250 },
    { name: "changing sets of 2+ holders are one period", events: [ev(0, "m1", "m2"), ev(100, "m1", "m2", "m3"), ev(300, "m3")], endT: 1000, want: 300 },
    { name: "two periods: the longest", events: [ev(0, "a", "b"), ev(50, "a"), ev(100, "a", "b"), ev(400, "b")], endT: 1000, want: 300 },
    { name: "still split at the end: up to endT", events: [ev(0, "a"), ev(600, "a", "b")], endT: 1000, want: 400 },
    { name: "events after endT ignored", events: [ev(0, "a"), ev(1200, "a", "b")], endT: 1000, want: 0 },
    { name: "unsorted input", events: [ev(350, "m2"), ev(100, "m1", "m2"), ev(0, "m1")], endT: 1000, want: 250 },
  ];
  for (const c of cases) await t.test(c.name, () => assert.equal(splitBrainMs(c.events, c.endT), c.want));
});

test("holdersAt: the set in force at a time", () => {
  const events = [ev(0, "m1"), ev(500, "m2")];
  assert.deepEqual(holdersAt(events, -1), []);
  assert.deepEqual(holdersAt(events, 499), ["m1"]);
  assert.deepEqual(holdersAt(events, 500), ["m2"]);
});

test("computeFigures: one scenario end to end", () => {
  const samples = [ok(0), ok(20), bad(40), bad(60), ok(80), bad(100, 300, "timeout")];
  const writes = [w(1, true), w(2, false), w(3, true), w(4, true)];
  const f = computeFigures({
    samples,
    writes,
    read: readOf([[1, "1"], [3, "3"]]),
    vip: [ev(0, "m1"), ev(50), ev(120, "m1", "m2"), ev(170, "m2")],
    marks: [
      { t: 2000, kind: "healthy", label: "healthy" },
      { t: 30, kind: "fault", label: "kill haproxy" },
      { t: 1000, kind: "restore", label: "start haproxy" },
      { t: 500, kind: "healthy", label: "too early: before the restore" },
    ],
    endT: 2500,
  });
  assert.deepEqual(f, {
    blackoutMs: 300,
    failedProbes: 3,
    totalProbes: 6,
    unsentProbes: 0,
    vipMovedMs: 140,
    splitBrainMs: 50,
    healthyAfterMs: 1000,
    etcdAcked: 3,
    etcdFailed: 1,
    etcdLost: 1,
  });
});

test("computeFigures: slots the probing process was too late to send are neither failures nor blackout, and are counted apart", () => {
  // ok, LATE x3, ok, failed, LATE, ok: one real failure (20 ms of blackout, from it to the next sent probe).
  const samples = [ok(0), bad(20, 0, LATE), bad(40, 0, LATE), bad(60, 0, LATE), ok(80), bad(100, 5, "ECONNRESET"), bad(110, 0, LATE), ok(120)];
  const f = computeFigures({ samples, writes: [], read: new Map(), vip: [], marks: [], endT: 200 });
  assert.deepEqual([f.failedProbes, f.totalProbes, f.unsentProbes, f.blackoutMs], [1, 4, 4, 20]);
  // A slot skipped at the in-flight cap is the cluster being slow: it stays a failure.
  const g = computeFigures({ samples: [ok(0), bad(20, 0, SKIPPED), ok(40)], writes: [], read: new Map(), vip: [], marks: [], endT: 100 });
  assert.deepEqual([g.failedProbes, g.unsentProbes, g.blackoutMs], [1, 0, 20]);
});

test("computeFigures: no fault mark, no healthy mark", () => {
  const f = computeFigures({ samples: [], writes: [], read: new Map(), vip: [ev(0, "m1"), ev(10, "m2")], marks: [{ t: 5, kind: "note", label: "x" }], endT: 100 });
  assert.equal(f.vipMovedMs, null);
  assert.equal(f.healthyAfterMs, null);
  assert.equal(f.blackoutMs, 0);
  const g = computeFigures({ samples: [], writes: [], read: new Map(), vip: [ev(0, "m1")], marks: [{ t: 5, kind: "fault", label: "x" }], endT: 100 });
  assert.equal(g.vipMovedMs, null);
  assert.equal(g.healthyAfterMs, null);
});

test("computeFigures: vipBefore overrides the holders read from the events", () => {
  const input = { samples: [], writes: [], read: new Map(), vip: [ev(0, "m1"), ev(200, "m2")], marks: [{ t: 100, kind: "fault" as const, label: "x" }], endT: 300 };
  assert.equal(computeFigures(input).vipMovedMs, 100);
  assert.equal(computeFigures({ ...input, vipBefore: ["m2"] }).vipMovedMs, null);
});
