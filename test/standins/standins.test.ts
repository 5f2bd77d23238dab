/**
 * The Kubernetes stand-ins' strictness, without network: the YAML-subset reader (checked against the
 * npm `yaml` package kubeha renders with), kubeadm config validation per API version, the discovery
 * CA pin (checked against openssl), and the bundle manifest.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { BUNDLE, runBin, runPy, standinYaml } from "./helpers.ts";

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), "kubeha-standins-"));
});
after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

test("YAML reader: reads what the yaml package writes exactly as the yaml package does", () => {
  const values = {
    quotedNumber: "10",
    ip: "198.18.0.1",
    version: "v1.34.2",
    colonInside: "a:b",
    colonSpace: "x: y",
    hashSpace: "a #b",
    leadingHash: "#x",
    leadingSpace: " sp",
    star: "*x",
    tilde: "~",
    trueString: "true",
    octalString: "0755",
    apostrophe: "it's",
    doubleQuote: 'say "hi"',
    unicode: "é ü",
    tab: "a\tb",
    long: "word ".repeat(40).trim(),
    pem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    noFinalNewline: "l1\nl2",
    emptyList: [],
    emptyMap: {},
    nothing: null,
    int: 6443,
    float: 1.5,
    bool: false,
    args: [{ name: "node-ip", value: "198.18.0.11" }, { name: "v", value: "2" }],
    nested: [[1, 2], [3], [{ a: [] }]],
    deep: { a: { b: { c: ["x", { d: "e" }] } } },
  };
  for (const opts of [{}, { indentSeq: false }, { lineWidth: 20 }, { defaultStringType: "QUOTE_SINGLE" as const }]) {
    const text = stringify(values, opts) + "---\n" + stringify(["x", { y: 1 }], opts);
    const got = standinYaml(text);
    assert.ok(got.ok, `reader rejected yaml output (${JSON.stringify(opts)}): ${got.ok ? "" : got.error}`);
    // The yaml package's own reading is the oracle (with lineWidth 20 it does not even round-trip
    // its own PEM output); with default options both must give back the original values.
    const oracle = parseAllDocuments(text).map((d) => d.toJS());
    assert.deepEqual(got.docs, oracle, `options ${JSON.stringify(opts)}`);
    if (Object.keys(opts).length === 0) assert.deepEqual(got.docs, [values, ["x", { y: 1 }]]);
  }
});

test("YAML reader: hand-written block and flow forms agree with the yaml package", () => {
  const text = [
    "# leading comment",
    "a: plain value   # trailing comment",
    "seqSameIndent:",
    "- one",
    "- two: 2",
    "  three: [x, 'y z', {k: v}]",
    "flowMultiLine: [a,",
    "  b, c]",
    "folded: >",
    "  first",
    "  second",
    "",
    "  third",
    "literalKeep: |+",
    "  keep",
    "",
    "strip: |-",
    "  strip",
    "dq: \"multi",
    "  line \\u00e9\"",
    "plainMulti: one",
    "  two",
    "url: http://198.18.0.1:2379/x",
    "'quoted key': 1",
    "---",
    "...",
  ].join("\n");
  const got = standinYaml(text);
  assert.ok(got.ok, got.ok ? "" : got.error);
  const want = parseAllDocuments(text).map((d) => d.toJS()).filter((d) => d !== null);
  assert.deepEqual(got.docs, want);
});

test("YAML reader: rejects what it does not understand, with the line", () => {
  const cases: Array<[string, RegExp]> = [
    ["a: &x 1\nb: *x\n", /in\.yaml:1: .*anchors/],
    ["a: !!str 1\n", /in\.yaml:1: .*tags/],
    ["a:\n\tb: 1\n", /in\.yaml:2: tab character/],
    ["a: 1\nb: 2\na: 3\n", /in\.yaml:3: duplicate mapping key 'a'/],
    ["enabled: yes\n", /in\.yaml:1: .*'yes' is a boolean in YAML 1\.1/],
    ["mode: 0755\n", /in\.yaml:1: .*octal in YAML 1\.1/],
    ["a: b: c\n", /in\.yaml:1: mapping values are not allowed/],
    ["a: \"open\nb: 1\n", /in\.yaml:2: quoted scalar continues at too small an indentation/],
    ["a: \"open\n", /unterminated quoted scalar/],
    ["a:\n  b: 1\n c: 2\n", /in\.yaml:3: /],
    ["? complex\n: key\n", /complex keys/],
    ["<<: {a: 1}\n", /merge keys/],
    ["%YAML 1.2\n---\na: 1\n", /directives/],
    ["a: [1, 2\n", /unterminated flow collection/],
    ["- a\nb: 1\n", /in\.yaml:2: unexpected content/],
  ];
  for (const [text, re] of cases) {
    const got = standinYaml(text);
    assert.equal(got.ok, false, `accepted: ${JSON.stringify(text)}`);
    if (!got.ok) assert.match(got.error, re, `input ${JSON.stringify(text)}`);
  }
});

const V4_INIT = `apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
  - token: "abcdef.0123456789abcdef"
    ttl: 2h
    description: kubeha
localAPIEndpoint:
  advertiseAddress: 198.18.2.207
  bindPort: 6443
certificateKey: "${"ab".repeat(32)}"
nodeRegistration:
  name: server7-master
  criSocket: unix:///run/containerd/containerd.sock
  taints: []
  kubeletExtraArgs:
    - name: node-ip
      value: 198.18.2.207
timeouts:
  controlPlaneComponentHealthCheck: 4m0s
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.34.2
controlPlaneEndpoint: vip:16443
imageRepository: registry.aliyuncs.com/google_containers
networking:
  podSubnet: 10.100.0.0/16
  serviceSubnet: 10.96.0.0/16
apiServer:
  certSANs: [198.18.2.199, vip]
  extraArgs:
    - name: authorization-mode
      value: Node,RBAC
etcd:
  external:
    endpoints: ["https://198.18.2.207:2379"]
    caFile: /etc/kubernetes/pki/etcd/ca.crt
    certFile: /etc/kubernetes/pki/apiserver-etcd-client.crt
    keyFile: /etc/kubernetes/pki/apiserver-etcd-client.key
proxy:
  disabled: true
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: ipvs
`;

const V3_JOIN = `apiVersion: kubeadm.k8s.io/v1beta3
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: vip:16443
    token: abcdef.0123456789abcdef
    caCertHashes: ["sha256:${"0".repeat(64)}"]
  timeout: 5m0s
nodeRegistration:
  name: server10-worker
  kubeletExtraArgs:
    node-ip: 198.18.2.210
`;

async function validate(name: string, text: string) {
  const file = join(work, name);
  await writeFile(file, text);
  return runBin("kubeadm", ["config", "validate", "--config", file]);
}

test("kubeadm config validate: valid v1beta4 and v1beta3 documents are accepted", async () => {
  const v4 = await validate("v4.yaml", V4_INIT);
  assert.equal(v4.status, 0, v4.stderr);
  assert.match(v4.stdout, /stand-in/);
  const v3 = await validate("v3.yaml", V3_JOIN);
  assert.equal(v3.status, 0, v3.stderr);
  assert.match(v3.stderr, /v1beta3 is deprecated/);
});

test("kubeadm config validate: rejects unknown fields, kinds, wrong types and version mix-ups", async () => {
  const cases: Array<[string, string, RegExp]> = [
    ["unknown nested field", V4_INIT.replace("  criSocket:", "  criSokcet:"),
      /\(InitConfiguration\): nodeRegistration\.criSokcet: unknown field "criSokcet"/],
    ["unknown top-level field", V4_INIT.replace("imageRepository: registry", "imageRepo: registry"),
      /\(ClusterConfiguration\): imageRepo: unknown field/],
    ["unknown kind", V4_INIT.replace("kind: ClusterConfiguration", "kind: ClusterConfig"),
      /no kind 'ClusterConfig' is registered for version 'kubeadm\.k8s\.io\/v1beta4'/],
    ["unknown version", V3_JOIN.replace("v1beta3", "v1beta2"), /registered for version 'kubeadm\.k8s\.io\/v1beta2'/],
    ["v1beta4 field in v1beta3", V3_JOIN.replace("kind: JoinConfiguration", "kind: JoinConfiguration\ndryRun: false"),
      /\(JoinConfiguration\): dryRun: unknown field "dryRun"/],
    ["v1beta3 field in v1beta4", V4_INIT.replace("  certSANs:", "  timeoutForControlPlane: 4m\n  certSANs:"),
      /apiServer\.timeoutForControlPlane: unknown field/],
    ["v1beta4 list extraArgs in v1beta3", V3_JOIN.replace("    node-ip: 198.18.2.210", "    - name: node-ip\n      value: 198.18.2.210"),
      /nodeRegistration\.kubeletExtraArgs: expected an object \(map\), got array/],
    ["v1beta3 map extraArgs in v1beta4", V4_INIT.replace("    - name: authorization-mode\n      value: Node,RBAC", "    authorization-mode: Node,RBAC"),
      /apiServer\.extraArgs: expected an array, got object/],
    ["number where a string is needed", V4_INIT.replace("value: 198.18.2.207", "value: 10"),
      /nodeRegistration\.kubeletExtraArgs\[0\]\.value: expected a string, got number \(quote it\)/],
    ["bad token", V4_INIT.replace("abcdef.0123456789abcdef", "ABCDEF.0123456789abcdef"), /bootstrapTokens\[0\]\.token: Invalid value/],
    ["bad duration", V4_INIT.replace("ttl: 2h", "ttl: 2 hours"), /bootstrapTokens\[0\]\.ttl: invalid duration/],
    ["advertiseAddress not an IP", V4_INIT.replace("advertiseAddress: 198.18.2.207", "advertiseAddress: server7"),
      /localAPIEndpoint\.advertiseAddress: Invalid value/],
    ["local and external etcd", V4_INIT.replace("etcd:\n  external:", "etcd:\n  local:\n    dataDir: /var/lib/etcd\n  external:"),
      /etcd: Invalid value: local and external are mutually exclusive/],
    ["hash format", V3_JOIN.replace(`sha256:${"0".repeat(64)}`, "sha256:XYZ"), /caCertHashes\[0\]: Invalid value/],
    ["no pins", V3_JOIN.replace(/    caCertHashes.*\n/, ""), /without caCertHashes can be unsafe/],
    ["kubelet unknown field", V4_INIT.replace("cgroupDriver: systemd", "cgroupDriver: systemd\ncgroupDrive: systemd"),
      /\(KubeletConfiguration\): cgroupDrive: unknown field/],
    ["duplicate kind", V4_INIT + "---\n" + V4_INIT.split("---\n")[0], /duplicate InitConfiguration document/],
  ];
  for (const [name, text, re] of cases) {
    const r = await validate("bad.yaml", text);
    assert.equal(r.status, 1, `${name}: accepted`);
    assert.match(r.stderr, re, name);
    assert.match(r.stderr, /stand-in/, name);
  }
});

test("discovery CA pin equals openssl's sha256 of the DER SubjectPublicKeyInfo (RSA and EC CAs)", async () => {
  const keyArgs: Record<string, string[]> = {
    rsa: ["-newkey", "rsa:2048"],
    ec: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
  };
  for (const [alg, args] of Object.entries(keyArgs)) {
    const crt = join(work, `ca-${alg}.crt`);
    execFileSync("openssl", ["req", "-x509", ...args, "-nodes", "-keyout", join(work, `ca-${alg}.key`), "-out", crt,
      "-days", "1", "-subj", "/CN=kubernetes", "-addext", "basicConstraints=critical,CA:TRUE"], { stdio: "ignore" });
    const want = "sha256:" + execFileSync("bash", ["-c",
      `openssl x509 -pubkey -noout -in '${crt}' | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1`],
      { encoding: "utf8" }).trim();
    const r = runPy("import sys, standin_common as c\nprint(c.ca_cert_hash(sys.stdin.read()))", readFileSync(crt, "utf8"));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), want, alg);
  }
});

test("bundle manifest: version, description, files and stand-in headers", () => {
  const manifest = JSON.parse(readFileSync(join(BUNDLE, "kubeha-bundle.json"), "utf8")) as {
    kubernetesVersion: string; description: string; files: Array<{ src: string; dest: string; mode: string }>; enable: string[];
  };
  assert.equal(manifest.kubernetesVersion, "1.34.2");
  assert.match(manifest.description, /^STAND-INS for testing, not Kubernetes: /);
  const lib = runPy("import standin_common as c\nprint(c.KUBERNETES_VERSION)");
  assert.equal(lib.stdout.trim(), manifest.kubernetesVersion);
  assert.deepEqual(manifest.enable, ["kubelet.service"]);
  for (const f of manifest.files) {
    const src = join(BUNDLE, f.src);
    assert.ok(existsSync(src), `${f.src} missing`);
    assert.match(f.mode, /^0[0-7]{3}$/);
    const head = readFileSync(src, "utf8").split("\n").slice(0, 3).join("\n");
    assert.match(head, /STAND-IN/, `${f.src} must say it is a stand-in in its first lines`);
  }
  // Every file of the tree is shipped: a stand-in that imports a lib file the machines lack dies at start.
  const shipped = new Set(manifest.files.map((f) => f.src));
  for (const dir of ["bin", "lib", "systemd"])
    for (const n of readdirSync(join(BUNDLE, dir))) assert.ok(shipped.has(`${dir}/${n}`), `${dir}/${n} is not in kubeha-bundle.json`);
  for (const bin of ["kubeadm", "kubelet", "kubectl", "kube-apiserver-standin", "kube-vip", "kube-proxy"]) {
    assert.ok(manifest.files.some((f) => f.src === `bin/${bin}` && f.dest === `/usr/bin/${bin}` && f.mode === "0755"), bin);
  }
  const v = runBin("kubeadm", ["version", "-o", "short"]);
  assert.equal(v.stdout.trim(), "v1.34.2-standin");
});
