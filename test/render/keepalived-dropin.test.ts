/**
 * keepalived's systemd drop-in removes the VIP when keepalived dies (ExecStopPost=), checked with
 * the real tools: `systemd-analyze verify` against Debian's keepalived.service (and haproxy's
 * drop-in against haproxy.service), and the rendered `ip addr del` line run in a private network
 * namespace: it removes the VIP, and fails when the VIP is absent (hence systemd's `-` prefix).
 * The same drop-in makes keepalived real-time with a chrt that may fail (never keepalived's own
 * vrrp_rt_priority, whose RLIMIT_RTTIME handling a reload breaks), run here with the real chrt.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { renderCluster } from "../../src/render/index.ts";
import { KEEPALIVED_NO_RT, keepalivedRtCommand } from "../../src/render/keepalived.ts";
import { until } from "../helpers/timing.ts";
import { hostByName } from "../../src/spec/model.ts";
import { PATHS } from "../../src/render/paths.ts";
import { systemdVerify } from "../helpers/lb-tools.ts";
import { FIXTURE_SECRETS, clustersUnderTest } from "./helpers.ts";

const withKeepalived = clustersUnderTest().filter(({ cluster }) => cluster.endpoint.mode === "haproxy-keepalived");

test("every keepalived drop-in removes exactly its host's VIP on its interface after keepalived stops", () => {
  assert.ok(withKeepalived.length >= 3, "clusters under test with keepalived");
  for (const { name, cluster } of withKeepalived) {
    for (const r of renderCluster(cluster, FIXTURE_SECRETS)) {
      const dropIn = r.files.find((f) => f.path === PATHS.keepalivedDropIn);
      if (!dropIn) continue;
      const h = hostByName(cluster, r.host);
      const lines = dropIn.content.split("\n").filter((l) => l.startsWith("ExecStopPost="));
      assert.deepEqual(lines, [`ExecStopPost=-/sbin/ip addr del ${cluster.endpoint.mode === "haproxy-keepalived" ? `${cluster.endpoint.address}/${cluster.endpoint.vipPrefix}` : ""} dev ${h.interface}`], `${name}/${r.host}`);
      // Before Restart=: systemd runs ExecStopPost= first, then restarts after RestartSec.
      assert.match(dropIn.content, /ExecStopPost=.*\nRestart=always\nRestartSec=500ms/, `${name}/${r.host}`);
    }
  }
});

test("every keepalived drop-in makes keepalived real-time with one ExecStartPost= chrt that may fail; keepalived.conf asks for no real-time scheduling of its own", () => {
  let n = 0;
  for (const { name, cluster } of withKeepalived) {
    for (const r of renderCluster(cluster, FIXTURE_SECRETS)) {
      const dropIn = r.files.find((f) => f.path === PATHS.keepalivedDropIn);
      if (!dropIn) continue;
      n++;
      assert.deepEqual(dropIn.content.split("\n").filter((l) => l.startsWith("ExecStartPost=")), [`ExecStartPost=-${keepalivedRtCommand()}`], `${name}/${r.host}`);
      // systemd's CPUSchedulingPolicy= would refuse to start keepalived where real-time is not allowed.
      assert.doesNotMatch(dropIn.content, /^CPUScheduling/m, `${name}/${r.host}`);
      assert.doesNotMatch(dropIn.content, /LimitRTTIME/, `${name}/${r.host}: no RT time limit for the kernel to SIGKILL on`);
      const conf = r.files.find((f) => f.path === PATHS.keepalivedConf)!.content;
      assert.doesNotMatch(conf, /^\s*(vrrp_rt_priority|vrrp_rlimit_rttime|checker_rt_priority|bfd_rt_priority)\b/m, `${name}/${r.host}`);
    }
  }
  assert.ok(n >= 3, `drop-ins checked: ${n}`);
});

/**
 * The ExecStartPost= line as systemd runs it: `-` is systemd's (failure ignored), `$$` its literal
 * `$`, the single-quoted word one argument; MAINPID comes from the environment.
 */
function runRtCommand(mainPid: number, prefix: string[] = []): { code: number | null; stderr: string } {
  const cmd = keepalivedRtCommand().replaceAll("$$", "$");
  const m = /^\/bin\/sh -c '(.*)'$/.exec(cmd);
  assert.ok(m, cmd);
  const r = spawnSync(prefix[0] ?? "/bin/sh", [...prefix.slice(1), ...(prefix.length ? ["/bin/sh"] : []), "-c", m[1]!], { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", MAINPID: String(mainPid) }, encoding: "utf8", timeout: 10_000 });
  return { code: r.status, stderr: r.stderr };
}

/** A stand-in process tree for keepalived (a parent with two children), and each one's policy and RT priority. */
function processTree(): { pid: number; policies: () => string[]; stop: () => void } {
  const tree = spawn("/bin/sh", ["-c", "sleep 60 & sleep 60 & wait"], { stdio: "ignore" });
  const pids = () => [tree.pid!, ...spawnSync("pgrep", ["-P", String(tree.pid)], { encoding: "utf8" }).stdout.trim().split("\n").filter(Boolean).map(Number)];
  return {
    pid: tree.pid!,
    policies: () => pids().map((p) => spawnSync("ps", ["-o", "cls=,rtprio=", "-p", String(p)], { encoding: "utf8" }).stdout.trim().replace(/\s+/g, " ")),
    stop: () => {
      for (const p of pids().reverse()) spawnSync("kill", ["-KILL", String(p)]);
    },
  };
}

test("the chrt line puts a parent and the children it forked in SCHED_RR 10; without CAP_SYS_NICE it changes nothing and says so (real chrt, pgrep)", async () => {
  for (const refused of [false, true]) {
    const t = processTree();
    try {
      await until(() => t.policies().length === 3, "the parent and its two children", 5000);
      assert.deepEqual(t.policies(), ["TS -", "TS -", "TS -"]);
      const r = runRtCommand(t.pid, refused ? ["setpriv", "--bounding-set", "-sys_nice", "--inh-caps", "-sys_nice", "--"] : []);
      if (refused) {
        assert.equal(r.code, 1, r.stderr);
        assert.ok(r.stderr.includes(KEEPALIVED_NO_RT), r.stderr);
        assert.deepEqual(t.policies(), ["TS -", "TS -", "TS -"], "nothing changed");
      } else {
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stderr, "");
        assert.deepEqual(t.policies(), ["RR 10", "RR 10", "RR 10"]);
      }
    } finally {
      t.stop();
    }
  }
});

test("systemd-analyze verify accepts kubeha's keepalived and haproxy drop-ins on Debian's units", () => {
  const { cluster } = withKeepalived[0]!;
  const r = renderCluster(cluster, FIXTURE_SECRETS).find((x) => x.files.some((f) => f.path === PATHS.keepalivedDropIn))!;
  for (const [unit, path] of [["keepalived.service", PATHS.keepalivedDropIn], ["haproxy.service", PATHS.haproxyDropIn]] as const) {
    const res = systemdVerify(unit, r.files.find((f) => f.path === path)!.content);
    assert.equal(res.code, 0, res.out);
    assert.equal(res.out.trim(), "", `${unit}: ${res.out}`);
  }
  const broken = systemdVerify("keepalived.service", "[Service]\nExecStopPost=-sbin/ip addr del 1.2.3.4/24 dev x\n");
  assert.match(broken.out, /Neither a valid executable name nor an absolute path/, "the check can fail");
  const badPolicy = systemdVerify("keepalived.service", "[Service]\nCPUSchedulingPolicy=realtime\nCPUSchedulingPriority=100\n");
  assert.match(badPolicy.out, /Failed to parse CPU scheduling policy/, "a policy systemd does not know is reported");
  assert.match(badPolicy.out, /CPU scheduling priority is out of range/, "so is a priority outside 1-99");
});

test("the rendered ip command removes the VIP, and fails (ignored by the `-` prefix) when it is already gone", () => {
  const { cluster } = withKeepalived[0]!;
  const r = renderCluster(cluster, FIXTURE_SECRETS).find((x) => x.files.some((f) => f.path === PATHS.keepalivedDropIn))!;
  const h = hostByName(cluster, r.host);
  const line = r.files.find((f) => f.path === PATHS.keepalivedDropIn)!.content.split("\n").find((l) => l.startsWith("ExecStopPost=-"))!;
  const cmd = line.slice("ExecStopPost=-".length);
  const vip = `${cluster.endpoint.mode === "haproxy-keepalived" ? `${cluster.endpoint.address}/${cluster.endpoint.vipPrefix}` : ""}`;
  const script = [
    `ip link add ${h.interface} type veth peer name khpeer0 && ip link set ${h.interface} up`,
    `ip addr add ${vip} dev ${h.interface}`,
    `${cmd}; echo "first=$?"`,
    `ip -o -4 addr show dev ${h.interface} | grep -c ' ${cluster.endpoint.address}/' ; true`,
    `${cmd} 2>&1; echo "second=$?"`,
  ].join("\n");
  const res = spawnSync("unshare", ["--net", "sh", "-c", script], { encoding: "utf8", timeout: 30_000 });
  assert.equal(res.status, 0, res.stderr);
  assert.match(res.stdout, /^first=0\n0\n/, res.stdout);
  assert.match(res.stdout, /Error: ipv4: Address not found\.\nsecond=2\n$/, res.stdout);
});
