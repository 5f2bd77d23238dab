/** The decisions behind the rendered files, one assertion each (beyond what the goldens pin). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { parseCluster } from "../../src/spec/read.ts";
import type { Cluster } from "../../src/spec/model.ts";
import { hostsWithRole } from "../../src/spec/model.ts";
import { renderCluster } from "../../src/render/index.ts";
import { VRRP_STALL_TOLERANCE_S, downTimerAdverts, vrrpWeights, vrrpPriority } from "../../src/render/keepalived.ts";
import { PATHS } from "../../src/render/paths.ts";
import { PAUSE_TAGS, pauseTag } from "../../src/render/containerd.ts";
import { SUPPORTED_MINORS } from "../../src/spec/normalize.ts";
import { DEFAULTS } from "../../src/spec/defaults.ts";
import { usesKeepalived } from "../../src/spec/topology.ts";
import { FIXTURE_SECRETS, clustersUnderTest } from "./helpers.ts";

function cluster(endpoint: string, extra = "", hosts = 3): Cluster {
  // Three control planes always (validation wants them); the first `hosts` of m1..m4 are LB hosts too.
  const n = Math.max(hosts, 3);
  const hs = Array.from({ length: n }, (_, i) => {
    const roles = [...(i < 3 ? ["control-plane"] : []), ...(i < hosts ? ["lb"] : [])];
    return `    - { name: m${i + 1}, address: 198.18.50.${11 + i}, roles: [${roles.join(", ")}], interface: eth0 }`;
  });
  const text = `apiVersion: kubeha.dev/v1alpha1
kind: Cluster
metadata: { name: t }
spec:
  hosts:
${hs.join("\n")}
    - { name: w1, address: 198.18.50.99, roles: [worker] }
${extra}
  controlPlaneEndpoint:
${endpoint}
`;
  const r = parseCluster(text, { home: "/home/x" });
  assert.ok(r.cluster, JSON.stringify(r.problems));
  return r.cluster;
}
const KA = (ka = "") => `    mode: haproxy-keepalived\n    vip: 198.18.50.10\n${ka}`;

function parse(text: string): Cluster {
  const r = parseCluster(text, { home: "/h" });
  assert.ok(r.cluster, JSON.stringify(r.problems.filter((p) => p.severity === "error")));
  return r.cluster;
}

function fileOf(c: Cluster, host: string, path: string): string {
  const f = renderCluster(c, FIXTURE_SECRETS).find((r) => r.host === host)?.files.find((f) => f.path === path);
  assert.ok(f, `${host}:${path} not rendered`);
  return f.content;
}

test("VRRP priorities are distinct and ordered by lbIndex, every instance starts BACKUP", () => {
  const c = cluster(KA(), "", 5);
  const prios = hostsWithRole(c, "lb").map((h) => Number(/^ {4}priority (\d+)$/m.exec(fileOf(c, h.name, PATHS.keepalivedConf))![1]));
  assert.deepEqual(prios, [150, 120, 110, 100, 90]);
  for (const h of hostsWithRole(c, "lb")) {
    const conf = fileOf(c, h.name, PATHS.keepalivedConf);
    assert.match(conf, /state BACKUP/);
    assert.doesNotMatch(conf, /state MASTER/);
  }
});

test("preempt never: a failing holder drops below every healthy host; a recovered host stays below any holder", () => {
  for (let n = 2; n <= 8; n++) {
    const c = cluster(KA(), "", n);
    assert.ok(usesKeepalived(c));
    const w = vrrpWeights(c);
    assert.equal(w.priorities.length, n);
    const min = Math.min(...w.priorities);
    for (const p of w.priorities) {
      assert.ok(p + w.holderBonus - w.penalty < min, `n=${n}: holder ${p} failing is not below ${min}`);
      assert.ok(p + w.holderBonus > 150, `n=${n}: holder ${p} can be preempted by a recovered 150`);
      assert.ok(p + w.holderBonus <= 254, "VRRP priority range");
    }
  }
  const nine = cluster(KA(), "", 9);
  assert.ok(usesKeepalived(nine));
  assert.throws(() => vrrpWeights(nine), /at most 8/);
});

test("keepalived: no nopreempt (it blocks weight-based failover), delay mode uses FAULT weights", () => {
  const never = fileOf(cluster(KA()), "m1", PATHS.keepalivedConf);
  assert.doesNotMatch(never, /nopreempt/);
  assert.match(never, /kubeha_vip_holder/);
  assert.match(never, /weight -100/);
  const delay = fileOf(cluster(KA("    keepalived: { preempt: delay, preemptDelaySeconds: 45 }\n")), "m1", PATHS.keepalivedConf);
  assert.match(delay, /preempt_delay 45/);
  assert.match(delay, /weight 0\n/);
  assert.doesNotMatch(delay, /kubeha_vip_holder/);
  const always = fileOf(cluster(KA("    keepalived: { preempt: always }\n")), "m1", PATHS.keepalivedConf);
  assert.doesNotMatch(always, /preempt_delay|kubeha_vip_holder/);
});

test("keepalived: VRRPv3 sub-second adverts without keepalived's own real-time scheduling (a reload would kill an RT child; the drop-in's chrt gives SCHED_RR instead); VRRPv2 uses the generated auth_pass", () => {
  const v3 = fileOf(cluster(KA()), "m1", PATHS.keepalivedConf);
  assert.match(v3, /vrrp_version 3/);
  assert.ok(DEFAULTS.keepalived.advertInterval < 1);
  assert.ok(v3.includes(`    advert_int ${DEFAULTS.keepalived.advertInterval}\n`), v3);
  assert.match(v3, /vrrp_priority -20\n/);
  assert.doesNotMatch(v3, /^\s*(vrrp_rt_priority|vrrp_rlimit_rttime)\b/m);
  assert.match(fileOf(cluster(KA()), "m1", PATHS.keepalivedDropIn), /\nExecStartPost=-\/bin\/sh -c 'ok=1; chrt --all-tasks --rr --pid 10 /);
  assert.doesNotMatch(v3, /auth_pass/);
  const v2 = fileOf(cluster(KA("    keepalived: { advertInterval: 1 }\n")), "m2", PATHS.keepalivedConf);
  assert.match(v2, new RegExp(`auth_pass ${FIXTURE_SECRETS.vrrpAuthPass}\\n`));
  assert.doesNotMatch(v2, /vrrp_version 3/);
});

test("keepalived: below 30 ms adverts a backup waits more than VRRP's 3 adverts, so a holder held off the CPU for VRRP_STALL_TOLERANCE_S beyond one advert keeps the VIP; the fewest adverts that do, the same on every host", () => {
  // VRRP's master-down interval: down_timer_adverts adverts plus a skew of (256 - priority) / 256 of one.
  const masterDownS = (a: number, priority: number) => downTimerAdverts(a) * a + ((256 - priority) / 256) * a;
  for (let cs = 1; cs < 100; cs++) {
    const a = cs / 100;
    const k = downTimerAdverts(a);
    // The silence a backup sits through beyond one advert before it takes over (its skew left out: at least this).
    assert.ok((k - 1) * a >= VRRP_STALL_TOLERANCE_S - 1e-9, `advert ${a}: ${k} adverts tolerate ${(k - 1) * a} s`);
    assert.ok(k === 3 || (k - 2) * a < VRRP_STALL_TOLERANCE_S - 1e-9, `advert ${a}: ${k} adverts is more than needed`);
    assert.ok(masterDownS(a, Math.min(...[0, 1, 2, 7].map(vrrpPriority))) > masterDownS(a, 150), "a lower priority waits longer (the skew)");
  }
  assert.deepEqual([0.01, 0.02, 0.025, 0.03, 0.1, 1].map(downTimerAdverts), [7, 4, 4, 3, 3, 3]);
  assert.equal(Math.round(masterDownS(DEFAULTS.keepalived.advertInterval, vrrpPriority(1)) * 1000), 75, "the default: the first backup takes over 75 ms after the holder's last advert");
  for (const [adv, want] of [["", 7], ["    keepalived: { advertInterval: 0.02 }\n", 4], ["    keepalived: { advertInterval: 0.05 }\n", null]] as const) {
    const c = cluster(KA(adv));
    for (const h of ["m1", "m2", "m3"]) {
      const ka = fileOf(c, h, PATHS.keepalivedConf);
      const got = /^ {4}down_timer_adverts (\d+)$/m.exec(ka)?.[1];
      assert.equal(got === undefined ? null : Number(got), want, `${h} with ${adv.trim() || "the default advert"}`);
    }
  }
});

test("keepalived: unicast peers are the other LB hosts; multicast has none", () => {
  const uni = fileOf(cluster(KA()), "m2", PATHS.keepalivedConf);
  assert.match(uni, /unicast_src_ip 198\.18\.50\.12/);
  assert.match(uni, /unicast_peer \{\n {8}198\.18\.50\.11\n {8}198\.18\.50\.13\n {4}\}/);
  const multi = fileOf(cluster(KA("    keepalived: { unicast: false }\n")), "m2", PATHS.keepalivedConf);
  assert.doesNotMatch(multi, /unicast_src_ip|unicast_peer|check_unicast_src/);
});

test("no seed mistakes in any rendered file: 1111, killall, apt.kubernetes.io, ssl-hello-chk, StrictHostKeyChecking", () => {
  for (const { name, cluster: c } of clustersUnderTest()) {
    for (const r of renderCluster(c, FIXTURE_SECRETS)) {
      for (const f of [...r.files, { path: "install.sh", content: r.installScript }]) {
        const where = `${name}/${r.host}:${f.path}`;
        assert.doesNotMatch(f.content, /\b1111\b/, where);
        assert.doesNotMatch(f.content, /killall/, where);
        assert.doesNotMatch(f.content, /apt\.kubernetes\.io|packages\.cloud\.google\.com/, where);
        assert.doesNotMatch(f.content, /ssl-hello-chk/, where);
        assert.doesNotMatch(f.content, /StrictHostKeyChecking/, where);
        assert.doesNotMatch(f.content, /virtual_server/, where);
      }
    }
  }
});

test("haproxy: readyz over TLS without verification, fast checks, redispatch, timeouts from the cluster file", () => {
  const c = cluster(`${KA()}    haproxy: { checkIntervalMs: 700, fall: 3, rise: 4, connectTimeoutMs: 250, tunnelTimeoutSeconds: 7200 }\n`);
  const cfg = fileOf(c, "m1", PATHS.haproxyCfg);
  assert.match(cfg, /option httpchk GET \/readyz/);
  assert.match(cfg, /check check-ssl verify none inter 700ms fall 3 rise 4/);
  assert.match(cfg, /option redispatch\n {4}retries 3/);
  assert.match(cfg, /timeout connect 250ms/);
  assert.match(cfg, /timeout client 7200s/);
  assert.match(cfg, /balance roundrobin/);
  assert.match(cfg, /bind \*:8443/, "colocated: the default port moves off 6443");
  assert.equal(cfg.match(/^ {4}server /gm)?.length, 3);
  assert.doesNotMatch(cfg, /listen stats/, "stats page is off by default");
});

test("kubeadm: v1beta3 below 1.31 with map extraArgs, v1beta4 from 1.31 with lists", () => {
  const v30 = fileOf(cluster(KA(), '  kubernetes: { version: "1.30.2" }'), "m1", PATHS.kubeadmInit);
  assert.match(v30, /apiVersion: kubeadm\.k8s\.io\/v1beta3/);
  assert.match(v30, /kubeletExtraArgs:\n {4}node-ip: 198\.18\.50\.11/);
  const v31 = fileOf(cluster(KA(), '  kubernetes: { version: "1.31.0" }'), "m1", PATHS.kubeadmInit);
  assert.match(v31, /apiVersion: kubeadm\.k8s\.io\/v1beta4/);
  assert.match(v31, /kubeletExtraArgs:\n {4}- name: node-ip\n {6}value: 198\.18\.50\.11/);
  assert.doesNotMatch(v31, /v1beta3/);
});

test("kubeadm: taints omitted when unset, [] when empty, parsed when listed", () => {
  const text = (taints: string) =>
    cluster(KA()).hosts.length &&
    parse(
      `apiVersion: kubeha.dev/v1alpha1
kind: Cluster
metadata: { name: t }
spec:
  hosts:
    - { name: a, address: 198.18.51.1, roles: [control-plane]${taints} }
    - { name: b, address: 198.18.51.2, roles: [control-plane] }
    - { name: c, address: 198.18.51.3, roles: [control-plane] }
  controlPlaneEndpoint: { mode: kube-vip, vip: 198.18.51.10 }
`
    );
  assert.doesNotMatch(fileOf(text("") as Cluster, "a", PATHS.kubeadmInit), /taints/);
  assert.match(fileOf(text(", taints: []") as Cluster, "a", PATHS.kubeadmInit), /taints: \[\]\n/);
  assert.match(
    fileOf(text(', taints: ["gpu=yes:NoExecute", "x:PreferNoSchedule"]') as Cluster, "a", PATHS.kubeadmInit),
    /taints:\n {4}- key: gpu\n {6}value: "?yes"?\n {6}effect: NoExecute\n {4}- key: x\n {6}effect: PreferNoSchedule/,
  );
  assert.doesNotMatch(fileOf(text(", taints: []") as Cluster, "b", PATHS.kubeadmJoin), /taints/);
});

test("kube-vip on 1.29+: super-admin.conf only in the init-time manifest of the first control plane", () => {
  const c = parse(
    `apiVersion: kubeha.dev/v1alpha1
kind: Cluster
metadata: { name: t }
spec:
  hosts:
    - { name: a, address: 198.18.52.1, roles: [control-plane] }
    - { name: b, address: 198.18.52.2, roles: [control-plane] }
    - { name: c, address: 198.18.52.3, roles: [control-plane] }
  controlPlaneEndpoint: { mode: kube-vip, vip: 198.18.52.10 }
`
    );
  const [a, b] = renderCluster(c, FIXTURE_SECRETS);
  assert.match(a!.files.find((f) => f.path === PATHS.kubeVipDuringInit)!.content, /path: \/etc\/kubernetes\/super-admin\.conf/);
  assert.doesNotMatch(a!.files.find((f) => f.path === PATHS.kubeVipManifest)!.content, /super-admin/);
  assert.ok(!b!.files.some((f) => f.path === PATHS.kubeVipDuringInit));
  assert.match(a!.installScript, /cp \/etc\/kubeha\/kube-vip\.init\.yaml \/etc\/kubernetes\/manifests\/kube-vip\.yaml\n {4}rc=0; kubeadm init [^\n]*\n {4}cp \/etc\/kubeha\/kube-vip\.steady\.yaml \/etc\/kubernetes\/manifests\/kube-vip\.yaml\n/);
});

test("packages: pkgs.k8s.io per minor with the keyring; no Kubernetes repository with a bundle; proxy file", () => {
  const up = fileOf(cluster(KA(), '  kubernetes: { version: "1.32.1" }'), "w1", PATHS.kubernetesAptSource);
  assert.match(up, /deb \[signed-by=\/etc\/apt\/keyrings\/kubernetes-apt-keyring\.gpg\] https:\/\/pkgs\.k8s\.io\/core:\/stable:\/v1\.32\/deb\/ \//);
  const bundle = cluster(KA(), "  packages: { source: bundle, bundle: /srv/b, proxy: http://198.18.0.1:3142 }");
  const files = renderCluster(bundle, FIXTURE_SECRETS).find((r) => r.host === "w1")!;
  assert.ok(!files.files.some((f) => f.path === PATHS.kubernetesAptSource));
  assert.match(files.files.find((f) => f.path === PATHS.aptProxy)!.content, /Acquire::http::Proxy "http:\/\/198\.18\.0\.1:3142";/);
  assert.match(files.installScript, /docs\/bundle\.md/);
});

test("containerd: systemd cgroups and the pause image from the image repository", () => {
  const c = cluster(KA(), "  kubernetes: { imageRepository: registry.aliyuncs.com/google_containers }");
  const toml = fileOf(c, "w1", PATHS.containerdConfig);
  assert.match(toml, /SystemdCgroup = true/);
  assert.match(toml, /sandbox_image = "registry\.aliyuncs\.com\/google_containers\/pause:3\.10\.1"/);
});

test("external LB without hairpin: control planes resolve the name to 127.0.0.1, others to the LB", () => {
  const c = parse(
    `apiVersion: kubeha.dev/v1alpha1
kind: Cluster
metadata: { name: t }
spec:
  hosts:
    - { name: a, address: 198.18.53.1, roles: [control-plane] }
    - { name: b, address: 198.18.53.2, roles: [control-plane] }
    - { name: c, address: 198.18.53.4, roles: [control-plane] }
    - { name: w, address: 198.18.53.3, roles: [worker] }
  controlPlaneEndpoint: { mode: external, address: 198.18.53.10, hairpin: false, dnsName: api.t.internal }
`
    );
  assert.match(fileOf(c, "a", PATHS.hostsFragment), /^127\.0\.0\.1 api\.t\.internal$/m);
  assert.match(fileOf(c, "b", PATHS.hostsFragment), /^127\.0\.0\.1 api\.t\.internal$/m);
  assert.match(fileOf(c, "w", PATHS.hostsFragment), /^198\.18\.53\.10 api\.t\.internal$/m);
  const b = renderCluster(c, FIXTURE_SECRETS).find((r) => r.host === "b")!;
  assert.match(b.installScript, /198\.18\.53\.1 api\.t\.internal/, "joining control plane discovers through the first one");
});

test("lb hosts get ip_nonlocal_bind; the keepalived check and notify scripts are 0755", () => {
  const r = renderCluster(cluster(KA()), FIXTURE_SECRETS).find((r) => r.host === "m1")!;
  assert.match(r.files.find((f) => f.path === PATHS.sysctlLb)!.content, /net\.ipv4\.ip_nonlocal_bind = 1/);
  assert.equal(r.files.find((f) => f.path === PATHS.keepalivedCheckScript)!.mode, 0o755);
  assert.equal(r.files.find((f) => f.path === PATHS.keepalivedNotifyScript)!.mode, 0o755);
  assert.match(r.files.find((f) => f.path === PATHS.haproxyDropIn)!.content, /ExecStopPost=.*echo 1 > \/run\/kubeha\/haproxy-down/);
  assert.match(r.files.find((f) => f.path === PATHS.keepalivedDropIn)!.content, /Restart=always\nRestartSec=500ms/);
  assert.ok(vrrpPriority(0) > vrrpPriority(1));
});

test("pause tag: one per supported minor (kubeadm's PauseVersion), the same in containerd and CRI-O", () => {
  for (let m = SUPPORTED_MINORS.min; m <= SUPPORTED_MINORS.max; m++) assert.ok(PAUSE_TAGS[m], `no pause tag for 1.${m}`);
  assert.equal(pauseTag(30), "3.9");
  assert.equal(pauseTag(31), "3.10");
  assert.equal(pauseTag(33), "3.10");
  assert.equal(pauseTag(34), "3.10.1");
  assert.throws(() => pauseTag(28), /1\.28/);
  for (const runtime of ["containerd", "cri-o"]) {
    const c = cluster(KA(), `  kubernetes: { version: "1.33.4", containerRuntime: ${runtime} }`);
    const all = renderCluster(c, FIXTURE_SECRETS).find((r) => r.host === "w1")!.files.map((f) => f.content).join("\n");
    assert.match(all, /registry\.k8s\.io\/pause:3\.10"/, runtime);
  }
});

test("CRI-O comes from the CRI-O project's repository of the same minor (cri-o/cri-o#9111), key beside it", () => {
  const c = cluster(KA(), '  kubernetes: { version: "1.34.2", containerRuntime: cri-o }');
  const w = renderCluster(c, FIXTURE_SECRETS).find((r) => r.host === "w1")!;
  const list = w.files.find((f) => f.path === PATHS.crioAptSource)!.content;
  assert.match(list, /^deb \[signed-by=\/etc\/apt\/keyrings\/cri-o-apt-keyring\.gpg\] https:\/\/download\.opensuse\.org\/repositories\/isv:\/cri-o:\/stable:\/v1\.34\/deb\/ \/$/m);
  assert.match(w.installScript, /https:\/\/download\.opensuse\.org\/repositories\/isv:\/cri-o:\/stable:\/v1\.34\/deb\/Release\.key/);
  assert.doesNotMatch(list + w.installScript, /pkgs\.k8s\.io\/addons/);
});

test("CRI-O searches the directory the pod network installs its plugin into, and the packaged plugins of a read-only /usr (seed 004)", () => {
  const c = cluster(KA(), '  kubernetes: { version: "1.34.2", containerRuntime: cri-o }');
  const m1 = renderCluster(c, FIXTURE_SECRETS).find((r) => r.host === "m1")!;
  const dropIn = m1.files.find((f) => f.path === PATHS.crioDropIn)!.content;
  const parsed = spawnSync("tomlq", ["-c", ".crio.network.plugin_dirs"], { input: dropIn, encoding: "utf8" });
  assert.equal(parsed.status, 0, `the drop-in is TOML: ${parsed.stderr}`);
  const dirs = JSON.parse(parsed.stdout) as string[];
  assert.deepEqual(dirs, ["/opt/cni/bin/", "/usr/libexec/cni/"]);
  // Where flannel's DaemonSet copies its plugin (hostPath of its install-cni-plugin container).
  const flannel = m1.files.find((f) => f.path === PATHS.flannelManifest)!.content;
  const hostPath = /name: cni-plugin\n\s+hostPath:\n\s+path: (\S+)/.exec(flannel)?.[1];
  assert.ok(hostPath, "flannel's cni-plugin hostPath");
  assert.ok(dirs.includes(hostPath + "/"), `CRI-O searches ${hostPath}`);
});

test("haproxy: dead backends' sessions are cut, connect errors mark a server down, TCP keepalive with short timers, tunnel timeout for watches", () => {
  const r = renderCluster(cluster(KA()), FIXTURE_SECRETS).find((r) => r.host === "m1")!;
  const cfg = r.files.find((f) => f.path === PATHS.haproxyCfg)!.content;
  assert.match(cfg, /^ {4}default-server .* on-marked-down shutdown-sessions observe layer4 error-limit 1 on-error mark-down$/m);
  for (const side of ["cli", "srv"]) {
    assert.match(cfg, new RegExp(`^ {4}option ${side}tcpka\\n {4}${side}tcpka-idle 30s\\n {4}${side}tcpka-intvl 5s\\n {4}${side}tcpka-cnt 3$`, "m"));
  }
  assert.match(cfg, /^ {4}timeout tunnel 3600s$/m);
  assert.match(cfg, /^ {4}timeout client-fin 30s\n {4}timeout server-fin 30s$/m);
});
