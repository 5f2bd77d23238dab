/**
 * The lab on real machines: boots 3 systemd-nspawn machines, checks them over SSH (host keys
 * verified from the lab's known_hosts), installs haproxy through the lab's apt proxy, cuts and
 * heals links, pulls a plug, and checks `lab down` leaves nothing behind, also when the state
 * file is lost. Needs root, debootstrap, systemd-container, apt-cacher-ng (see docs/lab.md).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { promises as fs, readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import {
  labDown,
  labExec,
  labHeal,
  labLeftovers,
  labPartition,
  labStart,
  labStatus,
  labStop,
  labUp,
  type LabInfo,
} from "../../src/lab/index.ts";
import { cgroupDirs, run } from "../../src/lab/host.ts";
import { stateFile } from "../../src/lab/state.ts";
import { labCgroup } from "../../src/lab/plan.ts";
import { untilAsync } from "../helpers/timing.ts";
import { loadCluster } from "../../src/spec/read.ts";
import type { KubehaError } from "../../src/errors.ts";

// Own name and subnet: never the default lab, never another test's.
const NAME = "kt-lab";
const SUBNET = "198.19.254.0/24";
const NAME2 = "kt-lab2";
const SUBNET2 = "198.19.253.0/24";

let tmp: string;
let info: LabInfo;

before(async () => {
  // A killed earlier run may have left either lab behind.
  await labDown(NAME);
  await labDown(NAME2);
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "kubeha-lab-test-"));
  info = await labUp({ name: NAME, masters: 3, workers: 0, subnet: SUBNET, cwd: tmp, progress: (s) => console.log(`# ${s}`) });
});

after(async () => {
  await labDown(NAME);
  await labDown(NAME2);
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

function ssh(address: string, cmd: string) {
  return run(
    "ssh",
    [
      "-i", info.sshKey, "-o", "IdentitiesOnly=yes", "-o", `UserKnownHostsFile=${info.knownHosts}`,
      "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
      `root@${address}`, cmd,
    ],
    { check: false, timeoutMs: 30_000 },
  );
}

const tcpProbe = (addr: string) => `timeout 2 bash -c '</dev/tcp/${addr}/22' 2>/dev/null && echo open || echo cut`;

test("lab up: three machines, each running systemd with its own name, address, machine-id", async () => {
  assert.deepEqual(info.machines.map((m) => [m.name, m.address]), [
    ["master1", "198.19.254.11"],
    ["master2", "198.19.254.12"],
    ["master3", "198.19.254.13"],
  ]);
  const ids = new Set<string>();
  for (const m of info.machines) {
    const r = await ssh(m.address, "hostname; systemctl is-system-running; cat /etc/machine-id; ip -4 -o addr show dev host0");
    assert.equal(r.code, 0, `ssh ${m.name}: ${r.stderr}`);
    const [host, state, id, addr] = r.stdout.trim().split("\n");
    assert.equal(host, m.name);
    assert.equal(state, "running");
    assert.match(id ?? "", /^[0-9a-f]{32}$/);
    ids.add(id!);
    assert.match(addr ?? "", new RegExp(`inet ${m.address.replace(/\./g, "\\.")}/24 `));
  }
  assert.equal(ids.size, 3, "machine-ids are unique");
});

test("lab up: host keys are unique and verified (a wrong known_hosts entry is refused)", async () => {
  const kh = (await fs.readFile(info.knownHosts, "utf8")).trim().split("\n");
  const keys = kh.map((l) => l.split(" ")[2]);
  assert.equal(kh.length, 6, "ed25519 + ecdsa per machine");
  assert.equal(new Set(keys).size, 6);
  // Swap master1's and master2's lines: strict checking must now refuse master1.
  const m1 = info.machines[0]!.address;
  const m2 = info.machines[1]!.address;
  const swapped = kh.map((l) => l.replace(new RegExp(`^${m1} `), "X ").replace(new RegExp(`^${m2} `), `${m1} `)).join("\n") + "\n";
  const bad = path.join(tmp, "bad_known_hosts");
  await fs.writeFile(bad, swapped);
  const r = await run(
    "ssh",
    ["-i", info.sshKey, "-o", "IdentitiesOnly=yes", "-o", `UserKnownHostsFile=${bad}`, "-o", "StrictHostKeyChecking=yes",
      "-o", "BatchMode=yes", `root@${m1}`, "true"],
    { check: false, timeoutMs: 30_000 },
  );
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  assert.equal((await fs.stat(info.sshKey)).mode & 0o777, 0o600);
});

test("lab up: cluster.yaml is a valid cluster file for these machines", async () => {
  const { cluster } = await loadCluster(info.clusterFile);
  assert.deepEqual(cluster.hosts.map((h) => h.address), info.machines.map((m) => m.address));
  const f = parse(await fs.readFile(info.clusterFile, "utf8"));
  assert.equal(f.spec.controlPlaneEndpoint.vip, "198.19.254.100");
  assert.equal(f.spec.packages.proxy, "http://198.19.254.1:3142");
  assert.equal(f.spec.etcd.mode, "external");
});

test("fresh server: no haproxy in the base; apt installs it through the lab proxy; systemctl starts it", async () => {
  const before = await labExec(NAME, "master1", ["dpkg-query", "-W", "-f=${Status}", "haproxy"]);
  assert.notEqual(before.code, 0, "haproxy must not be preinstalled");
  const apt = `-o Acquire::http::Proxy=${info.proxyUrl}`;
  const r = await ssh(
    info.machines[0]!.address,
    `set -e; export DEBIAN_FRONTEND=noninteractive; apt-get ${apt} -q update >/dev/null; apt-get ${apt} -q -y install haproxy >/dev/null; ` +
      "systemctl start haproxy; systemctl is-active haproxy",
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split("\n").pop(), "active");
  // The proxy serves the Debian mirror only.
  const other = await labExec(NAME, "master2", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-x", info.proxyUrl, "http://example.com/"]);
  assert.equal(other.stdout, "403");
  // And there is no way around it: no default route (a lookup only, no packet is sent).
  const route = await labExec(NAME, "master2", ["ip", "route", "get", "203.0.113.1"]);
  assert.notEqual(route.code, 0);
  assert.match(route.stderr, /unreachable/i);
});

test("partition cuts two machines apart (both ways), others keep talking; heal restores", async () => {
  const [m1, m2, m3] = info.machines.map((m) => m.address) as [string, string, string];
  await labPartition(NAME, "master1", "master2");
  assert.equal((await labExec(NAME, "master1", ["bash", "-c", tcpProbe(m2)])).stdout.trim(), "cut");
  assert.equal((await labExec(NAME, "master2", ["bash", "-c", tcpProbe(m1)])).stdout.trim(), "cut");
  assert.equal((await labExec(NAME, "master1", ["bash", "-c", tcpProbe(m3)])).stdout.trim(), "open");
  assert.deepEqual((await labStatus(NAME)).partitions, [["master1", "master2"]]);
  await labHeal(NAME);
  assert.equal((await labExec(NAME, "master1", ["bash", "-c", tcpProbe(m2)])).stdout.trim(), "open");
  assert.deepEqual((await labStatus(NAME)).partitions, []);
});

/** PIDs in machine `m`'s cgroup tree (every hierarchy), read without yielding. */
function machineProcesses(m: string): number[] {
  const pids: number[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
    pids.push(...readFileSync(path.join(d, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number));
  };
  for (const d of cgroupDirs(labCgroup(NAME), m)) walk(d);
  return [...new Set(pids)];
}

/** Whether `pid` still runs (a zombie has died: only its parent has not reaped it yet). */
function running(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

/** The host's view of the lab bridge: its MAC and, per port, the MAC of the machine's host-side veth. */
async function bridgeLinks(): Promise<{ mac: string; ports: Map<number, string> }> {
  const mac = readFileSync(`/sys/class/net/${info.bridge}/address`, "utf8").trim();
  const r = await run("ip", ["-j", "link", "show", "master", info.bridge], { what: "ip link show master" });
  const ports = new Map<number, string>();
  for (const l of JSON.parse(r.stdout) as Array<{ ifindex: number; address: string }>) ports.set(l.ifindex, l.address);
  return { mac, ports };
}

test("stop --hard pulls the plug (link gone at once), the bridge keeps its MAC; start boots it again with the same identity", async () => {
  // Power off the machine whose bridge port has the lowest MAC: a bridge without a MAC of its own
  // takes that one, and would change it (under every other machine's ARP cache) when the port goes.
  const before = await bridgeLinks();
  const portMac = new Map<string, string>();
  for (const m of info.machines) {
    const peer = Number((await labExec(NAME, m.name, ["cat", "/sys/class/net/host0/iflink"])).stdout.trim());
    portMac.set(m.name, before.ports.get(peer)!);
  }
  const vm = [...info.machines].sort((a, b) => portMac.get(a.name)!.localeCompare(portMac.get(b.name)!))[0]!;
  const victim = vm.name;
  const other = info.machines.find((m) => m !== vm)!.name;
  const id = (await labExec(NAME, victim, ["cat", "/etc/machine-id"])).stdout;
  // The plug is pulled before labStop first yields (the drill times a power loss from the call):
  // with this event loop blocked, nothing asynchronous of labStop can run, yet every process of
  // the machine dies.
  const procs = machineProcesses(victim);
  assert.ok(procs.length > 5, `${victim} runs ${procs.length} processes`);
  const stopping = labStop(NAME, victim, { hard: true });
  const deadline = Date.now() + 2000;
  let alive = procs;
  while (alive.length && Date.now() < deadline) alive = alive.filter(running);
  assert.deepEqual(alive, [], `processes of ${victim} still running with labStop not yet resumed`);
  await stopping;
  // The kernel removes the machine's veth when its network namespace is torn down, a little later.
  let after = await bridgeLinks();
  await untilAsync(async () => (after = await bridgeLinks()).ports.size !== before.ports.size, `${victim}'s port to leave the bridge`, 5000, 100);
  assert.equal(after.ports.size, before.ports.size - 1, `${victim}'s port left the bridge within 5 s`);
  assert.equal(after.mac, before.mac, `the bridge's MAC changed when ${victim} (port ${portMac.get(victim)}) powered off`);
  const st = await labStatus(NAME);
  assert.equal(st.machines.find((m) => m.name === victim)!.state, "stopped");
  assert.equal((await labExec(NAME, other, ["bash", "-c", tcpProbe(vm.address)])).stdout.trim(), "cut");
  assert.equal(await labStart(NAME, victim), "running");
  assert.equal((await labExec(NAME, victim, ["cat", "/etc/machine-id"])).stdout, id);
  const r = await ssh(vm.address, "systemctl is-system-running");
  assert.equal(r.stdout.trim(), "running");
  // A clean poweroff too.
  await labStop(NAME, victim);
  assert.equal((await labStatus(NAME)).machines.find((m) => m.name === victim)!.state, "stopped");
  assert.equal(await labStart(NAME, victim), "running");
});

test("lab up refuses a lab that is already up, and an address range in use", async () => {
  await assert.rejects(labUp({ name: NAME, subnet: SUBNET, cwd: tmp }), (e: KubehaError) =>
    /lab "kt-lab" is already up/.test(e.message) && /kubeha lab down --name kt-lab/.test(e.hint ?? ""));
  await assert.rejects(labUp({ name: NAME2, subnet: SUBNET, cwd: tmp }), (e: KubehaError) =>
    /198\.19\.254\.0\/24 is already in use.*kh-kt-lab/s.test(e.message) && /kubeha lab down --name kt-lab/.test(e.hint ?? ""));
  assert.deepEqual(await labLeftovers(NAME2), [], "a refused up leaves nothing");
});

test("lab down removes everything; also from naming conventions when the state file is lost", async () => {
  // With an offline bundle (as --kube-standins gives it): copied beside cluster.yaml and referenced.
  const bundle = path.join(tmp, "fixture-bundle");
  await fs.mkdir(path.join(bundle, "bin"), { recursive: true });
  await fs.writeFile(path.join(bundle, "bin/kubeadm"), "#!/bin/sh\n# stand-in fixture\n");
  await fs.writeFile(path.join(bundle, "kubeha-bundle.json"), JSON.stringify({
    kubernetesVersion: "1.34.2", description: "test fixture", files: [{ src: "bin/kubeadm", dest: "/usr/bin/kubeadm", mode: "0755" }], enable: [],
  }));
  const two = await labUp({ name: NAME2, masters: 1, workers: 0, subnet: SUBNET2, cwd: tmp, bundle });
  const f = parse(await fs.readFile(two.clusterFile, "utf8"));
  assert.deepEqual(f.spec.packages, { source: "bundle", bundle: "./bundle", proxy: "http://198.19.253.1:3142" });
  assert.equal(f.spec.kubernetes.version, "1.34.2");
  assert.equal(await fs.readFile(path.join(two.dir, "bundle/bin/kubeadm"), "utf8"), "#!/bin/sh\n# stand-in fixture\n");
  assert.ok((await labLeftovers(NAME2)).length > 0);
  assert.deepEqual(await labDown(NAME2), []);
  assert.deepEqual(await labLeftovers(NAME2), []);
  await assert.rejects(fs.stat(two.dir), /ENOENT/, "generated files removed");

  // A CI run killed mid-way: state file corrupt. Down must still find the machines, proxy, mounts, bridge.
  await fs.writeFile(stateFile(NAME), "{ not json");
  assert.deepEqual(await labDown(NAME), []);
  assert.deepEqual(await labLeftovers(NAME), []);
  const links = (await run("ip", ["-br", "link"])).stdout;
  assert.doesNotMatch(links, /kh-kt-lab|vb-kt-lab/);
  const mounts = await fs.readFile("/proc/self/mountinfo", "utf8");
  assert.doesNotMatch(mounts, /kubeha\/lab\/kt-lab/);
  const procs = (await run("ps", ["-eo", "args"])).stdout;
  assert.doesNotMatch(procs, /kh-kt-lab|kubeha\/lab\/kt-lab/);
});
