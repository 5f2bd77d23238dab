/**
 * vipSettled: the drill plans a scenario only once the VIP has sat on one host for a while (a
 * preempting keepalived takes it back seconds after `status` said healthy). Real timers with a
 * small quiet window; the assertions are lower bounds and outcomes, so a slow machine cannot fail them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { vipSettled } from "../../src/drill/watch.ts";
import type { VipEvent } from "../../src/drill/types.ts";

function fakeWatcher(first: string[]) {
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const events: VipEvent[] = [{ t: 0, holders: first }];
  return {
    now,
    w: { events, holders: () => events[events.length - 1]!.holders },
    move: (holders: string[]) => events.push({ t: Math.round(now()), holders }),
  };
}

test("vipSettled: the holder once no event came for the quiet window", async () => {
  const f = fakeWatcher(["master2"]);
  const holder = await vipSettled(f.w, f.now, { quietMs: 150, timeoutMs: 10_000 });
  assert.equal(holder, "master2");
  assert.ok(f.now() >= 150, `returned after ${f.now()} ms, before the quiet window`);
});

test("vipSettled: a move during the window restarts it, and the new holder is the answer", async () => {
  const f = fakeWatcher(["master2"]);
  const moved = new Promise<number>((r) =>
    setTimeout(() => {
      f.move(["master1", "master2"]);
      f.move(["master1"]);
      r(f.now());
    }, 100),
  );
  const holder = await vipSettled(f.w, f.now, { quietMs: 300, timeoutMs: 10_000 });
  const movedAt = await moved;
  assert.equal(holder, "master1");
  assert.ok(f.now() - movedAt >= 300 - 1, `returned ${f.now() - movedAt} ms after the move`);
});

test("vipSettled: two holders or none never count as settled: null at the timeout", async () => {
  for (const holders of [["master1", "master2"], []]) {
    const f = fakeWatcher(holders);
    assert.equal(await vipSettled(f.w, f.now, { quietMs: 50, timeoutMs: 300 }), null, holders.join());
    assert.ok(f.now() >= 300);
  }
});

test("vipSettled: a watcher with no event yet (hosts still reporting) is not settled", async () => {
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  assert.equal(await vipSettled({ events: [], holders: () => ["master1"] }, now, { quietMs: 10, timeoutMs: 200 }), null);
});
