import { test } from "node:test";
import assert from "node:assert/strict";
import { InternalError, StepError, UsageError } from "../../src/errors.ts";
import { HostsError } from "../../src/exec/pool.ts";
import { phaseHelp, phaseIds, Runner, runPhases, skip, type Phase } from "../../src/phases/runner.ts";
import { record, Reporter, type RunEvent } from "../../src/report/events.ts";
import { formatChanges } from "../../src/report/summary.ts";
import type { Host } from "../../src/spec/model.ts";

function host(name: string): Host {
  return {
    name,
    address: "127.0.0.1",
    internalAddress: "127.0.0.1",
    roles: ["control-plane"],
    ssh: { user: "root", port: 22, keyPath: "/nonexistent", knownHostsPath: "/nonexistent" },
    interface: "eth0",
    labels: {},
    lbIndex: -1,
  };
}
const HOSTS = ["cp1", "cp2", "cp3"].map(host);

interface Data {
  log: string[];
}

/** A phase that records every hook call into data.log. */
function rec(id: string, more: Partial<Phase<Data>> = {}): Phase<Data> {
  return {
    id,
    title: `Do ${id}`,
    prepare: (ctx) => void ctx.data.log.push(`prepare ${id}`),
    run: async (ctx) => void ctx.data.log.push(`run ${id}`),
    cleanup: (ctx) => void ctx.data.log.push(`cleanup ${id}`),
    ...more,
  };
}

function tree(): Phase<Data>[] {
  return [
    rec("connect"),
    rec("lb", {
      run: undefined,
      children: [
        rec("lb/haproxy", { runHost: async (ctx, h) => void ctx.data.log.push(`host lb/haproxy ${h.name}`), hosts: () => HOSTS.slice(0, 2) }),
        rec("lb/keepalived"),
      ],
    }),
    rec("etcd", { children: [rec("etcd/certs")] }),
  ];
}

function start(opts: { only?: string[]; skip?: string[]; dryRun?: boolean; phases?: Phase<Data>[]; concurrency?: number } = {}) {
  const data: Data = { log: [] };
  const reporter = new Reporter();
  const events = record(reporter);
  const runner = new Runner<Data>({ phases: opts.phases ?? tree(), data, hosts: HOSTS, reporter, ...opts });
  return { data, events, runner };
}

const brief = (events: RunEvent[]) =>
  events
    .filter((e) => e.type.startsWith("phase-"))
    .map((e) => `${e.type} ${"phase" in e ? e.phase : ""}${"host" in e && e.host ? ` ${e.host}` : ""}`);

test("runs phases depth first: prepare, own work, per-host work, then children", async () => {
  const { data, events, runner } = start();
  const summary = await runner.run();
  assert.deepEqual(data.log, [
    "prepare connect", "run connect",
    "prepare lb",
    "prepare lb/haproxy", "run lb/haproxy", "host lb/haproxy cp1", "host lb/haproxy cp2",
    "prepare lb/keepalived", "run lb/keepalived",
    "prepare etcd", "run etcd",
    "prepare etcd/certs", "run etcd/certs",
  ]);
  assert.deepEqual(summary.ran, ["connect", "lb", "lb/haproxy", "lb/keepalived", "etcd", "etcd/certs"]);
  assert.deepEqual(brief(events).slice(0, 8), [
    "phase-start connect", "phase-done connect",
    "phase-start lb",
    // Hosts run in parallel: both start before either is done.
    "phase-start lb/haproxy", "phase-start lb/haproxy cp1", "phase-start lb/haproxy cp2",
    "phase-done lb/haproxy cp1", "phase-done lb/haproxy cp2",
  ]);
  const first = events[0];
  assert.equal(first?.type, "run-start");
  assert.deepEqual(first?.type === "run-start" && first.phases.map((p) => `${p.depth}:${p.id}`), [
    "0:connect", "0:lb", "1:lb/haproxy", "1:lb/keepalived", "0:etcd", "1:etcd/certs",
  ]);
  assert.equal(events.at(-1)?.type, "run-done");
});

test("--skip-phases skips the whole subtree", async () => {
  const { data, events, runner } = start({ skip: ["lb"] });
  await runner.run();
  assert.ok(!data.log.some((l) => l.includes("lb")), data.log.join("\n"));
  assert.deepEqual(
    events.filter((e) => e.type === "phase-skip").map((e) => (e.type === "phase-skip" ? `${e.phase} ${e.reason}` : "")),
    ["lb --skip-phases", "lb/haproxy --skip-phases", "lb/keepalived --skip-phases"],
  );
  assert.ok(data.log.includes("run etcd/certs"));
});

test("--only runs the subtree; its ancestors are entered but their own hooks do not run", async () => {
  const { data, events, runner } = start({ only: ["lb/haproxy"] });
  const s = await runner.run();
  assert.deepEqual(data.log, ["prepare lb/haproxy", "run lb/haproxy", "host lb/haproxy cp1", "host lb/haproxy cp2"]);
  assert.deepEqual(s.ran, ["lb/haproxy"]);
  const skipped = events.filter((e) => e.type === "phase-skip").map((e) => ("phase" in e ? e.phase : ""));
  assert.deepEqual(skipped, ["connect", "lb/keepalived", "etcd", "etcd/certs"]);
  // --only a parent selects its children too.
  const b = start({ only: ["etcd"] });
  await b.runner.run();
  assert.deepEqual(b.data.log, ["prepare etcd", "run etcd", "prepare etcd/certs", "run etcd/certs"]);
});

test("--only and --skip-phases combine: skip wins inside the selected subtree", async () => {
  const { data, runner } = start({ only: ["lb"], skip: ["lb/keepalived"] });
  await runner.run();
  assert.ok(data.log.includes("run lb/haproxy"));
  assert.ok(!data.log.some((l) => l.includes("keepalived")));
});

test("an unknown phase id is a UsageError that lists the valid ids", () => {
  for (const opts of [{ only: ["lb/nginx"] }, { skip: ["etcd", "nope"] }]) {
    assert.throws(
      () => start(opts),
      (err: unknown) => {
        assert.ok(err instanceof UsageError);
        assert.match(err.message, opts.only ? /--only: unknown phase "lb\/nginx"/ : /--skip-phases: unknown phase "nope"/);
        assert.equal(err.hint, "valid phases: connect, lb, lb/haproxy, lb/keepalived, etcd, etcd/certs");
        return true;
      },
    );
  }
});

test("malformed or duplicate phase ids are internal errors", () => {
  assert.throws(() => phaseIds([rec("lb", { children: [rec("keepalived")] })]), InternalError);
  assert.throws(() => phaseIds([rec("a"), rec("a")]), InternalError);
  assert.throws(() => phaseIds([rec("Bad Id")]), InternalError);
  assert.deepEqual(phaseIds(tree()), ["connect", "lb", "lb/haproxy", "lb/keepalived", "etcd", "etcd/certs"]);
  assert.match(phaseHelp(tree()), /^ {2}lb\/haproxy +Do lb\/haproxy$/m);
});

test("a failure stops the run, runs cleanup of started phases last first, and is rethrown with its phase", async () => {
  const failing = rec("lb/keepalived", {
    run: async (ctx) => {
      ctx.data.log.push("run lb/keepalived");
      throw new StepError("command failed on cp1 (exit 3)", { host: "cp1", command: "systemctl restart keepalived", exitCode: 3 }, "look at journalctl -u keepalived");
    },
  });
  const phases = tree();
  phases[1] = { ...phases[1]!, children: [phases[1]!.children![0]!, failing] };
  const { data, events, runner } = start({ phases });
  await assert.rejects(runner.run(), (err: unknown) => {
    assert.ok(err instanceof StepError);
    assert.equal(err.detail.phase, "lb/keepalived");
    return true;
  });
  const after = data.log.slice(data.log.indexOf("run lb/keepalived") + 1);
  // `lb` has a cleanup hook and started (it has no run of its own); etcd never started.
  assert.deepEqual(after, ["cleanup lb/keepalived", "cleanup lb/haproxy", "cleanup lb", "cleanup connect"]);
  assert.ok(!data.log.includes("prepare etcd"));
  const fails = events.filter((e) => e.type === "phase-fail").map((e) => ("phase" in e ? e.phase : ""));
  assert.deepEqual(fails, ["lb/keepalived", "lb"]);
  const done = events.at(-1);
  assert.ok(done?.type === "run-done" && !done.ok && done.error?.exitCode === 3);
});

test("a failing cleanup hook is reported but does not hide the original error", async () => {
  const phases: Phase<Data>[] = [
    rec("a", { cleanup: () => { throw new Error("cleanup broke"); } }),
    rec("b", { run: async () => { throw new Error("b broke"); } }),
  ];
  const { events, runner } = start({ phases });
  await assert.rejects(runner.run(), /b broke/);
  const c = events.filter((e) => e.type === "cleanup");
  assert.deepEqual(c.map((e) => (e.type === "cleanup" ? `${e.phase} ${e.error?.message ?? "ok"}` : "")), ["b ok", "a cleanup broke"]);
});

test("per-host failures are gathered into one error naming each host, after all hosts ran", async () => {
  const seen: string[] = [];
  const phases: Phase<Data>[] = [
    {
      id: "etcd",
      title: "Start etcd",
      runHost: async (_ctx, h) => {
        seen.push(h.name);
        if (h.name !== "cp2") throw new StepError(`command failed on ${h.name} (exit 1)`, { command: "systemctl start etcd", exitCode: 1 });
      },
    },
  ];
  const { events, runner } = start({ phases, concurrency: 1 });
  await assert.rejects(runner.run(), (err: unknown) => {
    assert.ok(err instanceof HostsError);
    assert.match(err.message, /^failed on 2 hosts:\n {2}cp1: command failed on cp1 \(exit 1\) \(command: systemctl start etcd, exit 1\)\n {2}cp3: /);
    const f = err.failures.map((x) => x.error as StepError);
    assert.deepEqual(f.map((e) => [e.detail.host, e.detail.phase]), [["cp1", "etcd"], ["cp3", "etcd"]]);
    return true;
  });
  assert.deepEqual(seen, ["cp1", "cp2", "cp3"]);
  assert.deepEqual(brief(events).filter((l) => / cp\d$/.test(l)), [
    "phase-start etcd cp1", "phase-fail etcd cp1", "phase-start etcd cp2", "phase-done etcd cp2", "phase-start etcd cp3", "phase-fail etcd cp3",
  ]);
});

test("per-host work runs in parallel, at most `concurrency` hosts at once", async () => {
  let now = 0;
  let peak = 0;
  const phases: Phase<Data>[] = [
    {
      id: "p",
      title: "Wait",
      hosts: () => ["a", "b", "c", "d", "e"].map(host),
      runHost: async () => {
        peak = Math.max(peak, ++now);
        await new Promise((r) => setTimeout(r, 20));
        now--;
      },
    },
  ];
  await start({ phases, concurrency: 2 }).runner.run();
  assert.equal(peak, 2);
});

test("dry run: wet() records per host and never calls fn; the summary is grouped by host", async () => {
  let called = 0;
  const phases: Phase<Data>[] = [
    {
      id: "lb",
      title: "Configure load balancer",
      runHost: async (ctx, h) => {
        if (h.name === "cp3") return skip("not an lb host");
        await ctx.wet(h, "write /etc/haproxy/haproxy.cfg", async () => void called++);
        await ctx.wet(h, "restart haproxy", async () => void called++);
      },
    },
    { id: "kubeconfig", title: "Write kubeconfig", run: async (ctx) => ctx.wet("local", "write ./admin.conf", async () => void called++) },
  ];
  const { events, runner } = start({ phases, dryRun: true });
  const s = await runner.run();
  assert.equal(called, 0);
  assert.equal(
    formatChanges(s.changes, HOSTS.map((h) => h.name), true),
    [
      "dry run: 5 changes would be made:",
      "cp1:",
      "  - [lb] write /etc/haproxy/haproxy.cfg",
      "  - [lb] restart haproxy",
      "cp2:",
      "  - [lb] write /etc/haproxy/haproxy.cfg",
      "  - [lb] restart haproxy",
      "local:",
      "  - [kubeconfig] write ./admin.conf",
    ].join("\n"),
  );
  assert.ok(events.some((e) => e.type === "phase-skip" && e.host === "cp3" && e.reason === "not an lb host"));
  assert.ok(events.filter((e) => e.type === "change").every((e) => e.type === "change" && e.dryRun));

  // The same phases for real call every fn, in order, and report the same changes.
  const real = start({ phases });
  const s2 = await real.runner.run();
  assert.equal(called, 5);
  assert.deepEqual(s2.changes, s.changes);
});

test("dry run with nothing to change says the cluster is converged; dryRun hook replaces run", async () => {
  const phases: Phase<Data>[] = [
    { id: "a", title: "A", run: async () => { throw new Error("run must not be called in a dry run"); }, dryRun: async (ctx) => void ctx.data.log.push("dry a") },
  ];
  const { data, runner } = start({ phases, dryRun: true });
  const s = await runner.run();
  assert.deepEqual(data.log, ["dry a"]);
  assert.equal(formatChanges(s.changes, [], true), "dry run: no changes: the cluster is converged");
});

test("shouldRun false skips the phase and its children; a failed wet fn is not counted as a change", async () => {
  const phases: Phase<Data>[] = [
    rec("a", { shouldRun: () => false, children: [rec("a/b")] }),
    { id: "c", title: "C", run: async (ctx) => ctx.wet("cp1", "break things", async () => { throw new Error("nope"); }) },
  ];
  const { data, events, runner } = start({ phases });
  await assert.rejects(runner.run(), /nope/);
  assert.deepEqual(data.log, ["prepare a"]);
  assert.deepEqual(events.filter((e) => e.type === "phase-skip").map((e) => ("phase" in e ? e.phase : "")), ["a", "a/b"]);
  const done = events.at(-1);
  assert.ok(done?.type === "run-done" && done.changes === 0);
});

test("runPhases with one failing host rethrows that host's error with host and phase filled in", async () => {
  const phases: Phase<Data>[] = [{ id: "x", title: "X", runHost: async (_c, h) => { if (h.name === "cp2") throw new StepError("boom", {}); } }];
  await assert.rejects(runPhases({ phases, data: { log: [] }, hosts: HOSTS }), (err: unknown) => {
    assert.ok(err instanceof StepError);
    assert.deepEqual(err.detail, { host: "cp2", phase: "x" });
    return true;
  });
});
