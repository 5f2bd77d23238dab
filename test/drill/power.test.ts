import { test } from "node:test";
import assert from "node:assert/strict";
import { cutPower } from "../../src/drill/run.ts";
import { vipMoved } from "../../src/drill/figures.ts";
import type { Host } from "../../src/spec/model.ts";
import type { VipEvent } from "../../src/drill/types.ts";

const host = { name: "lb1" } as Host;

/** A watcher that keeps holders as the real one does: an event whenever the set changes. */
function fakeWatcher(initial: string[], now: () => number) {
  const holding = new Set(initial);
  const events: VipEvent[] = [{ t: 0, holders: [...holding].sort() }];
  const emit = () => {
    const holders = [...holding].sort();
    if (events.at(-1)!.holders.join() !== holders.join()) events.push({ t: now(), holders });
  };
  return {
    events,
    gone: (h: string) => (holding.delete(h), emit()),
    add: (h: string) => (holding.add(h), emit()),
  };
}

test("cutPower: the holder holds nothing from the moment its power-off starts, not when the command returns", async () => {
  let t = 0;
  const w = fakeWatcher(["lb1"], () => t);
  const calls: string[] = [];
  // The lab's power-off kills at once but returns ~300 ms later; the backup takes over meanwhile.
  const machines = {
    powerOff: async () => {
      calls.push(`powerOff starts, holders ${w.events.at(-1)!.holders.join(",") || "none"}`);
      t = 150;
      w.add("lb2");
      t = 300;
      calls.push("powerOff returns");
    },
  };
  await cutPower(machines, host, w);
  assert.deepEqual(calls, ["powerOff starts, holders none", "powerOff returns"]);
  // The move is seen when lb2 took the VIP (150), not when the command returned (300), and lb1
  // and lb2 never both held it.
  assert.equal(vipMoved(w.events, 0, ["lb1"]), 150);
  assert.ok(w.events.every((e) => e.holders.length <= 1), JSON.stringify(w.events));
});

test("cutPower: told again when the command returns, and a failed power-off still says so", async () => {
  let t = 0;
  const w = fakeWatcher(["lb1"], () => t);
  // An operator's slow command: the watcher reconnected meanwhile and read lb1's VIP afresh.
  await cutPower({ powerOff: async () => void ((t = 2000), w.add("lb1"), (t = 2500)) }, host, w);
  assert.deepEqual(w.events.at(-1)!.holders, []);
  const failing = { powerOff: async () => Promise.reject(new Error("ipmitool: no answer")) };
  await assert.rejects(cutPower(failing, host, w), /ipmitool: no answer/);
});
