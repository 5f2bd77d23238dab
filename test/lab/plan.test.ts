/** Pure planning of the lab: addresses, names, roles, the cluster file, base recipe, proxy config. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parse } from "yaml";
import {
  baseRecipe,
  labSubnet,
  parseMirrors,
  planLab,
  recipeHash,
  renderClusterYaml,
  renderKnownHosts,
  replaceKnownHosts,
  renderLauncher,
  renderProxyConfig,
  machineFiles,
} from "../../src/lab/plan.ts";
import { parseCluster } from "../../src/spec/read.ts";
import { UsageError } from "../../src/errors.ts";
import { cidrContains, parseCidr } from "../../src/util/net.ts";

test("plan: default lab is 3 masters + 2 workers from .11, bridge .1, VIP .100", () => {
  const p = planLab({}, "/repo");
  assert.equal(p.name, "lab");
  assert.equal(p.bridge, "kh-lab");
  assert.deepEqual(p.machines.map((m) => m.name), ["master1", "master2", "master3", "worker1", "worker2"]);
  const base = p.subnet.replace(/0\/24$/, "");
  assert.deepEqual(p.machines.map((m) => m.address), [11, 12, 13, 14, 15].map((n) => base + n));
  assert.equal(p.bridgeAddress, base + "1");
  assert.equal(p.vip, base + "100");
  // Fixed, locally administered, unicast, and different for another lab's subnet.
  assert.match(p.bridgeMac, /^02:6b:68(:[0-9a-f]{2}){3}$/);
  assert.equal(p.bridgeMac.split(":").slice(3).map((h) => parseInt(h, 16)).join("."), p.bridgeAddress.split(".").slice(1).join("."));
  assert.notEqual(planLab({ name: "other", subnet: "198.19.7.0/24" }, "/repo").bridgeMac, p.bridgeMac);
  assert.equal(p.proxyUrl, `http://${base}1:3142`);
  assert.equal(p.dir, "/repo/lab/lab");
  assert.ok(cidrContains(parseCidr("198.18.0.0/15")!, p.bridgeAddress));
  // nspawn machine names carry the lab name so two labs never collide on the host.
  assert.deepEqual(p.machines.map((m) => m.unit).slice(0, 1), ["lab-master1"]);
});

test("plan: the default subnet depends on the name and stays inside 198.18.0.0/15", () => {
  const range = parseCidr("198.18.0.0/15")!;
  const seen = new Set<number>();
  for (const n of ["lab", "kt-lab", "a", "drill", "e2e", "zzzzzzzzzzzz"]) {
    const c = labSubnet(n);
    assert.equal(c.prefix, 24);
    assert.ok(c.base > range.base && c.base < range.base + 511 * 256, n);
    seen.add(c.base);
  }
  assert.ok(seen.size >= 5, "names spread over different /24s");
  assert.equal(labSubnet("lab").base, labSubnet("lab").base);
});

test("plan: bad names, subnets and counts are usage errors", () => {
  for (const name of ["Lab", "1lab", "lab_x", "way-too-long-name", "lab-", ""]) {
    assert.throws(() => planLab({ name }, "/"), UsageError, name);
  }
  for (const subnet of ["10.0.0.0/24", "198.18.0.0/16", "198.20.1.0/24", "198.18.1.0/25", "nope"]) {
    assert.throws(() => planLab({ subnet }, "/"), (e: unknown) => e instanceof UsageError && /198\.18\.0\.0\/15/.test(e.message), subnet);
  }
  assert.throws(() => planLab({ masters: 0 }, "/"), UsageError);
  assert.throws(() => planLab({ workers: -1 }, "/"), UsageError);
  assert.throws(() => planLab({ workers: 1.5 }, "/"), UsageError);
  assert.throws(() => planLab({ masters: 50, workers: 40 }, "/"), /at most 89/);
});

test("cluster.yaml: valid for kubeha, haproxy-keepalived on masters, external etcd, proxy, host0", () => {
  const p = planLab({ name: "t1", subnet: "198.19.7.0/24", masters: 3, workers: 2 }, "/x");
  const text = renderClusterYaml(p);
  const r = parseCluster(text, { sourcePath: "/x/lab/t1/cluster.yaml", home: "/root" });
  assert.deepEqual(r.problems.filter((x) => x.severity === "error"), []);
  const f = parse(text);
  assert.equal(f.metadata.name, "t1");
  assert.deepEqual(f.spec.controlPlaneEndpoint, { mode: "haproxy-keepalived", vip: "198.19.7.100", vipPrefix: 24 });
  assert.deepEqual(f.spec.etcd, { mode: "external" });
  assert.deepEqual(f.spec.packages, { proxy: "http://198.19.7.1:3142" });
  assert.deepEqual(f.spec.ssh, { user: "root", keyPath: "./id_ed25519", knownHostsPath: "./known_hosts" });
  assert.deepEqual(f.spec.hosts[0], { name: "master1", address: "198.19.7.11", roles: ["control-plane", "etcd", "lb"], interface: "host0" });
  assert.deepEqual(f.spec.hosts[4].roles, ["worker"]);
  assert.equal(text, renderClusterYaml(p), "deterministic");
});

test("cluster.yaml: separate LB machines take the lb role; a bundle sets source, path and version", () => {
  const p = planLab({ name: "t2", subnet: "198.19.8.0/24", masters: 3, workers: 1, lbs: 2 }, "/x");
  const text = renderClusterYaml(p, { path: "./bundle", kubernetesVersion: "1.34.2" });
  const f = parse(text);
  assert.deepEqual(f.spec.hosts.map((h: { name: string; roles: string[] }) => `${h.name}:${h.roles.join("+")}`), [
    "master1:control-plane+etcd", "master2:control-plane+etcd", "master3:control-plane+etcd", "worker1:worker", "lb1:lb", "lb2:lb",
  ]);
  assert.deepEqual(f.spec.packages, { source: "bundle", bundle: "./bundle", proxy: "http://198.19.8.1:3142" });
  assert.equal(f.spec.kubernetes.version, "1.34.2");
  assert.match(text, /stand-in/);
  const r = parseCluster(text, { sourcePath: "/x/lab/t2/cluster.yaml", home: "/root" });
  assert.deepEqual(r.problems.filter((x) => x.severity === "error"), []);
});

test("cluster.yaml with --endpoint kube-vip: kube-vip on .100, masters [control-plane, etcd], no lb role, valid", () => {
  const p = planLab({ name: "t4", subnet: "198.19.10.0/24", masters: 3, workers: 1, endpoint: "kube-vip" }, "/x");
  assert.equal(p.endpoint, "kube-vip");
  const text = renderClusterYaml(p, { path: "./bundle", kubernetesVersion: "1.34.2" });
  const f = parse(text);
  assert.deepEqual(f.spec.controlPlaneEndpoint, { mode: "kube-vip", vip: "198.19.10.100" });
  assert.deepEqual(f.spec.etcd, { mode: "external" });
  assert.deepEqual(f.spec.hosts.map((h: { name: string; roles: string[]; interface: string }) => `${h.name}:${h.roles.join("+")}:${h.interface}`), [
    "master1:control-plane+etcd:host0", "master2:control-plane+etcd:host0", "master3:control-plane+etcd:host0", "worker1:worker:host0",
  ]);
  const r = parseCluster(text, { sourcePath: "/x/lab/t4/cluster.yaml", home: "/root" });
  assert.deepEqual(r.problems.filter((x) => x.severity === "error"), []);
  assert.equal(r.cluster?.endpoint.mode, "kube-vip");
  assert.equal(r.cluster?.endpoint.address, "198.19.10.100");
  assert.equal(r.cluster?.endpoint.port, 6443, "kube-vip: clients reach the apiservers themselves on the VIP");
  assert.equal(planLab({}, "/").endpoint, "haproxy-keepalived", "the default is unchanged");
  assert.throws(() => planLab({ endpoint: "kube-vip", lbs: 2 }, "/"), (e: unknown) => e instanceof UsageError && /--lbs does not go with --endpoint kube-vip/.test(e.message));
  assert.throws(() => planLab({ endpoint: "haproxy" as never }, "/"), (e: unknown) => e instanceof UsageError && /haproxy-keepalived, kube-vip/.test(e.hint ?? ""));
});

test("mirrors: deb822 and one-line sources; security kept apart", () => {
  const deb822 = [
    "Types: deb",
    "URIs: http://deb.debian.org/debian",
    "Suites: bookworm bookworm-updates",
    "Components: main",
    "",
    "Types: deb",
    "URIs: http://deb.debian.org/debian-security",
    "Suites: bookworm-security",
    "Components: main",
  ].join("\n");
  assert.deepEqual(parseMirrors(deb822, undefined), {
    debian: "http://deb.debian.org/debian",
    security: "http://deb.debian.org/debian-security",
  });
  assert.deepEqual(parseMirrors(undefined, "# x\ndeb [arch=amd64] http://mirrors.aliyun.com/debian/ bookworm main\n"), {
    debian: "http://mirrors.aliyun.com/debian",
  });
  assert.equal(parseMirrors("Types: deb-src\nURIs: http://x/debian\nSuites: bookworm\n", ""), undefined);
});

test("base recipe: the hash changes with packages, mirror or script version", () => {
  const m = { debian: "http://deb.debian.org/debian" };
  const r = baseRecipe(m);
  assert.ok(!r.packages.some((p) => /haproxy|keepalived|etcd|containerd/.test(p)), "nothing kubeha installs itself");
  for (const p of ["systemd", "dbus", "openssh-server", "iproute2", "curl", "ca-certificates", "procps", "sudo", "python3"]) {
    assert.ok(r.packages.includes(p), p);
  }
  const h = recipeHash(r);
  assert.equal(h, recipeHash(baseRecipe({ ...m })));
  assert.notEqual(h, recipeHash({ ...r, packages: [...r.packages, "vim"] }));
  assert.notEqual(h, recipeHash(baseRecipe({ debian: "http://other/debian" })));
  assert.notEqual(h, recipeHash({ ...r, script: r.script + 1 }));
});

test("proxy config: bound to the bridge, only the Debian mirrors, no CONNECT", () => {
  const p = planLab({ name: "t3", subnet: "198.19.9.0/24" }, "/");
  const c = renderProxyConfig({
    plan: p,
    mirrors: { debian: "http://deb.debian.org/debian", security: "http://deb.debian.org/debian-security" },
    cacheDir: "/c",
    logDir: "/l",
    pidFile: "/l/pid",
  });
  assert.match(c, /^BindAddress: 198\.19\.9\.1$/m);
  assert.match(c, /^Port: 3142$/m);
  assert.match(c, /^ForceManaged: 1$/m);
  assert.match(c, /^Remap-debrep: deb\.debian\.org\/debian ; http:\/\/deb\.debian\.org\/debian\/$/m);
  assert.match(c, /^Remap-secdeb: deb\.debian\.org\/debian-security ; /m);
  assert.equal(c.match(/^Remap-/gm)?.length, 2);
});

test("machine files and launcher: own address on host0, cgroups first, bounded restart on 133", () => {
  const p = planLab({ name: "t4", subnet: "198.19.10.0/24", masters: 1, workers: 0 }, "/");
  const m = p.machines[0]!;
  const files = machineFiles(p, m, "0123456789abcdef0123456789abcdef", "ssh-ed25519 AAAA test");
  const net = files.find((f) => f.path.endsWith("10-host0.network"))!;
  assert.match(net.content, /^Name=host0$/m);
  assert.match(net.content, /^Address=198\.19\.10\.11\/24$/m);
  assert.doesNotMatch(net.content, /Gateway/);
  assert.equal(files.find((f) => f.path === "/root/.ssh/authorized_keys")!.mode, 0o600);
  assert.match(files.find((f) => f.path === "/etc/hosts")!.content, /^127\.0\.0\.1\tlocalhost$/m);
  const l = renderLauncher(p, m, "/var/lib/kubeha/lab/t4/master1/root");
  const lines = l.split("\n");
  const cg = lines.findIndex((x) => x.includes("/sys/fs/cgroup/systemd/kubeha-lab-t4/master1/cgroup.procs"));
  const ns = lines.findIndex((x) => x.includes("systemd-nspawn"));
  assert.ok(cg > 0 && cg < ns, "joins its cgroup before starting nspawn");
  for (const flag of ["--keep-unit", "--register=no", "--console=read-only", "--network-bridge=kh-t4", "--machine=t4-master1"]) {
    assert.ok(l.includes(flag), flag);
  }
  assert.match(l, /seq 1 \d+/);
  assert.match(l, /-eq 133/);
  assert.equal(
    renderKnownHosts([{ address: "198.19.10.11", publicKeys: ["ssh-ed25519 AAAA root@master1\n"] }]),
    "198.19.10.11 ssh-ed25519 AAAA\n",
  );
});

test("replaceKnownHosts: a recreated machine's old keys go, its new ones are pinned, the others stay", () => {
  const before = "198.19.10.11 ssh-ed25519 AAAAold1\n198.19.10.12 ssh-ed25519 AAAAm2\n198.19.10.11 ecdsa-sha2-nistp256 AAAAold2\n";
  const r = replaceKnownHosts(before, "198.19.10.11", ["ssh-ed25519 AAAAnew1 root@master1\n", "ecdsa-sha2-nistp256 AAAAnew2 root@master1\n"]);
  assert.equal(r.removed, 2);
  assert.equal(r.text, "198.19.10.12 ssh-ed25519 AAAAm2\n198.19.10.11 ssh-ed25519 AAAAnew1\n198.19.10.11 ecdsa-sha2-nistp256 AAAAnew2\n");
  // 198.19.10.111 is another machine, not a prefix match.
  assert.equal(replaceKnownHosts("198.19.10.111 ssh-ed25519 AAAAx\n", "198.19.10.11", []).removed, 0);
});

test("cluster.yaml with --etcd stacked: etcd.mode stacked, no etcd role (kubeadm's static pods on the masters), valid; unknown modes refused", () => {
  const p = planLab({ name: "t5", subnet: "198.19.11.0/24", masters: 3, workers: 1, etcd: "stacked" }, "/x");
  assert.equal(p.etcd, "stacked");
  const text = renderClusterYaml(p, { path: "./bundle", kubernetesVersion: "1.34.2" });
  const f = parse(text);
  assert.deepEqual(f.spec.etcd, { mode: "stacked" });
  assert.deepEqual(f.spec.hosts.map((h: { name: string; roles: string[] }) => `${h.name}:${h.roles.join("+")}`), [
    "master1:control-plane+lb", "master2:control-plane+lb", "master3:control-plane+lb", "worker1:worker",
  ]);
  const r = parseCluster(text, { sourcePath: "/x/lab/t5/cluster.yaml", home: "/root" });
  assert.deepEqual(r.problems.filter((x) => x.severity === "error"), []);
  assert.equal(planLab({ name: "t6" }, "/x").etcd, "external", "the default stays external");
  assert.throws(() => planLab({ name: "t7", etcd: "local" as never }, "/x"), /--etcd local: unknown etcd mode/);
});

test("--provision ignition: needs the stand-in bundle; cluster.yaml has no proxy, the lab's key and prefix under provisioning; valid", () => {
  assert.throws(() => planLab({ name: "t5", subnet: "198.19.11.0/24", provision: "ignition" }, "/x"), (e: unknown) => e instanceof UsageError && /needs --kube-standins/.test(e.message));
  assert.throws(() => planLab({ name: "t5", provision: "cloud-init" as "ssh" }, "/x"), (e: unknown) => e instanceof UsageError && /unknown provisioning/.test(e.message));
  assert.equal(planLab({ name: "t5" }, "/x").provision, "ssh");
  const p = planLab({ name: "t5", subnet: "198.19.11.0/24", masters: 3, workers: 1, bundle: "b", provision: "ignition" }, "/x");
  const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFakeFakeFakeFakeFake kubeha-lab-t5";
  const text = renderClusterYaml(p, { path: "./bundle", kubernetesVersion: "1.34.2" }, key + "\n");
  const r = parseCluster(text, { sourcePath: "/x/lab/t5/cluster.yaml", home: "/root" });
  assert.deepEqual(r.problems.filter((x) => x.severity === "error"), []);
  const f = parse(text);
  assert.deepEqual(f.spec.packages, { source: "bundle", bundle: "./bundle" }, "no package proxy: the machines install nothing");
  assert.deepEqual(f.spec.provisioning, { network: { prefixLength: 24 }, sshAuthorizedKeys: [key] });
  assert.match(text, /--provision ignition/);
});

test("Ignition base: its own cache key with the daemons' packages; the SSH base's key is unchanged by the new field", () => {
  const m = { debian: "http://deb.debian.org/debian" };
  const ssh = baseRecipe(m);
  assert.equal("flavour" in ssh, false, "the SSH recipe (and so its cached base) is as before");
  assert.deepEqual(baseRecipe(m, "ssh"), ssh);
  const ign = baseRecipe(m, "ignition");
  assert.equal(ign.flavour, "ignition");
  for (const p of ["haproxy", "keepalived", "etcd-server", "etcd-client", "containerd", "socat", "conntrack", "iptables", "ethtool", ...ssh.packages]) {
    assert.ok(ign.packages.includes(p), p);
  }
  assert.notEqual(recipeHash(ign), recipeHash(ssh));
});

test("Ignition machine files: only what an image's first boot gives (machine-id, localhost); hostname, address and SSH key come from Ignition", () => {
  const p = planLab({ name: "t6", subnet: "198.19.12.0/24", masters: 1, workers: 0, bundle: "b", provision: "ignition" }, "/x");
  const files = machineFiles(p, p.machines[0]!, "ab".repeat(16), "ssh-ed25519 AAAA k");
  assert.deepEqual(files.map((f) => f.path).sort(), ["/etc/hosts", "/etc/machine-id"]);
  assert.ok(!files.some((f) => f.content.includes("master1")));
});

test("--bootstrap binary: cluster.yaml says bootstrap: binary with external etcd on the masters and the LB machines, valid; the combinations binary mode cannot have are refused before any machine boots", () => {
  const p = planLab({ name: "hw", subnet: "198.19.12.0/24", masters: 3, workers: 2, lbs: 2, bundle: "b", bootstrap: "binary" }, "/x");
  assert.equal(p.bootstrap, "binary");
  const text = renderClusterYaml(p, { path: "./bundle", kubernetesVersion: "1.34.2" });
  const f = parse(text);
  assert.equal(f.spec.bootstrap, "binary");
  assert.deepEqual(f.spec.etcd, { mode: "external" });
  assert.deepEqual(f.spec.hosts.map((h: { name: string; roles: string[] }) => `${h.name}:${h.roles.join("+")}`), [
    "master1:control-plane+etcd", "master2:control-plane+etcd", "master3:control-plane+etcd", "worker1:worker", "worker2:worker", "lb1:lb", "lb2:lb",
  ]);
  const r = parseCluster(text, { sourcePath: "/x/lab/hw/cluster.yaml", home: "/root" });
  assert.deepEqual(r.problems.filter((x) => x.severity === "error"), []);
  assert.equal(parse(renderClusterYaml(planLab({ name: "t6", bundle: "b" }, "/x"), { path: "./bundle", kubernetesVersion: "1.34.2" })).spec.bootstrap, undefined, "kubeadm, the default, is not written");
  const refused = (o: Parameters<typeof planLab>[0], re: RegExp) =>
    assert.throws(() => planLab(o, "/x"), (e: unknown) => e instanceof UsageError && re.test(e.message), JSON.stringify(o));
  refused({ name: "t7", bootstrap: "binary" }, /--bootstrap binary needs --kube-standins/);
  refused({ name: "t7", bundle: "b", bootstrap: "binary", etcd: "stacked" }, /needs --etcd external/);
  refused({ name: "t7", bundle: "b", bootstrap: "binary", endpoint: "kube-vip" }, /does not go with --endpoint kube-vip/);
  refused({ name: "t7", bundle: "b", bootstrap: "binary", provision: "ignition" }, /does not go with --provision ignition/);
  refused({ name: "t7", bootstrap: "hard" as never }, /--bootstrap hard: unknown bootstrap mode/);
});
