/**
 * The documented defaults (TSDoc -> cluster.schema.json -> README, kept fresh by the schema test)
 * against the one DEFAULTS object normalize uses: every "Default `X`" / "Default N" in a field's
 * description must equal DEFAULTS at that field, and every DEFAULTS entry must be documented.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULTS } from "../../src/spec/defaults.ts";
import { parseCluster } from "../../src/spec/read.ts";

const schema = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "cluster.schema.json"), "utf8")) as {
  definitions: Record<string, { properties?: Record<string, { description?: string }> }>;
};

/** Schema definition (file.ts type) -> DEFAULTS section. */
const SECTIONS: Record<string, keyof typeof DEFAULTS> = {
  HostFile: "host",
  SshFile: "ssh",
  BastionFile: "bastion",
  KubernetesFile: "kubernetes",
  CniFile: "cni",
  HaproxyKeepalivedFile: "haproxyKeepalived",
  KubeVipFile: "kubeVip",
  HaproxyFile: "haproxy",
  StatsPageFile: "statsPage",
  KeepalivedFile: "keepalived",
  EtcdFile: "etcd",
  PackagesFile: "packages",
  ClusterSpec: "spec",
  PkiFile: "pki",
  ProvisioningNetworkFile: "provisioningNetwork",
  ProvisioningUserFile: "provisioningUser",
  DataDiskFile: "dataDisk",
};
/** Defaults documented on a parent field (`etcd: Default stacked` is etcd.mode's default). */
const ALIASES: Record<string, string> = { "ClusterSpec.etcd": "etcd.mode" };
/** DEFAULTS entries that are not a literal default of one field. */
const NOT_A_FIELD = new Set(["endpoint.colocatedPort"]);

const DEFAULT_RE = /\bDefault:? (?:`([^`]+)`|(-?\d+(?:\.\d+)?)(?=[\s.,;)]|$)|(true|false)\b)/;

function documented(): Map<string, string> {
  const out = new Map<string, string>();
  for (const [def, body] of Object.entries(schema.definitions)) {
    for (const [field, prop] of Object.entries(body.properties ?? {})) {
      const m = DEFAULT_RE.exec(prop.description ?? "");
      if (!m) continue;
      const where = ALIASES[`${def}.${field}`] ?? (SECTIONS[def] ? `${SECTIONS[def]}.${field}` : `${def}.${field}`);
      out.set(where, m[1] ?? m[2] ?? m[3]!);
    }
  }
  return out;
}

const leaves = (o: object, prefix = ""): Array<[string, unknown]> =>
  Object.entries(o).flatMap(([k, v]) => (v !== null && typeof v === "object" ? leaves(v, `${prefix}${k}.`) : [[`${prefix}${k}`, v]]));

test("every documented default equals DEFAULTS", () => {
  const values = new Map(leaves(DEFAULTS));
  const docs = documented();
  assert.ok(docs.size >= 30, `only ${docs.size} documented defaults found: is the pattern still right?`);
  for (const [path, text] of docs) {
    assert.ok(values.has(path), `the docs give a default for ${path} (${text}) but DEFAULTS has none`);
    assert.equal(text, String(values.get(path)), `${path}: documented ${text}, DEFAULTS ${String(values.get(path))}`);
  }
});

test("every DEFAULTS entry is documented", () => {
  const docs = documented();
  for (const [path] of leaves(DEFAULTS)) if (!NOT_A_FIELD.has(path)) assert.ok(docs.has(path), `DEFAULTS.${path} is not stated as "Default ..." in file.ts's TSDoc`);
});

test("a minimal file normalizes to DEFAULTS", () => {
  const r = parseCluster(
    `apiVersion: kubeha.dev/v1alpha1
kind: Cluster
metadata: { name: d }
spec:
  hosts:
    - { name: a, address: 198.18.61.11, roles: [control-plane, worker] }
  controlPlaneEndpoint: { mode: external, address: 198.18.61.100, hairpin: true }
`,
    { home: "/h", sourcePath: "/w/cluster.yaml" },
  );
  assert.ok(r.cluster, JSON.stringify(r.problems));
  const c = r.cluster;
  const { version, podSubnet, serviceSubnet, dnsDomain, imageRepository, apiServerPort, containerRuntime } = c.kubernetes;
  assert.deepEqual({ version, podSubnet, serviceSubnet, dnsDomain, imageRepository, apiServerPort, containerRuntime }, DEFAULTS.kubernetes);
  assert.equal(c.hosts[0]!.interface, DEFAULTS.host.interface);
  assert.equal(c.hosts[0]!.ssh.keyPath, "/h/.ssh/id_ed25519");
  assert.equal(c.etcd.mode, DEFAULTS.etcd.mode);
  assert.equal(c.pki.stateDir, "/w/.kubeha/d");
  assert.equal(c.bootstrap, DEFAULTS.spec.bootstrap);
  assert.equal(c.endpoint.port, DEFAULTS.kubernetes.apiServerPort);
});

test("behind HAProxy, kube-apiserver gets --shutdown-delay-duration from HAProxy's check timing unless the file sets it; not without HAProxy", () => {
  const file = (endpoint: string, apiServer = "") => `apiVersion: kubeha.dev/v1alpha1
kind: Cluster
metadata: { name: d }
spec:
  hosts:
    - { name: a, address: 198.18.61.11, roles: [control-plane, worker${endpoint.includes("haproxy") ? ", lb" : ""}] }
  controlPlaneEndpoint: ${endpoint}
${apiServer ? `  kubernetes: { extraArgs: { apiServer: { ${apiServer} } } }\n` : ""}`;
  const args = (text: string) => {
    const r = parseCluster(text, { home: "/h", sourcePath: "/w/cluster.yaml" });
    assert.ok(r.cluster, JSON.stringify(r.problems));
    return r.cluster.kubernetes.extraArgs.apiServer;
  };
  // 2 x 1 s, plus 1 s.
  assert.deepEqual(args(file("{ mode: haproxy-keepalived, vip: 198.18.61.100 }")), [["shutdown-delay-duration", "3s"]]);
  // 2 x 1.7 s = 3.4 s, rounded up, plus 1 s; sorted among the user's flags.
  assert.deepEqual(args(file("{ mode: haproxy, haproxy: { fall: 3, checkIntervalMs: 1700 } }", `audit-log-maxage: "30"`)), [["audit-log-maxage", "30"], ["shutdown-delay-duration", "5s"]]);
  assert.deepEqual(args(file("{ mode: haproxy-keepalived, vip: 198.18.61.100 }", `shutdown-delay-duration: "0s"`)), [["shutdown-delay-duration", "0s"]]);
  assert.deepEqual(args(file("{ mode: external, address: 198.18.61.100, hairpin: true }")), []);
  assert.deepEqual(args(file("{ mode: kube-vip, vip: 198.18.61.100 }")), []);
});
