/**
 * Hosts that configure themselves from Ignition (issue 13), on real machines: `lab up --provision
 * ignition` runs the real Ignition (Debian's ignition 2.14) with each machine's config against its
 * root before the first boot; 3 masters (control plane + external etcd + HAProxy/keepalived on
 * 8443) and two workers then come up into the cluster by themselves, nothing installed over SSH
 * (no package proxy, apt never ran in a machine). Asserted: `kubeha status` healthy (VIP, backends,
 * etcd, readyz through the VIP); `kubeha drill --scenario lb-haproxy-dies,lb-machine-down` passes
 * its targets (exit 0: blackout ≤ 1 s / ≤ 2 s, the VIP moved) and ends healthy (the holder powered off boots back into the cluster); a rebooted control plane keeps working (units enabled, the install unit does not run
 * again); a worker recreated from a config with a wrong CA pin fails its install unit with kubeadm's
 * reason in the journal and `status` names it. Kubernetes binaries are the stand-ins.
 * Lab name and subnet: KUBEHA_E2E_IGN_LAB / KUBEHA_E2E_IGN_SUBNET (default kt-ign, 198.19.243.0/24).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { labExec, labRecreate, labStart, labStop, sleep, type LabInfo } from "../../src/lab/index.ts";
import { PATHS as LAB_PATHS } from "../../src/lab/plan.ts";
import { PATHS } from "../../src/render/paths.ts";
import { dataUrl } from "../../src/render/ignition.ts";
import { dropLab, freshLab } from "../helpers/e2e-lab.ts";
import { assertLbDrill } from "../helpers/lb-drill.ts";
import { kubeha, untilOk } from "../helpers/cli.ts";

const NAME = process.env.KUBEHA_E2E_IGN_LAB ?? "kt-ign";
const SUBNET = process.env.KUBEHA_E2E_IGN_SUBNET ?? "198.19.243.0/24";
let lab: LabInfo;
let cwd: string | undefined;
let upStarted = 0;
let upSeconds = 0;

interface Report {
  healthy: boolean;
  problems: string[];
  vip: { holders: string[] };
  lb?: Array<{ host: string; servers: Array<{ server: string; state: string }> }>;
  etcd?: Array<{ name: string; healthy: boolean }>;
  readyz?: Array<{ via: string; code: number | null }>;
}

function status(): { code: number; report: Report; text: string } {
  const r = kubeha(["status", lab.clusterFile, "--output", "json"], { cwd: cwd!, timeoutMs: 90_000 });
  assert.ok(r.code === 0 || r.code === 1 || r.code === 4, `status exit ${r.code}\n${r.stderr}`);
  return { code: r.code, report: JSON.parse(r.stdout) as Report, text: r.stdout };
}

const untilHealthy = (seconds: number) => untilOk(status, seconds);

async function sh(machine: string, cmd: string): Promise<string> {
  const r = await labExec(NAME, machine, ["sh", "-c", cmd], { timeoutMs: 30_000 });
  return r.stdout.trim();
}

before(async () => {
  upStarted = Date.now();
  ({ lab, cwd } = await freshLab({ name: NAME, subnet: SUBNET, masters: 3, workers: 2, provision: "ignition" }));
  upSeconds = (Date.now() - upStarted) / 1000;
});

after(() => dropLab(NAME, cwd));

test("the machines come up into the cluster by themselves: status healthy (VIP, backends, etcd, readyz via the VIP), nothing installed", async () => {
  assert.equal(lab.provision, "ignition");
  const s = await untilHealthy(240);
  const healthySeconds = (Date.now() - upStarted) / 1000;
  console.log(`# lab up --provision ignition: machines running after ${upSeconds.toFixed(1)} s, cluster healthy ${healthySeconds.toFixed(1)} s after lab up started`);
  assert.equal(s.code, 0, s.report.problems.join("\n"));
  assert.equal(s.report.vip.holders.length, 1);
  const t = kubeha(["status", lab.clusterFile], { cwd: cwd! });
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /endpoint \S+:8443 \(haproxy-keepalived\)/, "seed 004's port");
  assert.equal((t.stdout.match(/kube-apiserver\s+master\d\s+\S+\s+UP/g) ?? []).length, 9, "3 LB hosts see 3 backends UP");
  assert.equal((t.stdout.match(/^master\d\s+https:\S+:2379\s+yes/gm) ?? []).length, 3, "3 healthy etcd members");
  assert.match(t.stdout, /endpoint\s+https:\/\/\S+:8443\/readyz\s+200/, "readyz through the VIP");
  for (const m of lab.machines) {
    assert.equal(await sh(m.name, "systemctl show kubeha-install -p Result --value"), "success", `${m.name}: install unit succeeded`);
    assert.equal(await sh(m.name, `test -e ${PATHS.installedMarker} && echo yes`), "yes", `${m.name}: installed marker`);
    // Nothing came over SSH or apt: the machine's own layer has no apt history (the base's is below it).
    assert.ok(!existsSync(join(LAB_PATHS.machines, NAME, m.name, "upper", "var/log/apt/history.log")), `${m.name}: apt never ran`);
    assert.match(await sh(m.name, "cat /root/.ssh/authorized_keys.d/ignition"), /^ssh-ed25519 /, `${m.name}: SSH key from Ignition`);
  }
  const nodes = await labExec(NAME, "master1", ["kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "get", "nodes"], { timeoutMs: 30_000 });
  assert.equal(nodes.code, 0, nodes.stderr);
  for (const m of lab.machines) assert.match(nodes.stdout, new RegExp(`^${m.name}\\s+Ready`, "m"));
});

test("drill lb-haproxy-dies, lb-machine-down passes its targets: exit 0, blackout within each scenario's target, the VIP moved, the cluster ends healthy", async () => {
  await assertLbDrill({ clusterFile: lab.clusterFile, name: NAME, cwd: cwd!, where: "on the Ignition lab" });
  assert.equal((await untilHealthy(90)).code, 0, "status healthy after the drill (the powered-off machine rebooted into the cluster)");
});

test("a rebooted control plane keeps working: its units are enabled, the install unit does not run again", async () => {
  const before = await sh("master1", "journalctl -u kubeha-install -o cat | grep -c 'kubeadm init' || true");
  await labStop(NAME, "master1");
  await labStart(NAME, "master1");
  const s = await untilHealthy(120);
  assert.equal(s.code, 0, s.report.problems.join("\n"));
  for (const u of ["haproxy", "keepalived", "etcd", "containerd", "kubelet"]) {
    assert.equal(await sh("master1", `systemctl is-enabled ${u}`), "enabled", `${u} enabled`);
    assert.equal(await sh("master1", `systemctl is-active ${u}`), "active", `${u} active after the reboot`);
  }
  // Skipped by its ConditionPathExists=! on the marker: init ran once, on the first boot.
  assert.match(await sh("master1", "systemctl show kubeha-install -p ConditionResult --value"), /^no$/);
  assert.equal(await sh("master1", "journalctl -u kubeha-install -o cat | grep -c 'kubeadm init' || true"), before);
});

test("a worker booted from a config with a wrong CA pin: its install unit fails with kubeadm's reason in the journal, status names it", async () => {
  // The worker's config as kubeha wrote it, with join.yaml's caCertHashes replaced.
  const cfg = JSON.parse(readFileSync(join(lab.dir, "ignition", "worker1.ign"), "utf8")) as { storage: { files: Array<{ path: string; contents: { source: string } }> } };
  const f = cfg.storage.files.find((x) => x.path === PATHS.installRoot + PATHS.kubeadmJoin)!;
  const m = /^data:([^,]*),(.*)$/s.exec(f.contents.source)!;
  const text = m[1]!.endsWith(";base64") ? Buffer.from(m[2]!, "base64").toString("utf8") : decodeURIComponent(m[2]!);
  const bad = text.replace(/sha256:[0-9a-f]{64}/g, `sha256:${"0".repeat(64)}`);
  assert.notEqual(bad, text, "join.yaml pins the CA");
  f.contents.source = dataUrl(bad);
  const badCfg = join(cwd!, "worker1-bad-pin.ign");
  writeFileSync(badCfg, JSON.stringify(cfg) + "\n", { mode: 0o600 });
  await labRecreate(NAME, "worker1", { ignitionConfig: badCfg });

  let unit = "";
  for (let i = 0; i < 60 && !/Result=exit-code/.test(unit); i++) {
    await sleep(1000);
    unit = await sh("worker1", "systemctl show kubeha-install -p Result -p ActiveState -p SubState");
  }
  assert.match(unit, /Result=exit-code/, unit);
  assert.match(unit, /ActiveState=(activating|failed)/, "failed; retried at most INSTALL_ATTEMPTS times");
  const journal = await sh("worker1", "journalctl -u kubeha-install -o cat");
  assert.match(journal, /none of the public keys "sha256:[0-9a-f]{64}" are pinned/, "kubeadm's reason");
  assert.match(journal, /\[kubeha worker1\] error: kubeadm join failed/);
  const s = status();
  assert.equal(s.code, 1);
  assert.ok(s.report.problems.some((p) => /^worker1: kubeha-install\.service failed \(exit-code, (activating|failed)\)/.test(p)), `status names worker1's failed install: ${s.report.problems.join("; ")}`);
});
