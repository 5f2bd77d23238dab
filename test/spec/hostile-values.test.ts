/**
 * Hostile values for the fields kubeha writes into files and commands (interface, imageRepository,
 * node labels, taints, host names that YAML 1.1 reads as booleans or numbers). Seeded and bounded.
 * Each generated cluster is either refused by validation, or every rendered file carries the value
 * exactly: the YAML parsed back with YAML 1.1 rules, the TOML strings decoded, keepalived's tokens
 * compared, and every install script and drill command passes `bash -n`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { parseCluster } from "../../src/spec/read.ts";
import type { Cluster } from "../../src/spec/model.ts";
import { renderCluster } from "../../src/render/index.ts";
import { PATHS } from "../../src/render/paths.ts";
import { pauseTag } from "../../src/render/containerd.ts";
import { partitionCommand, healCommand } from "../../src/drill/scenarios.ts";
import { FIXTURE_SECRETS } from "../render/helpers.ts";

const ITERATIONS = Number(process.env.KUBEHA_HOSTILE_ITERATIONS ?? 120);
const SEED = Number(process.env.KUBEHA_HOSTILE_SEED ?? 20261201);

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);
}

/** Strings YAML 1.1 reads as something else, plus shell and config metacharacters. */
const AMBIGUOUS = ["no", "on", "off", "y", "n", "yes", "true", "null", "0b101", "1e3", "0x1f", "0x1F", "012", "12:30", "1_000", ".inf", "~"];
const HOSTILE = ['"', "'", "\\", ";", "$(id)", "`id`", "|", "&", "<", ">", " ", "\t", "\n", "#", ":", ",", "=", "/", "*", "{", "}", "[", "]", "!"];
const SAFE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789.-_";

/** Values every rule accepts, many of them YAML-1.1-ambiguous. */
const OK_WORDS = ["no", "on", "y", "n", "null", "true", "0x1F", "1e3", "012", "1_000", "tier"];
const OK_VALUES = ["", ...OK_WORDS];

function gen(r: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const word = (max: number) => Array.from({ length: 1 + Math.floor(r() * max) }, () => pick([...SAFE])).join("");
  const spice = (s: string) => (r() < 0.6 ? s.slice(0, Math.floor(r() * s.length)) + pick(HOSTILE) + s.slice(Math.floor(r() * s.length)) : s);
  // One field per cluster turns hostile, so the others stay sane and accepted clusters render.
  const hostile = pick(["iface", "repo", "labels", "taints", "none"]);
  const okTaint = () => `${pick(["", "example.com/"])}${pick(OK_WORDS)}${r() < 0.5 ? `=${pick(OK_VALUES)}` : ""}:${pick(["NoSchedule", "PreferNoSchedule", "NoExecute"])}`;
  return {
    hostName: pick(["no", "on", "y", "n", "null", "1e3", "0x1f", "012", "m1"]),
    iface: hostile === "iface" ? spice(pick([...AMBIGUOUS, word(18)])) : pick([...OK_WORDS, "eth0", "br-lan.100"]),
    repo:
      hostile === "repo"
        ? spice(pick(["registry.k8s.io", "registry.example.com:5000/Mirror", `r.example/${pick(AMBIGUOUS)}`, `${word(10)}/${word(8)}`]))
        : pick(["registry.k8s.io", "registry.example.com:5000/mirror", "10.0.0.1:5000/k8s", "r.example/no", "r.example/0x1f", "r.example/1e3"]),
    labels: Object.fromEntries(
      Array.from({ length: 1 + Math.floor(r() * 3) }, () =>
        hostile === "labels"
          ? [spice(pick(["", "example.com/", "node-role.kubernetes.io/", "k8s.io/"]) + pick([...AMBIGUOUS, word(8)])), spice(pick([...AMBIGUOUS, word(70)]))]
          : [pick(["", "example.com/", "node.kubernetes.io/"]) + pick(OK_WORDS), pick(OK_VALUES)],
      ),
    ),
    taints: Array.from({ length: Math.floor(r() * 3) + (hostile === "taints" ? 1 : 0) }, () => (hostile === "taints" ? spice(`${word(6)}=${pick(AMBIGUOUS)}:${pick(["NoSchedule", "Never"])}`) : okTaint())),
    runtime: pick(["containerd", "cri-o"]),
    mode: pick(["haproxy-keepalived", "kube-vip"]),
  };
}

type Gen = ReturnType<typeof gen>;

function clusterText(g: Gen): string {
  const file = {
    apiVersion: "kubeha.dev/v1alpha1",
    kind: "Cluster",
    metadata: { name: "hostile" },
    spec: {
      hosts: [
        { name: g.hostName, address: "198.18.61.11", roles: g.mode === "kube-vip" ? ["control-plane"] : ["control-plane", "lb"], interface: g.iface },
        { name: "m2", address: "198.18.61.12", roles: g.mode === "kube-vip" ? ["control-plane"] : ["control-plane", "lb"], interface: "eth0" },
        { name: "m3", address: "198.18.61.13", roles: g.mode === "kube-vip" ? ["control-plane"] : ["control-plane", "lb"], interface: "eth0" },
        { name: "w1", address: "198.18.61.21", roles: ["worker"], labels: g.labels, taints: g.taints },
      ],
      kubernetes: { version: "1.34.2", imageRepository: g.repo, containerRuntime: g.runtime, cni: { plugin: "flannel", interface: g.iface } },
      controlPlaneEndpoint: g.mode === "kube-vip" ? { mode: "kube-vip", vip: "198.18.61.100" } : { mode: "haproxy-keepalived", vip: "198.18.61.100" },
    },
  };
  return stringify(file);
}

const yamlDocs = (text: string) => {
  const docs = parseAllDocuments(text, { version: "1.1" });
  for (const d of docs) assert.deepEqual(d.errors, [], "rendered YAML does not parse");
  return docs.map((d) => d.toJS() as Record<string, any>);
};

/** A TOML basic string `key = "..."`: the escapes kubeha could need are JSON's. */
function tomlString(text: string, key: string): string {
  const m = new RegExp(`^\\s*${key} = ("(?:[^"\\\\]|\\\\.)*")$`, "m").exec(text);
  assert.ok(m, `${key} not found`);
  return JSON.parse(m[1]!) as string;
}

function checkRendered(c: Cluster, g: Gen, scripts: string[]): void {
  const hosts = renderCluster(c, FIXTURE_SECRETS);
  const image = `${g.repo}/pause:${pauseTag(c.kubernetes.minor)}`;
  for (const r of hosts) {
    const h = c.hosts.find((x) => x.name === r.host)!;
    const f = (p: string) => r.files.find((x) => x.path === p)?.content;
    scripts.push(r.installScript);
    for (const file of r.files.filter((x) => x.path.endsWith(".yaml"))) yamlDocs(file.content);
    const kubeadm = f(PATHS.kubeadmInit) ?? f(PATHS.kubeadmJoin);
    if (kubeadm) {
      const docs = yamlDocs(kubeadm);
      const reg = docs.find((d) => d.kind === "InitConfiguration" || d.kind === "JoinConfiguration")!.nodeRegistration;
      assert.equal(reg.name, h.name, "node name survives YAML 1.1");
      const args: Array<{ name: string; value: string }> = reg.kubeletExtraArgs;
      const labels = args.find((a) => a.name === "node-labels")?.value;
      const want = Object.entries(h.labels).sort(([a], [b]) => (a < b ? -1 : 1));
      if (want.length) assert.deepEqual(labels!.split(",").map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]), want, "labels split back into exactly the given ones");
      if (h.taints) assert.deepEqual(reg.taints.map((t: any) => `${t.key}${t.value !== undefined ? `=${t.value}` : ""}:${t.effect}`), h.taints);
      const cc = docs.find((d) => d.kind === "ClusterConfiguration");
      if (cc) assert.equal(cc.imageRepository, g.repo);
    }
    const toml = f(PATHS.containerdConfig);
    if (toml) assert.equal(tomlString(toml, "sandbox_image"), image);
    const crio = f(PATHS.crioDropIn);
    if (crio) assert.equal(tomlString(crio, "pause_image"), image);
    const ka = f(PATHS.keepalivedConf);
    if (ka) {
      assert.match(ka, new RegExp(`^ {4}interface (\\S+)$`, "m"));
      assert.equal(/^ {4}interface (\S+)$/m.exec(ka)![1], h.interface);
      assert.equal(/ dev (\S+)$/m.exec(ka)![1], h.interface);
    }
    const vip = f(PATHS.kubeVipManifest);
    if (vip) {
      const env: Array<{ name: string; value: string }> = yamlDocs(vip)[0]!.spec.containers[0].env;
      assert.equal(env.find((e) => e.name === "vip_interface")!.value, h.interface);
    }
    if (h.roles.includes("control-plane")) scripts.push(partitionCommand(h, c.hosts), healCommand(h));
  }
}

test(`${ITERATIONS} clusters with hostile interface/label/taint/image/host-name values: refused, or written exactly`, () => {
  const r = rng(SEED);
  const dir = mkdtempSync(join(tmpdir(), "kubeha-hostile-"));
  let accepted = 0;
  let refused = 0;
  const scripts: string[] = [];
  try {
    for (let i = 0; i < ITERATIONS; i++) {
      const g = gen(r);
      const text = clusterText(g);
      const res = parseCluster(text, { home: "/h" });
      const errors = res.problems.filter((p) => p.severity === "error");
      if (!res.cluster || errors.length) {
        refused++;
        for (const e of errors) assert.ok(e.rule && e.path, `iteration ${i}: problem without rule or path`);
        continue;
      }
      accepted++;
      try {
        checkRendered(res.cluster, g, scripts);
      } catch (e) {
        throw new Error(`iteration ${i} (seed ${SEED}) accepted but rendered wrongly:\n${text}\n${(e as Error).message}`);
      }
    }
    // One bash -n over every script, each wrapped in its own function (bounded: one process).
    const all = scripts.map((s, i) => `f${i}() {\n${s}\n}`).join("\n");
    writeFileSync(join(dir, "all.sh"), all);
    execFileSync("bash", ["-n", join(dir, "all.sh")]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(accepted >= ITERATIONS / 10, `only ${accepted} accepted: the generator no longer exercises rendering`);
  assert.ok(refused >= ITERATIONS / 10, `only ${refused} refused: the generator is not hostile`);
});

test("the generator's hostile values are refused where kubeha would write them unescaped", () => {
  const base = { hostName: "m1", iface: "eth0", repo: "registry.k8s.io", labels: { a: "b" }, taints: [] as string[], runtime: "containerd", mode: "haproxy-keepalived" };
  const refusedBy = (g: Gen) => parseCluster(clusterText(g), { home: "/h" }).problems.filter((p) => p.severity === "error").map((p) => p.rule);
  assert.deepEqual(refusedBy(base), []);
  assert.deepEqual(refusedBy({ ...base, iface: "ens37; rm -rf /" }), ["interface-names", "interface-names"]);
  assert.deepEqual(refusedBy({ ...base, repo: 'registry.example.com/k8s"' }), ["image-repository"]);
  assert.deepEqual(refusedBy({ ...base, labels: { a: "b,c=d" } }), ["node-labels"]);
  assert.deepEqual(refusedBy({ ...base, taints: ["a=b:NoSchedule,c=d:NoExecute"] }), ["taints"]);
});
