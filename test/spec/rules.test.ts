/**
 * Every validation rule, table-driven: each case edits a valid base file and names the rule,
 * the exact YAML path and the line (found by a marker string in the edited text) it must report.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseCluster } from "../../src/spec/read.ts";

const BASE = `apiVersion: kubeha.dev/v1alpha1
kind: Cluster
metadata:
  name: t
spec:
  hosts:
    - name: m1
      address: 198.18.0.11
      roles: [control-plane, lb]
      interface: eth0
    - name: m2
      address: 198.18.0.12
      roles: [control-plane, lb]
      interface: eth0
    - name: m3
      address: 198.18.0.13
      roles: [control-plane, lb]
      interface: eth0
    - name: w1
      address: 198.18.0.21
      roles: [worker]
  kubernetes:
    version: "1.34.2"
    podSubnet: 10.244.0.0/16
    serviceSubnet: 10.96.0.0/12
  controlPlaneEndpoint:
    mode: haproxy-keepalived
    vip: 198.18.0.100
    vipPrefix: 24
    keepalived:
      routerId: 51
`;

interface Case {
  name: string;
  edit: (s: string) => string;
  rule: string;
  severity: "error" | "warning";
  path: string;
  /** A string on the line the problem must point at (first occurrence in the edited text). */
  at: string;
  /** Which occurrence of `at` (default 1). */
  nth?: number;
  /** Column, when the case pins it. */
  col?: number;
}

const lineOf = (text: string, marker: string, nth = 1) => {
  const hits = text.split("\n").flatMap((l, i) => (l.includes(marker) ? [i + 1] : []));
  assert.ok(hits.length >= nth, `marker "${marker}" not ${nth} times in the edited text`);
  return hits[nth - 1]!;
};

/** External etcd co-located on the three control planes (what `bootstrap: binary` needs). */
const binaryEtcd = (s: string) => s.replace(/roles: \[control-plane, lb\]/g, "roles: [control-plane, etcd, lb]") + "  etcd:\n    mode: external\n";

const cases: Case[] = [
  { name: "unknown field (typo)", edit: (s) => s.replace("      interface: eth0\n    - name: m2", "      interfcae: eth0\n    - name: m2"), rule: "schema", severity: "error", path: "spec.hosts[0].interfcae", at: "interfcae", col: 7 },
  { name: "unknown top-level spec field", edit: (s) => s + "  etdc: {}\n", rule: "schema", severity: "error", path: "spec.etdc", at: "etdc:" },
  { name: "wrong type", edit: (s) => s.replace("vipPrefix: 24", "vipPrefix: wide"), rule: "schema", severity: "error", path: "spec.controlPlaneEndpoint.vipPrefix", at: "vipPrefix" },
  { name: "unknown role", edit: (s) => s.replace("roles: [worker]", "roles: [wroker]"), rule: "schema", severity: "error", path: "spec.hosts[3].roles[0]", at: "wroker" },
  { name: "VRRP router id above 255", edit: (s) => s.replace("routerId: 51", "routerId: 256"), rule: "schema", severity: "error", path: "spec.controlPlaneEndpoint.keepalived.routerId", at: "routerId" },
  { name: "VRRP router id 0", edit: (s) => s.replace("routerId: 51", "routerId: 0"), rule: "schema", severity: "error", path: "spec.controlPlaneEndpoint.keepalived.routerId", at: "routerId" },
  { name: "external without hairpin", edit: (s) => s.replace("    mode: haproxy-keepalived\n    vip: 198.18.0.100\n    vipPrefix: 24\n    keepalived:\n      routerId: 51\n", "    mode: external\n    address: 198.18.0.100\n").replace(/, lb\]/g, "]"), rule: "schema", severity: "error", path: "spec.controlPlaneEndpoint", at: "controlPlaneEndpoint:" },
  { name: "YAML syntax", edit: (s) => s.replace("    podSubnet: 10.244.0.0/16", "    podSubnet: [10.244.0.0/16"), rule: "yaml", severity: "error", path: "", at: "serviceSubnet" },
  { name: "duplicate host name", edit: (s) => s.replace("- name: m2", "- name: m1"), rule: "unique-hosts", severity: "error", path: "spec.hosts[1].name", at: "- name: m1", nth: 2 },
  { name: "duplicate host address", edit: (s) => s.replace("address: 198.18.0.13", "address: 198.18.0.12"), rule: "unique-hosts", severity: "error", path: "spec.hosts[2].address", at: "address: 198.18.0.12", nth: 2 },
  { name: "host address not IPv4", edit: (s) => s.replace("address: 198.18.0.21", "address: 198.18.0.300"), rule: "host-addresses", severity: "error", path: "spec.hosts[3].address", at: "198.18.0.300" },
  { name: "two control planes", edit: (s) => s.replace("roles: [control-plane, lb]\n      interface: eth0\n    - name: w1", "roles: [worker, lb]\n      interface: eth0\n    - name: w1").replace(/(- name: m3\n      address: 198.18.0.13\n      roles: )\[control-plane, lb\]/, "$1[worker, lb]"), rule: "control-plane-count", severity: "error", path: "spec.hosts", at: "  hosts:" },
  { name: "one control plane", edit: (s) => s.replace(/(- name: m[23]\n      address: 198.18.0.1[23]\n      roles: )\[control-plane, lb\]/g, "$1[worker, lb]"), rule: "control-plane-count", severity: "warning", path: "spec.hosts", at: "  hosts:" },
  { name: "even etcd members", edit: (s) => s.replace(/roles: \[control-plane, lb\]/g, "roles: [control-plane, etcd, lb]").replace("roles: [worker]", "roles: [worker, etcd]") + "  etcd:\n    mode: external\n", rule: "etcd-members", severity: "warning", path: "spec.etcd.mode", at: "mode: external" },
  { name: "two etcd members", edit: (s) => s.replace("- name: m1\n      address: 198.18.0.11\n      roles: [control-plane, lb]", "- name: m1\n      address: 198.18.0.11\n      roles: [control-plane, lb, etcd]").replace("roles: [worker]", "roles: [worker, etcd]") + "  etcd:\n    mode: external\n", rule: "etcd-members", severity: "error", path: "spec.etcd.mode", at: "mode: external" },
  { name: "etcd role with stacked etcd", edit: (s) => s.replace("roles: [worker]", "roles: [worker, etcd]"), rule: "etcd-members", severity: "error", path: "spec.hosts[3].roles", at: "roles: [worker, etcd]" },
  { name: "VIP equal to a host address", edit: (s) => s.replace("vip: 198.18.0.100", "vip: 198.18.0.12"), rule: "vip", severity: "error", path: "spec.controlPlaneEndpoint.vip", at: "vip: 198.18.0.12" },
  { name: "VIP outside the LB hosts' subnet", edit: (s) => s.replace("vip: 198.18.0.100", "vip: 198.18.1.100"), rule: "vip", severity: "error", path: "spec.controlPlaneEndpoint.vip", at: "vip: 198.18.1.100" },
  { name: "pod and service networks overlap", edit: (s) => s.replace("serviceSubnet: 10.96.0.0/12", "serviceSubnet: 10.244.128.0/20"), rule: "networks", severity: "error", path: "spec.kubernetes.serviceSubnet", at: "serviceSubnet" },
  { name: "host inside the pod network", edit: (s) => s.replace("podSubnet: 10.244.0.0/16", "podSubnet: 198.18.0.0/16"), rule: "networks", severity: "error", path: "spec.hosts[0].address", at: "address: 198.18.0.11" },
  { name: "service subnet too large", edit: (s) => s.replace("serviceSubnet: 10.96.0.0/12", "serviceSubnet: 10.0.0.0/8"), rule: "networks", severity: "error", path: "spec.kubernetes.serviceSubnet", at: "serviceSubnet" },
  { name: "co-located LB on the apiserver port", edit: (s) => s.replace("    vipPrefix: 24\n", "    vipPrefix: 24\n    port: 6443\n"), rule: "ports", severity: "error", path: "spec.controlPlaneEndpoint.port", at: "port: 6443" },
  { name: "unsupported Kubernetes version", edit: (s) => s.replace('"1.34.2"', '"1.27.3"'), rule: "kubernetes-version", severity: "error", path: "spec.kubernetes.version", at: "version:" },
  { name: "malformed Kubernetes version", edit: (s) => s.replace('"1.34.2"', '"latest"'), rule: "kubernetes-version", severity: "error", path: "spec.kubernetes.version", at: "version:" },
  { name: "v1beta3 era version", edit: (s) => s.replace('"1.34.2"', '"1.30.5"'), rule: "kubernetes-version", severity: "warning", path: "spec.kubernetes.version", at: "version:" },
  { name: "kube-vip with kubeadm >= 1.29", edit: (s) => s.replace("    mode: haproxy-keepalived\n    vip: 198.18.0.100\n    vipPrefix: 24\n    keepalived:\n      routerId: 51\n", "    mode: kube-vip\n    vip: 198.18.0.100\n").replace(/, lb\]/g, "]"), rule: "kube-vip-super-admin", severity: "warning", path: "spec.controlPlaneEndpoint.mode", at: "mode: kube-vip" },
  { name: "hairpin off with a port the apiservers do not use", edit: (s) => s.replace("    mode: haproxy-keepalived\n    vip: 198.18.0.100\n    vipPrefix: 24\n    keepalived:\n      routerId: 51\n", "    mode: external\n    address: 198.18.0.100\n    port: 443\n    hairpin: false\n").replace(/, lb\]/g, "]"), rule: "endpoint-names", severity: "error", path: "spec.controlPlaneEndpoint.port", at: "port: 443" },
  { name: "lb role with an external LB", edit: (s) => s.replace("    mode: haproxy-keepalived\n    vip: 198.18.0.100\n    vipPrefix: 24\n    keepalived:\n      routerId: 51\n", "    mode: external\n    address: 198.18.0.100\n    hairpin: true\n"), rule: "lb-hosts", severity: "error", path: "spec.hosts[0].roles", at: "roles: [control-plane, lb]" },
  { name: "single LB host for a VIP", edit: (s) => s.replace(/(- name: m[23]\n      address: 198.18.0.1[23]\n      roles: )\[control-plane, lb\]/g, "$1[control-plane]"), rule: "lb-hosts", severity: "warning", path: "spec.controlPlaneEndpoint.mode", at: "mode: haproxy-keepalived" },
  { name: "no interface for the VIP", edit: (s) => s.replace("      interface: eth0\n    - name: m2", "    - name: m2"), rule: "lb-interface", severity: "warning", path: "spec.hosts[0]", at: "- name: m1" },
  { name: "fractional advert interval above 1", edit: (s) => s.replace("      routerId: 51", "      routerId: 51\n      advertInterval: 1.5"), rule: "keepalived", severity: "error", path: "spec.controlPlaneEndpoint.keepalived.advertInterval", at: "advertInterval" },
  { name: "mirror source without a mirror", edit: (s) => s + "  packages:\n    source: mirror\n", rule: "packages", severity: "error", path: "spec.packages.source", at: "source: mirror" },
  { name: "bad proxy URL", edit: (s) => s + "  packages:\n    proxy: squid:3128\n", rule: "packages", severity: "error", path: "spec.packages.proxy", at: "proxy:" },
  { name: "interface with a shell command", edit: (s) => s.replace("      interface: eth0\n    - name: m2", "      interface: 'ens37; rm -rf /'\n    - name: m2"), rule: "interface-names", severity: "error", path: "spec.hosts[0].interface", at: "ens37;" },
  { name: "interface longer than 15 characters", edit: (s) => s.replace("      interface: eth0\n    - name: m3", "      interface: enp0s31f6-bridge0\n    - name: m3"), rule: "interface-names", severity: "error", path: "spec.hosts[1].interface", at: "enp0s31f6-bridge0" },
  { name: "interface alias with a colon", edit: (s) => s.replace("      interface: eth0\n    - name: w1", "      interface: 'eth0:1'\n    - name: w1"), rule: "interface-names", severity: "error", path: "spec.hosts[2].interface", at: "eth0:1" },
  { name: "CNI interface with a slash", edit: (s) => s.replace("    podSubnet: 10.244.0.0/16", "    podSubnet: 10.244.0.0/16\n    cni: { interface: eth0/1 }"), rule: "interface-names", severity: "error", path: "spec.kubernetes.cni.interface", at: "eth0/1" },
  { name: "image repository with a quote", edit: (s) => s.replace("    podSubnet: 10.244.0.0/16", "    podSubnet: 10.244.0.0/16\n    imageRepository: 'registry.example.com/k8s\"'"), rule: "image-repository", severity: "error", path: "spec.kubernetes.imageRepository", at: "imageRepository" },
  { name: "image repository with upper-case path", edit: (s) => s.replace("    podSubnet: 10.244.0.0/16", "    podSubnet: 10.244.0.0/16\n    imageRepository: registry.example.com/K8s"), rule: "image-repository", severity: "error", path: "spec.kubernetes.imageRepository", at: "imageRepository" },
  { name: "image repository with a tag", edit: (s) => s.replace("    podSubnet: 10.244.0.0/16", "    podSubnet: 10.244.0.0/16\n    imageRepository: registry.example.com/k8s:v1"), rule: "image-repository", severity: "error", path: "spec.kubernetes.imageRepository", at: "imageRepository" },
  { name: "node-role label kubelet refuses", edit: (s) => s.replace("      roles: [worker]\n", "      roles: [worker]\n      labels:\n        node-role.kubernetes.io/worker: \"\"\n"), rule: "node-labels", severity: "error", path: 'spec.hosts[3].labels["node-role.kubernetes.io/worker"]', at: "node-role.kubernetes.io/worker" },
  { name: "k8s.io label kubelet refuses", edit: (s) => s.replace("      roles: [worker]\n", "      roles: [worker]\n      labels: { team: a, example.k8s.io/x: b }\n"), rule: "node-labels", severity: "error", path: 'spec.hosts[3].labels["example.k8s.io/x"]', at: "example.k8s.io/x" },
  { name: "label value with a comma", edit: (s) => s.replace("      roles: [worker]\n", "      roles: [worker]\n      labels:\n        tier: 'a,b=c'\n"), rule: "node-labels", severity: "error", path: "spec.hosts[3].labels.tier", at: "tier:" },
  { name: "label value too long", edit: (s) => s.replace("      roles: [worker]\n", "      roles: [worker]\n      labels:\n        tier: " + "x".repeat(64) + "\n"), rule: "node-labels", severity: "error", path: "spec.hosts[3].labels.tier", at: "tier:" },
  { name: "label key with a bad prefix", edit: (s) => s.replace("      roles: [worker]\n", "      roles: [worker]\n      labels:\n        Example.COM/tier: a\n"), rule: "node-labels", severity: "error", path: 'spec.hosts[3].labels["Example.COM/tier"]', at: "Example.COM/tier" },
  { name: "taint without effect", edit: (s) => s.replace("      roles: [worker]\n", "      roles: [worker]\n      taints: [dedicated=infra]\n"), rule: "taints", severity: "error", path: "spec.hosts[3].taints[0]", at: "dedicated=infra" },
  { name: "taint with an unknown effect", edit: (s) => s.replace("      roles: [worker]\n", "      roles: [worker]\n      taints:\n        - a=b:NoSchedule\n        - gpu:NoRun\n"), rule: "taints", severity: "error", path: "spec.hosts[3].taints[1]", at: "gpu:NoRun" },
  { name: "taint value with a space", edit: (s) => s.replace("      roles: [worker]\n", "      roles: [worker]\n      taints: ['k=a b:NoExecute']\n"), rule: "taints", severity: "error", path: "spec.hosts[3].taints[0]", at: "k=a b" },
  { name: "provisioning gateway not IPv4", edit: (s) => s + "  provisioning:\n    network: { gateway: router.lan }\n", rule: "provisioning", severity: "error", path: "spec.provisioning.network.gateway", at: "gateway: router.lan" },
  { name: "provisioning SSH key not a key line", edit: (s) => s + "  provisioning:\n    sshAuthorizedKeys:\n      - /root/.ssh/id_ed25519.pub\n", rule: "provisioning", severity: "error", path: "spec.provisioning.sshAuthorizedKeys[0]", at: "id_ed25519.pub" },
  { name: "provisioning password hash not a crypt(3) string", edit: (s) => s + "  ssh: { user: altcos }\n  provisioning:\n    user:\n      passwordHash: hunter2hunter2\n", rule: "provisioning", severity: "error", path: "spec.provisioning.user.passwordHash", at: "passwordHash:" },
  { name: "provisioning group name with upper case", edit: (s) => s + "  provisioning:\n    user:\n      groups: [wheel, Docker]\n", rule: "provisioning", severity: "error", path: "spec.provisioning.user.groups[1]", at: "groups:" },
  { name: "provisioning group listed twice", edit: (s) => s + "  provisioning:\n    user:\n      groups: [wheel, docker, wheel]\n", rule: "provisioning", severity: "error", path: "spec.provisioning.user.groups[2]", at: "groups:" },
  { name: "provisioning passwordless sudo for root", edit: (s) => s + "  provisioning:\n    user:\n      passwordlessSudo: true\n", rule: "provisioning", severity: "error", path: "spec.provisioning.user.passwordlessSudo", at: "passwordlessSudo:" },
  { name: "provisioning passwordless sudo for a user sudo would skip", edit: (s) => s + "  ssh: { user: first.last }\n  provisioning:\n    user:\n      passwordlessSudo: true\n", rule: "provisioning", severity: "error", path: "spec.provisioning.user.passwordlessSudo", at: "passwordlessSudo:" },
  { name: "provisioning data disk path relative", edit: (s) => s + "  provisioning:\n    dataDisk: { device: /dev/vdb, path: var/mnt/data }\n", rule: "provisioning", severity: "error", path: "spec.provisioning.dataDisk.path", at: "dataDisk:" },
  { name: "binary bootstrap with stacked etcd", edit: (s) => s + "  bootstrap: binary\n  etcd:\n    mode: stacked\n  packages: { source: bundle, bundle: ./bundle }\n", rule: "bootstrap", severity: "error", path: "spec.etcd.mode", at: "mode: stacked" },
  { name: "binary bootstrap from pkgs.k8s.io", edit: (s) => binaryEtcd(s) + "  bootstrap: binary\n  packages:\n    source: upstream\n", rule: "bootstrap", severity: "error", path: "spec.packages.source", at: "source: upstream" },
  { name: "binary bootstrap with kube-vip", edit: (s) => binaryEtcd(s).replace("    mode: haproxy-keepalived\n    vip: 198.18.0.100\n    vipPrefix: 24\n    keepalived:\n      routerId: 51\n", "    mode: kube-vip\n    vip: 198.18.0.100\n").replace(/, lb\]/g, "]") + "  bootstrap: binary\n  packages: { source: bundle, bundle: ./bundle }\n", rule: "bootstrap", severity: "error", path: "spec.controlPlaneEndpoint.mode", at: "mode: kube-vip" },
  { name: "no workers", edit: (s) => s.replace("    - name: w1\n      address: 198.18.0.21\n      roles: [worker]\n", ""), rule: "workers", severity: "warning", path: "spec.hosts", at: "  hosts:" },
];

test("the base file is valid and has no problems", () => {
  const r = parseCluster(BASE);
  assert.deepEqual(r.problems, []);
  assert.ok(r.cluster);
});

for (const c of cases) {
  test(`rule ${c.rule}: ${c.name}`, () => {
    const text = c.edit(BASE);
    assert.notEqual(text, BASE, "the edit changed nothing");
    const r = parseCluster(text);
    const hit = r.problems.find((p) => p.rule === c.rule && p.path === c.path && p.severity === c.severity);
    assert.ok(hit, `expected ${c.severity} from ${c.rule} at ${c.path}; got:\n${r.problems.map((p) => `  ${p.severity} ${p.rule} ${p.path}: ${p.message}`).join("\n")}`);
    assert.equal(hit.line, lineOf(text, c.at, c.nth), `line of ${c.path}`);
    if (c.col !== undefined) assert.equal(hit.col, c.col);
    assert.equal(r.cluster === undefined, r.problems.some((p) => p.severity === "error"), "errors block, warnings do not");
  });
}

test("accepted: bootstrap binary with co-located external etcd and a bundle", () => {
  const r = parseCluster(binaryEtcd(BASE) + "  bootstrap: binary\n  packages: { source: bundle, bundle: ./bundle }\n");
  assert.deepEqual(r.problems.filter((p) => p.severity === "error"), []);
  assert.equal(r.cluster?.bootstrap, "binary");
  assert.equal(parseCluster(BASE).cluster?.bootstrap, "kubeadm");
});

test("accepted: allowed kubelet labels, own prefixes, empty values, all taint effects, registry references", () => {
  const text = BASE.replace("      roles: [worker]\n", `      roles: [worker]
      interface: br-lan.100
      labels:
        node.kubernetes.io/pool: blue
        topology.kubernetes.io/zone: z1
        kubernetes.io/arch: amd64
        example.com/role: worker
        plain: ""
      taints: ["a=b:NoSchedule", "c:PreferNoSchedule", "example.com/d=e_f.g-h:NoExecute"]
`).replace("    podSubnet: 10.244.0.0/16", "    podSubnet: 10.244.0.0/16\n    imageRepository: registry.example.com:5000/mirror/google_containers");
  const r = parseCluster(text);
  assert.deepEqual(r.problems.filter((p) => ["node-labels", "taints", "interface-names", "image-repository"].includes(p.rule)), []);
});

test("a password hash that is not a crypt(3) string is refused without showing it, with the commands that make one; crypt(3) hashes are accepted", () => {
  const secret = "my-Pl4in-passw0rd";
  const r = parseCluster(BASE + `  ssh: { user: altcos }\n  provisioning:\n    user:\n      passwordHash: "${secret}"\n`);
  const p = r.problems.find((x) => x.path === "spec.provisioning.user.passwordHash")!;
  assert.ok(p, "refused");
  assert.ok(!JSON.stringify(r.problems).includes(secret), "the value is in no problem");
  assert.match(p.hint ?? "", /openssl passwd -6/);
  assert.match(p.hint ?? "", /mkpasswd -m sha-512/);
  // Real hashes: `openssl passwd -6/-5/-1`, yescrypt (libxcrypt), bcrypt.
  for (const h of [
    "$6$fixturesalt$M/FT/XvxtXTSIqGjcrk/jOejgIv97UpJcZAzIqxaZLhpN6o2YcbYKPs6.vg4wu9QeepqDWAZb4JIMVwvkEfx5.",
    "$6$rounds=10000$saltsalt$8Hx5QrmX2xVlVHJh0hEm6lYp4dGk6a0KQd0rq5yZg0q6wH3xjN8zJq4Vq8o5oZg7fC1yF0n1V6u1bY2sZ1f0.",
    "$5$abc$sCOGUciM.GdmYMCUvmUcgu03oRH87O0clF96.9mwWGB",
    "$1$abc$OGyl6dDvZCDiGmIVbeuCq/",
    "$y$j9T$HJKNY/1AoMIOsFLRmJaIV/$kYw2DinmisiPJQfZnfn9Hb.JXdWDMOQamVLHeIQTe8.",
    "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
  ]) {
    const ok = parseCluster(BASE + `  ssh: { user: altcos }\n  provisioning:\n    user:\n      groups: [wheel, docker]\n      passwordHash: '${h}'\n      passwordlessSudo: true\n`);
    assert.deepEqual(ok.problems.filter((x) => x.severity === "error"), [], h);
    assert.deepEqual(ok.cluster?.provisioning.user, { groups: ["wheel", "docker"], passwordHash: h, passwordlessSudo: true });
  }
  // A hash with a colon or newline would break /etc/shadow; a DES hash has no `$id$`.
  for (const h of ["$6$salt$abc:def0123456", "abDEFghij0123", "$6$salt$abc\\ndef0123456"]) {
    const bad = parseCluster(BASE + `  provisioning:\n    user:\n      passwordHash: "${h}"\n`);
    assert.ok(bad.problems.some((x) => x.path === "spec.provisioning.user.passwordHash"), JSON.stringify(h));
  }
});

test("all problems are reported at once", () => {
  const text = BASE.replace("vip: 198.18.0.100", "vip: 198.18.0.12").replace('"1.34.2"', '"1.27.3"').replace("serviceSubnet: 10.96.0.0/12", "serviceSubnet: 10.244.128.0/20");
  const rules = new Set(parseCluster(text).problems.map((p) => p.rule));
  for (const r of ["vip", "kubernetes-version", "networks"]) assert.ok(rules.has(r), `missing ${r}`);
});

test("2 etcd members (stacked or external): refused for building, a warning for the commands that operate a running cluster", () => {
  const twoStacked = BASE.replace(/    - name: m3\n(      .*\n){3}/, "");
  const twoExternal = binaryEtcd(BASE).replace("roles: [control-plane, etcd, lb]", "roles: [control-plane, lb]");
  for (const [name, text, rule] of [["stacked", twoStacked, "control-plane-count"], ["external", twoExternal, "etcd-members"]] as const) {
    const build = parseCluster(text);
    const p = build.problems.find((x) => x.rule === rule);
    assert.ok(p && p.severity === "error" && p.degraded, `${name}: ${JSON.stringify(build.problems)}`);
    assert.equal(build.cluster, undefined, `${name}: building refuses it`);
    const op = parseCluster(text, { operate: true });
    assert.ok(op.cluster, `${name}: operating reads it: ${JSON.stringify(op.problems)}`);
    const w = op.problems.find((x) => x.rule === rule)!;
    assert.equal(w.severity, "warning");
    assert.equal(w.message, p.message);
    assert.match(w.hint!, /plan and apply refuse this file until then \(status, node remove, reset, etcd, certs and join-command still read it\)$/);
  }
  // Only degraded findings soften: another error still refuses the file for every command.
  const bad = twoStacked.replace("vip: 198.18.0.100", "vip: 198.18.0.12");
  assert.equal(parseCluster(bad, { operate: true }).cluster, undefined);
});
