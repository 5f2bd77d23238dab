/**
 * bench/vrrp-anatomy.ts: tcpdump lines (captured from a lab's unicast VRRPv3 on this machine) are
 * read once per packet, and a run's fault is split into "holder silent", "takeover on the wire" and
 * "seen by the drill".
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { anatomy, parseAdvert, renderAnatomy } from "../../bench/vrrp-anatomy.ts";
import type { ScenarioResult } from "../../src/drill/types.ts";

const CAPTURED = [
  "1796302498.683182 vb-kt-bin-lb2 P   IP 198.19.230.17 > 198.19.230.16: VRRPv3, Advertisement, vrid 51, prio 160, intvl 2cs, length 12",
  "1796302498.683187 vb-kt-bin-lb1 Out IP 198.19.230.17 > 198.19.230.16: VRRPv3, Advertisement, vrid 51, prio 160, intvl 2cs, length 12",
  "1796302498.703313 vb-kt-bin-lb2 P   IP 198.19.230.17 > 198.19.230.16: VRRPv3, Advertisement, vrid 51, prio 160, intvl 2cs, length 12",
  "tcpdump: data link type LINUX_SLL2",
];

test("parseAdvert: the sender's copy of each advert, not the receiver's, nothing else", () => {
  const got = CAPTURED.flatMap((l) => parseAdvert(l) ?? []);
  assert.deepEqual(got, [
    { wallMs: 1796302498683.182, src: "198.19.230.17", prio: 160 },
    { wallMs: 1796302498703.313, src: "198.19.230.17", prio: 160 },
  ]);
});

test("anatomy: silent, wire and seen from the fault, against the drill's own VIP moved", () => {
  const startedAt = "2026-12-03T13:00:00.000Z";
  const t0 = Date.parse(startedAt);
  const at = (t: number, src: string) => ({ wallMs: t0 + t, src, prio: 150 });
  const old = "198.18.0.11";
  const next = "198.18.0.12";
  const adverts = [at(4960, old), at(4980, old), at(5000, old), at(5003, old), at(5066, next), at(5086, next), at(9000, old)];
  const r = {
    run: 2,
    targets: ["master1"],
    startedAt,
    marks: [{ t: 5001, kind: "fault", label: "power off master1" }],
    vip: [
      { t: 100, holders: ["master1"] },
      { t: 5001, holders: [] },
      { t: 5090, holders: ["master2"] },
    ],
    figures: { vipMovedMs: 89 },
  } as unknown as ScenarioResult;
  const a = anatomy(r, adverts, (h) => (h === "master1" ? old : next));
  assert.deepEqual(a, { run: 2, from: "master1", to: "master2", silentMs: 2, wireMs: 65, seenMs: 24, vipMovedMs: 89 });
  const text = renderAnatomy("lb-machine-down", [a!]);
  assert.match(text, /master1 -> master2 +2 +65 +24 +89/);
  assert.match(text, /max +2 +65 +24 +89/);
  assert.equal(anatomy({ ...r, marks: [] } as ScenarioResult, adverts, () => old), null, "no fault, no anatomy");
});
