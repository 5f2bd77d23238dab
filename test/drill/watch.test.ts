/**
 * vipSettled: the drill plans a scenario only once the VIP has sat on one host for a while (a
 * preempting keepalived takes it back seconds after `status` said healthy). Real timers with a
 * small quiet window; the assertions are lower bounds and outcomes, so a slow machine cannot fail them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { hostClockOffset, offsetFrom, parseMonitorLine, vipSettled } from "../../src/drill/watch.ts";
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

test("parseMonitorLine: `ip -ts` lines carry the host's UTC time to the microsecond", () => {
  const vip = "198.18.99.1";
  // Captured from `TZ=UTC0 ip -ts -o -4 monitor address dev lo` on this machine.
  const add = `[2026-12-03T13:03:35.001152] 1: lo    inet ${vip}/32 scope global lo\\       valid_lft forever preferred_lft forever`;
  const del = `[2026-12-03T13:03:35.004634] Deleted 1: lo    inet ${vip}/32 scope global lo\\       valid_lft forever preferred_lft forever`;
  assert.deepEqual(parseMonitorLine(add, vip), { op: "add", hostWallMs: Date.UTC(2026, 11, 3, 13, 3, 35, 1) + 0.152 });
  assert.equal(parseMonitorLine(del, vip)?.op, "del");
  assert.ok(Math.abs(parseMonitorLine(del, vip)!.hostWallMs! - (Date.UTC(2026, 11, 3, 13, 3, 35, 4) + 0.634)) < 1e-6);
  assert.deepEqual(parseMonitorLine(`1: lo    inet ${vip}/32 scope global lo`, vip), { op: "add", hostWallMs: null }, "no stamp, no host time");
  assert.equal(parseMonitorLine(`[2026-12-03T13:03:35.001152] 1: lo    inet 198.18.99.10/32 scope global lo`, vip), undefined);
});

test("offsetFrom: the intersection of the round trips bounds the offset; disagreeing ones give null", () => {
  // Host 40 ms ahead; round trips of 6, 2 and 10 ms with the reading anywhere inside.
  const s = [
    { sent: 1000, received: 1006, host: 1043 },
    { sent: 2000, received: 2002, host: 2041 },
    { sent: 3000, received: 3010, host: 3049 },
  ];
  const o = offsetFrom(s)!;
  // [max(host - received), min(host - sent)] = [39, 41]
  assert.deepEqual(o, { offsetMs: 40, errorMs: 1 });
  assert.equal(offsetFrom([]), null);
  assert.equal(offsetFrom([{ sent: 0, received: 1, host: 100 }, { sent: 10, received: 11, host: 10 }]), null, "a clock that stepped");
});

test("hostClockOffset: round trips through a transport; this machine's own `date` is 0 ms off within the bound", async () => {
  const { LocalTransport } = await import("../../src/exec/transport.ts");
  const o = await hostClockOffset(new LocalTransport("local"), 5);
  assert.ok(o, "no offset");
  assert.ok(Math.abs(o.offsetMs) <= o.errorMs + 0.01, `offset ${o.offsetMs} ± ${o.errorMs}`);
  const broken = await hostClockOffset({ run: async () => ({ code: 0, stdout: "not a time\n", stderr: "" }) }, 3);
  assert.equal(broken, null);
});
