import { test } from "node:test";
import assert from "node:assert/strict";
import { StepError } from "../../src/errors.ts";
import { attachRenderer, errorInfo, Reporter, type RunEvent } from "../../src/report/index.ts";
import { jsonLine } from "../../src/report/json.ts";
import { TtyView } from "../../src/report/tty.ts";
import { clearSecrets, registerSecret } from "../../src/util/redact.ts";

/** A recorded run: two phases, the second fails on one of two hosts. */
const EVENTS: RunEvent[] = [
  { type: "run-start", dryRun: false, hosts: ["cp1", "cp2"], phases: [
    { id: "lb", title: "Configure load balancer", depth: 0 },
    { id: "lb/haproxy", title: "Configure HAProxy", depth: 1 },
    { id: "etcd", title: "Start etcd", depth: 0 },
    { id: "kubeadm", title: "Run kubeadm init", depth: 0 },
  ] },
  { type: "phase-start", phase: "lb", title: "Configure load balancer" },
  { type: "phase-start", phase: "lb/haproxy", title: "Configure HAProxy" },
  { type: "phase-start", phase: "lb/haproxy", title: "Configure HAProxy", host: "cp1" },
  { type: "phase-start", phase: "lb/haproxy", title: "Configure HAProxy", host: "cp2" },
  { type: "change", phase: "lb/haproxy", host: "cp1", message: "write /etc/haproxy/haproxy.cfg", dryRun: false },
  { type: "phase-done", phase: "lb/haproxy", title: "Configure HAProxy", host: "cp1", durationMs: 412 },
  { type: "phase-skip", phase: "lb/haproxy", title: "Configure HAProxy", host: "cp2", reason: "already configured" },
  { type: "phase-done", phase: "lb/haproxy", title: "Configure HAProxy", durationMs: 430 },
  { type: "phase-done", phase: "lb", title: "Configure load balancer", durationMs: 431 },
  { type: "phase-start", phase: "etcd", title: "Start etcd" },
  { type: "phase-start", phase: "etcd", title: "Start etcd", host: "cp1" },
  { type: "phase-start", phase: "etcd", title: "Start etcd", host: "cp2" },
  { type: "note", phase: "etcd", host: "cp1", message: "waiting for etcd to be healthy" },
  { type: "phase-done", phase: "etcd", title: "Start etcd", host: "cp1", durationMs: 1500 },
  { type: "phase-fail", phase: "etcd", title: "Start etcd", host: "cp2", durationMs: 2100, error: {
    message: "command failed on cp2 (exit 1)", host: "cp2", phase: "etcd", command: "systemctl start etcd", exitCode: 1,
    stderrTail: "Job for etcd.service failed.\nSee journalctl -xeu etcd", hint: "read journalctl -u etcd on cp2" } },
  { type: "phase-fail", phase: "etcd", title: "Start etcd", durationMs: 2101, error: { message: "command failed on cp2 (exit 1)" } },
  { type: "run-done", ok: false, dryRun: false, durationMs: 2600, changes: 1, error: { message: "command failed on cp2 (exit 1)" } },
];

function replay(events: RunEvent[], mode: "plain" | "json" | "tty", columns = 80, rows = 30): string {
  const r = new Reporter();
  let out = "";
  attachRenderer(r, mode, { write: (s: string) => (out += s), columns, rows, isTTY: mode === "tty" });
  for (const e of events) r.emit(e);
  return out;
}

test("plain renderer: one line per event, deterministic", () => {
  assert.equal(
    replay(EVENTS, "plain"),
    [
      "kubeha: 4 phases on 2 hosts",
      "==> Configure load balancer [lb]",
      "==> Configure HAProxy [lb/haproxy]",
      "    [cp1] start",
      "    [cp2] start",
      "    [cp1] write /etc/haproxy/haproxy.cfg",
      "    [cp1] done (0.4s)",
      "    [cp2] skipped: already configured",
      "    lb/haproxy: done (0.4s)",
      "    lb: done (0.4s)",
      "==> Start etcd [etcd]",
      "    [cp1] start",
      "    [cp2] start",
      "    [cp1] waiting for etcd to be healthy",
      "    [cp1] done (1.5s)",
      "    [cp2] FAILED: command failed on cp2 (exit 1)",
      "        command: systemctl start etcd",
      "        exit:    1",
      "        stderr:",
      "          Job for etcd.service failed.",
      "          See journalctl -xeu etcd",
      "        hint:    read journalctl -u etcd on cp2",
      "    etcd: FAILED (2.1s)",
      "kubeha: failed after 2.6s: command failed on cp2 (exit 1)",
      "",
    ].join("\n"),
  );
  assert.equal(replay(EVENTS, "plain"), replay(EVENTS, "plain"));
});

test("plain renderer: dry-run wording", () => {
  const out = replay(
    [
      { type: "run-start", dryRun: true, hosts: ["cp1"], phases: [{ id: "a", title: "A", depth: 0 }] },
      { type: "change", phase: "a", host: "cp1", message: "restart haproxy", dryRun: true },
      { type: "run-done", ok: true, dryRun: true, durationMs: 10, changes: 1 },
    ],
    "plain",
  );
  assert.equal(out, "kubeha: 1 phase on 1 host (dry run: nothing will be changed)\n    [cp1] would restart haproxy\nkubeha: dry run done: 1 change would be made\n");
});

test("JSON renderer: one parseable object per event, `type` first, keys sorted", () => {
  const lines = replay(EVENTS, "json").trimEnd().split("\n");
  assert.equal(lines.length, EVENTS.length);
  lines.forEach((l, i) => assert.deepEqual(JSON.parse(l), EVENTS[i]));
  assert.equal(lines[5], '{"type":"change","dryRun":false,"host":"cp1","message":"write /etc/haproxy/haproxy.cfg","phase":"lb/haproxy"}');
  assert.equal(
    jsonLine({ type: "phase-done", title: "T", phase: "p", durationMs: 3, host: "h" }),
    '{"type":"phase-done","durationMs":3,"host":"h","phase":"p","title":"T"}',
  );
});

test("TTY view: a frame per state, hosts under the running phase, done phases collapsed", () => {
  const v = new TtyView();
  for (const e of EVENTS.slice(0, 6)) v.apply(e);
  assert.deepEqual(v.frame(), [
    "▸ Configure load balancer [lb]",
    "  ▸ Configure HAProxy [lb/haproxy]",
    "      cp1  ▸ write /etc/haproxy/haproxy.cfg",
    "      cp2  ▸",
    "· Start etcd [etcd]",
    "· Run kubeadm init [kubeadm]",
  ]);
  for (const e of EVENTS.slice(6, 14)) v.apply(e);
  assert.deepEqual(v.frame(), [
    "✔ Configure load balancer [lb] 0.4s",
    "  ✔ Configure HAProxy [lb/haproxy] 1/2 hosts 0.4s",
    "▸ Start etcd [etcd]",
    "    cp1  ▸ waiting for etcd to be healthy",
    "    cp2  ▸",
    "· Run kubeadm init [kubeadm]",
  ]);
  // Narrow terminals: lines are cut, never wrapped (wrapping would break the redraw).
  assert.ok(v.frame(20).every((l) => [...l].length <= 20));
  // Short terminals: the running phase stays visible.
  assert.deepEqual(v.frame(100, 2), ["  ✔ Configure HAProxy [lb/haproxy] 1/2 hosts 0.4s", "▸ Start etcd [etcd]"]);
});

/** Applies the renderer's output to a screen: text, `\n`, CSI n F (up n lines) and CSI J (clear below). */
function screen(out: string): string[] {
  const lines: string[] = [""];
  let row = 0;
  const re = /\x1b\[(\d*)([FJ])|\n|[^\x1b\n]+/g;
  for (const m of out.matchAll(re)) {
    if (m[2] === "F") row = Math.max(0, row - Number(m[1] || 1));
    else if (m[2] === "J") lines.length = row + 1, (lines[row] = "");
    else if (m[0] === "\n") {
      row++;
      if (lines.length <= row) lines.push("");
    } else lines[row] = (lines[row] ?? "") + m[0];
  }
  return lines;
}

test("TTY renderer: redraws in place and leaves the final frame plus failure details", () => {
  const out = replay(EVENTS, "tty");
  assert.deepEqual(screen(out), [
    "✔ Configure load balancer [lb] 0.4s",
    "  ✔ Configure HAProxy [lb/haproxy] 1/2 hosts 0.4s",
    "✖ Start etcd [etcd]: failed",
    "    cp1  ✔ 1.5s",
    "    cp2  ✖ command failed on cp2 (exit 1)",
    "· Run kubeadm init [kubeadm]",
    "cp2: etcd: command failed on cp2 (exit 1)",
    "    command: systemctl start etcd",
    "    exit:    1",
    "    stderr:",
    "      Job for etcd.service failed.",
    "      See journalctl -xeu etcd",
    "    hint:    read journalctl -u etcd on cp2",
    "kubeha: failed after 2.6s: command failed on cp2 (exit 1)",
    "",
  ]);
});

test("errorInfo redacts registered secrets and token-shaped strings in every field", () => {
  registerSecret("s3cr3t-stats-pw");
  try {
    const err = new StepError(
      "join failed with token abcdef.0123456789abcdef",
      { host: "cp2", command: "kubeadm join --token abcdef.0123456789abcdef --certificate-key " + "a".repeat(64), exitCode: 1, stderrTail: "password s3cr3t-stats-pw rejected" },
      "check s3cr3t-stats-pw",
    );
    const info = errorInfo(err);
    assert.equal(info.message, "join failed with token ***");
    assert.equal(info.command, "kubeadm join --token *** --certificate-key ***");
    assert.equal(info.stderrTail, "password *** rejected");
    assert.equal(info.hint, "check ***");
    assert.ok(!JSON.stringify(info).includes("s3cr3t"));
  } finally {
    clearSecrets();
  }
});
