/**
 * A changed configuration of a running service is a reload, in both executors of the host plan:
 * apply's `convergeFiles` (over a fake transport that reports which files differ) and install.sh
 * (its unit lines run by bash with `systemctl` recorded). A changed unit file or drop-in is a
 * restart (a reload would not apply it); a service that is not running is started.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { sha256 } from "../../src/exec/files.ts";
import { convergeFiles } from "../../src/phases/steps.ts";
import type { Ctx } from "../../src/phases/data.ts";
import type { Facts } from "../../src/probe/facts.ts";
import type { Transport } from "../../src/exec/transport.ts";
import { planHost, unitTriggers, type FilesStep, type StepPhase } from "../../src/plan/host.ts";
import { renderInstallScript } from "../../src/render/install-script.ts";
import { PATHS } from "../../src/render/paths.ts";
import type { Cluster, Host } from "../../src/spec/model.ts";
import { clustersUnderTest, FIXTURE_SECRETS } from "../render/helpers.ts";

const c: Cluster = clustersUnderTest().find((x) => x.name === "seed-004-dedicated-lbs-8443")!.cluster;
const lb: Host = c.hosts.find((h) => h.roles.includes("lb"))!;
const steps = planHost(c, lb, { secrets: FIXTURE_SECRETS });
const filesStep = (phase: StepPhase) => steps.find((s): s is FilesStep => s.kind === "files" && s.phase === phase)!;

/** `systemctl <verb> <unit>` lines, units without `.service`, in order. */
function normalize(lines: string[]): string[] {
  return lines.map((l) => l.replace(/\.service\b/g, "").replace(/ 2>\/dev\/null$/, "").trim()).filter((l) => /^systemctl (restart|reload-or-restart|start) /.test(l));
}

/** What apply runs after writing `changed` of the step's files on a host where `unit` is `state`. */
async function applyUnitCommands(step: FilesStep, changed: string[], unit: string, state: string): Promise<string[]> {
  const cmds: string[] = [];
  const t = {
    host: lb.name,
    roundTrips: 0,
    run: async () => ({ code: 0, stdout: "", stderr: "" }),
    mustRun: async (cmd: string) => (cmds.push(cmd), { code: 0, stdout: "", stderr: "" }),
    put: async () => {},
    putMany: async () => {},
    hashes: async (paths: readonly string[]) => new Map(paths.map((p) => [p, changed.includes(p) ? undefined : sha256(step.files.find((f) => f.path === p)!.content)])),
    close: async () => {},
  } as Transport;
  const facts = { units: new Map([[unit, state]]) } as unknown as Facts;
  const ctx = {
    phase: step.phase,
    dryRun: false,
    data: { cluster: c, facts: new Map([[lb.name, facts]]), changed: new Map(), secrets: [], pool: { get: async () => t } },
    wet: async (_h: unknown, _d: string, fn: () => Promise<unknown>) => void (await fn()),
    note: () => {},
  } as unknown as Ctx;
  const written = await convergeFiles(ctx, lb, step.files, step.ensure);
  assert.deepEqual(written.map((f) => f.path).sort(), [...changed].sort());
  return normalize(cmds.flatMap((c) => c.split(" && ")));
}

/** What install.sh runs for the same step: its lines under bash, `place` and `systemctl` recorded. */
function scriptUnitCommands(step: FilesStep, changed: string[], unit: string, state: string): string[] {
  const script = renderInstallScript(c, lb, [step]);
  const helper = /^changed\(\) \{[\s\S]*?^\}$/m.exec(script)![0];
  const body = script.slice(script.indexOf(`# --- ${step.phase}:`), script.lastIndexOf("\nlog "));
  const prelude = [
    "set -euo pipefail",
    "CHANGED_UNITS=(); CHANGED_PATHS=()",
    helper,
    `WRITE=(${changed.map((p) => `'${p}'`).join(" ")})`,
    // place PATH MODE OWNER UNIT...: a file that differs is recorded as install.sh records it.
    'place() { local d=$1 w; shift 3; for w in "${WRITE[@]}"; do if [ "$w" = "$d" ]; then CHANGED_UNITS+=("$@"); CHANGED_PATHS+=("$d"); fi; done; }',
    `STATE=${state}`,
    'systemctl() { case "$1" in is-active) [ "$STATE" = active ];; enable|daemon-reload) ;; *) echo "systemctl $*"; STATE=active;; esac; }',
    "sysctl() { :; }",
  ];
  const r = spawnSync("bash", ["-c", [...prelude, body].join("\n")], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  void unit;
  return normalize(r.stdout.split("\n"));
}

const cases: Array<{ name: string; phase: StepPhase; unit: string; changed: string[]; state: string; want: string[] }> = [
  { name: "haproxy.cfg changed, haproxy running", phase: "lb/haproxy", unit: "haproxy", changed: [PATHS.haproxyCfg], state: "active", want: ["systemctl reload-or-restart haproxy"] },
  { name: "haproxy drop-in changed", phase: "lb/haproxy", unit: "haproxy", changed: [PATHS.haproxyCfg, PATHS.haproxyDropIn], state: "active", want: ["systemctl restart haproxy"] },
  { name: "nothing changed, haproxy stopped", phase: "lb/haproxy", unit: "haproxy", changed: [], state: "inactive", want: ["systemctl start haproxy"] },
  { name: "keepalived.conf changed, keepalived running", phase: "lb/keepalived", unit: "keepalived", changed: [PATHS.keepalivedConf], state: "active", want: ["systemctl reload-or-restart keepalived"] },
  { name: "keepalived.conf changed, keepalived stopped", phase: "lb/keepalived", unit: "keepalived", changed: [PATHS.keepalivedConf], state: "inactive", want: ["systemctl reload-or-restart keepalived"] },
  { name: "keepalived fresh host (every file new)", phase: "lb/keepalived", unit: "keepalived", changed: filesStep("lb/keepalived").files.map((f) => f.path), state: "inactive", want: ["systemctl restart keepalived"] },
];

for (const k of cases) {
  test(`${k.name}: apply and install.sh both run ${k.want.join(", ")}`, async () => {
    const step = filesStep(k.phase);
    assert.deepEqual(await applyUnitCommands(step, k.changed, k.unit, k.state), k.want, "apply");
    assert.deepEqual(scriptUnitCommands(step, k.changed, k.unit, k.state), k.want, "install.sh");
  });
}

test("unitTriggers: unit files and drop-ins restart, configuration reloads; systemd-sysctl is left to sysctl", () => {
  assert.deepEqual(unitTriggers(filesStep("lb/haproxy").files), [{ unit: "haproxy.service", unitFiles: [PATHS.haproxyDropIn], configFiles: [PATHS.haproxyCfg] }]);
  assert.deepEqual(unitTriggers(filesStep("lb/keepalived").files), [{ unit: "keepalived.service", unitFiles: [PATHS.keepalivedDropIn], configFiles: [PATHS.keepalivedConf] }]);
  const os = steps.flatMap((s) => (s.kind === "files" && s.phase === "os" ? s.files : []));
  assert.ok(os.some((f) => f.restarts?.includes("systemd-sysctl.service")), "the fixture's sysctl file names systemd-sysctl");
  assert.deepEqual(unitTriggers(os), []);
});
