/**
 * `bootstrap: binary` rendering (examples/seed-001-binary.yaml): every rendered flag is one the
 * recorded flag tables accept for 1.29 and the newest supported minor (or, for the components
 * without a recorded set, not a refused one); the units pass the real `systemd-analyze verify`;
 * the Kubernetes objects pass kubernetes-models' validation; the kubeconfigs parse and their CA
 * verifies the API server certificate for the server they name; keys and secrets are 0600.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { parse, parseAllDocuments } from "yaml";
import { ClusterRole, ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { ConfigMap, Secret, Service, ServiceAccount } from "kubernetes-models/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import { corednsImage, corednsObjects, controlPlaneLabels, CONTROL_PLANE_LABELS } from "../../src/render/binary/addons.ts";
import { parseCluster } from "../../src/spec/read.ts";
import type { Cluster } from "../../src/spec/model.ts";
import { renderCluster } from "../../src/render/index.ts";
import { binaryCommands } from "../../src/render/binary/index.ts";
import { binaryPath } from "../../src/render/binary/command.ts";
import { tlsBootstrapObjects } from "../../src/render/binary/tls-bootstrap.ts";
import { acceptedFlags, flagProblem, supportedMinors } from "../../src/spec/flags.ts";
import { PATHS } from "../../src/render/paths.ts";
import { ensureState, pkiFilesForHost } from "../../src/pki/index.ts";
import { isKubernetesNode } from "../../src/spec/topology.ts";
import { binaryNotBuilt } from "../../src/ops/not-built.ts";
import { apply } from "../../src/apply.ts";
import { planHost, type Step } from "../../src/plan/host.ts";
import { FIXTURE_SECRETS, REPO } from "./helpers.ts";

const FILE = join(REPO, "examples", "seed-001-binary.yaml");

function load(text = readFileSync(FILE, "utf8")): Cluster {
  const r = parseCluster(text, { sourcePath: FILE, home: "/home/kubeha-test" });
  const errors = r.problems.filter((p) => p.severity === "error");
  assert.deepEqual(errors, []);
  return r.cluster!;
}

const cluster = load();
const renders = renderCluster(cluster, FIXTURE_SECRETS);
const NEWEST = supportedMinors().at(-1)!;

test("every rendered flag is accepted by 1.29 and the newest minor (recorded sets), and none is refused", () => {
  let checked = 0;
  for (const minor of [29, NEWEST]) {
    const c = { ...cluster, kubernetes: { ...cluster.kubernetes, minor } };
    for (const h of c.hosts) {
      for (const cmd of binaryCommands(c, h)) {
        const set = acceptedFlags(cmd.component, minor);
        for (const [name, value] of cmd.flags) {
          if (set) assert.ok(set.has(name), `${cmd.component} 1.${minor} has no --${name} (on ${h.name})`);
          assert.equal(flagProblem(cmd.component, minor, name, value), undefined, `${cmd.component} 1.${minor} --${name}`);
          checked++;
        }
      }
    }
  }
  // 3 control planes x (33 + 17 + 4) + 5 nodes x (4..5 + 1), twice: the check did look at them.
  assert.ok(checked > 300, `only ${checked} flags checked`);
});

test("a removed flag in extraArgs is refused with its replacement; an accepted one reaches the unit", () => {
  const base = readFileSync(FILE, "utf8");
  const bad = parseCluster(base.replace("    cni: { plugin: flannel }\n", "    cni: { plugin: flannel }\n    extraArgs:\n      apiServer:\n        insecure-bind-address: 127.0.0.1\n"), { sourcePath: FILE, home: "/h" });
  const p = bad.problems.find((x) => x.severity === "error" && x.path.includes("insecure-bind-address"));
  assert.ok(p, JSON.stringify(bad.problems));
  assert.match(p!.message, /removed/);
  assert.match(p!.hint ?? "", /use instead: nothing: the insecure port is gone/);
  const good = load(base.replace("    cni: { plugin: flannel }\n", "    cni: { plugin: flannel }\n    extraArgs:\n      apiServer:\n        authorization-mode: Node,RBAC,Webhook\n        audit-log-maxage: \"7\"\n"));
  const unit = renderCluster(good, FIXTURE_SECRETS).find((r) => r.host === "master01")!.files.find((f) => f.path === "/etc/systemd/system/kube-apiserver.service")!.content;
  // The user's value replaces kubeha's in place, once.
  assert.equal(unit.match(/--authorization-mode=/g)?.length, 1);
  assert.match(unit, /--authorization-mode=Node,RBAC,Webhook \\/);
  assert.match(unit, /--audit-log-maxage=7 \\/);
});

test("each host gets the units of its roles, enabled by its plan", () => {
  const units = (host: string) => renders.find((r) => r.host === host)!.files.filter((f) => f.path.startsWith("/etc/systemd/system/kube")).map((f) => f.path.split("/").pop());
  assert.deepEqual(units("master02"), ["kube-apiserver.service", "kube-controller-manager.service", "kube-proxy.service", "kube-scheduler.service", "kubelet.service"]);
  assert.deepEqual(units("node01"), ["kube-proxy.service", "kubelet.service"]);
  assert.deepEqual(units("lb01"), []);
  // No kubeadm file anywhere; the TLS bootstrap objects only on the first control plane.
  for (const r of renders) {
    assert.ok(!r.files.some((f) => f.path.startsWith("/etc/kubeha/kubeadm/")), r.host);
    assert.equal(r.files.some((f) => f.path === PATHS.tlsBootstrapManifest), r.host === "master01", r.host);
    assert.doesNotMatch(r.installScript, /^[^#]*kubeadm (init|join)/m, r.host);
  }
});

test("systemd-analyze verify accepts every unit (the binaries are stubs here: this machine has none)", () => {
  const dir = mkdtempSync(join(tmpdir(), "kubeha-binary-units-"));
  try {
    let n = 0;
    for (const r of renders.filter((x) => ["master01", "node01"].includes(x.host))) {
      for (const f of r.files.filter((x) => x.path.startsWith("/etc/systemd/system/kube"))) {
        const component = f.path.split("/").pop()!.replace(/\.service$/, "");
        const stub = join(dir, `stub-${component}`);
        writeFileSync(stub, "#!/bin/sh\nexit 0\n");
        chmodSync(stub, 0o755);
        const unit = join(dir, `${component}.service`);
        assert.ok(f.content.includes(`ExecStart=${binaryPath(component as never)} \\`), f.path);
        writeFileSync(unit, f.content.replace(`ExecStart=${binaryPath(component as never)}`, `ExecStart=${stub}`));
        const v = spawnSync("systemd-analyze", ["verify", unit], { encoding: "utf8", timeout: 60_000, env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` } });
        if (v.error) throw v.error;
        // Units it names but this machine lacks (containerd, etcd) are the only thing it may say.
        const out = `${v.stdout}${v.stderr}`.split("\n").filter((l) => l.trim() && !/(containerd|etcd)\.service/.test(l));
        assert.equal(v.status, 0, `${r.host}:${f.path}\n${out.join("\n")}`);
        assert.deepEqual(out, [], `${r.host}:${f.path}`);
        n++;
      }
    }
    assert.equal(n, 7);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the TLS bootstrap objects validate with kubernetes-models; the token Secret holds the join token", () => {
  const objs = tlsBootstrapObjects(cluster, FIXTURE_SECRETS);
  const secret = new Secret(objs[0] as never);
  secret.validate();
  assert.equal(secret.metadata?.name, `bootstrap-token-${FIXTURE_SECRETS.join.token.split(".")[0]}`);
  assert.equal(secret.type, "bootstrap.kubernetes.io/token");
  // 24 h after the fixture's issuedAt (2025-01-01T00:00:00Z).
  assert.equal(secret.stringData?.expiration, "2025-01-02T00:00:00Z");
  const roles = objs.slice(1).map((o) => {
    const b = new ClusterRoleBinding(o as never);
    b.validate();
    return b.roleRef.name;
  });
  assert.deepEqual(roles, [
    "system:node-bootstrapper",
    "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
    "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
    "cluster-admin",
    "system:kubelet-api-admin",
  ]);
  // The file applied on master01 is these objects.
  const f = renders.find((r) => r.host === "master01")!.files.find((x) => x.path === PATHS.tlsBootstrapManifest)!;
  assert.deepEqual(parseAllDocuments(f.content).map((d) => (d as { toJS(): unknown }).toJS()), JSON.parse(JSON.stringify(objs)));
  assert.ok(f.secret && f.mode === 0o600);
});

test("config kinds: the fields the components need (kubernetes-models has no schema for these kinds)", () => {
  const m1 = renders.find((r) => r.host === "master01")!;
  const get = (p: string) => parse(m1.files.find((f) => f.path === p)!.content);
  const kubelet = get(PATHS.kubeletConfig);
  assert.equal(kubelet.kind, "KubeletConfiguration");
  assert.equal(kubelet.rotateCertificates, true);
  assert.equal(kubelet.authentication.anonymous.enabled, false);
  assert.deepEqual(kubelet.clusterDNS, ["10.254.0.10"]);
  assert.deepEqual(kubelet.registerWithTaints, [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }]);
  assert.equal(get(PATHS.kubeProxyConfig).clusterCIDR, cluster.kubernetes.podSubnet);
  assert.equal(get(PATHS.schedulerConfig).leaderElection.leaderElect, true);
  const enc = m1.files.find((f) => f.path === PATHS.encryptionConfig)!;
  assert.ok(enc.secret && enc.mode === 0o600);
  assert.equal(parse(enc.content).resources[0].providers[0].secretbox.keys[0].secret, FIXTURE_SECRETS.encryptionKey);
  assert.equal(get(PATHS.auditPolicy).kind, "Policy");
  // Leader election on for both components that need one active instance.
  const cm = m1.files.find((f) => f.path === "/etc/systemd/system/kube-controller-manager.service")!.content;
  assert.match(cm, /--leader-elect=true/);
});

test("kubeconfigs parse, and their CA verifies the API server certificate for the server they name", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kubeha-binary-pki-"));
  try {
    const c: Cluster = { ...cluster, pki: { ...cluster.pki, stateDir: join(dir, "state") } };
    const state = await ensureState(c);
    assert.ok(state.secrets.encryptionKey && Buffer.from(state.secrets.encryptionKey, "base64").length === 32);
    const again = await ensureState(c);
    assert.equal(again.secrets.encryptionKey, state.secrets.encryptionKey, "the encryption key is never replaced");
    assert.equal(again.report.secrets, "reused");
    let kubeconfigs = 0;
    for (const h of c.hosts.filter(isKubernetesNode)) {
      const files = pkiFilesForHost(c, state, h.name);
      for (const f of files) if (f.path.endsWith(".key") || f.path.endsWith(".conf")) assert.ok(f.secret && f.mode === 0o600, `${h.name}:${f.path}`);
      const apiCert = new X509Certificate(state.material(`apiserver/${c.hosts.find((x) => x.roles.includes("control-plane"))!.name}`).cert!);
      for (const f of files.filter((x) => x.path.endsWith(".conf"))) {
        const kc = parse(f.content);
        const ca = new X509Certificate(Buffer.from(kc.clusters[0].cluster["certificate-authority-data"], "base64"));
        const url = new URL(kc.clusters[0].cluster.server);
        // A local server is this control plane's own API server: its certificate is this host's.
        const serving = url.hostname === h.internalAddress ? new X509Certificate(state.material(`apiserver/${h.name}`).cert!) : apiCert;
        assert.ok(serving.verify(ca.publicKey), `${h.name}:${f.path}: CA does not verify the API server certificate`);
        const name = /^[\d.]+$/.test(url.hostname) ? serving.checkIP(url.hostname) : serving.checkHost(url.hostname);
        assert.ok(name, `${h.name}:${f.path}: the certificate does not name ${url.hostname}`);
        const user = kc.users[0].user;
        if (f.path === PATHS.bootstrapKubeletConf) assert.equal(user.token, state.secrets.join.token);
        else assert.ok(new X509Certificate(Buffer.from(user["client-certificate-data"], "base64")).verify(ca.publicKey), f.path);
        kubeconfigs++;
      }
    }
    // master01: admin, super-admin, cm, scheduler, kube-proxy, bootstrap; master02/03: 5 each; 2 workers: 2 each.
    assert.equal(kubeconfigs, 6 + 5 + 5 + 2 + 2);
    // The rendered tree places every PKI file, and the units that read one restart with it.
    const full = renderCluster(c, state.secrets, { pkiFiles: (n) => pkiFilesForHost(c, state, n) });
    const ca = full.find((r) => r.host === "master01")!.files.find((f) => f.path === PATHS.kubernetesCa)!;
    assert.deepEqual(ca.restarts, ["kube-apiserver", "kube-controller-manager", "kubelet"]);
    const proxyConf = full.find((r) => r.host === "node01")!.files.find((f) => f.path === PATHS.kubeProxyConf)!;
    assert.deepEqual(proxyConf.restarts, ["kube-proxy"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("upgrade and node remove refuse binary mode with one message; apply and reset are built (test/e2e/binary.test.ts)", () => {
  for (const cmd of ["upgrade", "node remove"]) {
    const err = binaryNotBuilt(cluster, cmd);
    assert.ok(err, cmd);
    assert.match(err!.message, new RegExp(`render, plan, apply, status, drill and reset work for them, ${cmd} is not built`));
    assert.equal(binaryNotBuilt({ ...cluster, bootstrap: "kubeadm" }, cmd), undefined);
  }
});

test("the host plans: files and units per phase, the bootstrap objects applied after the API answers, no kubeadm step", () => {
  const plan = (name: string) => planHost(cluster, cluster.hosts.find((h) => h.name === name)!, { secrets: FIXTURE_SECRETS });
  const m1 = plan("master01");
  const endpoint = m1.filter((s) => s.phase === "control-plane/endpoint");
  assert.deepEqual(endpoint.map((s) => s.kind), ["wait", "run", "run"]);
  assert.match((endpoint[2] as Extract<Step, { kind: "run" }>).script, new RegExp(`^kubectl --kubeconfig ${PATHS.superAdminConf} apply -f ${PATHS.corednsManifest}$`));
  const applyStep = endpoint[1] as Extract<Step, { kind: "run" }>;
  assert.match(applyStep.script, new RegExp(`^kubectl --kubeconfig ${PATHS.superAdminConf} apply -f ${PATHS.tlsBootstrapManifest}$`));
  assert.deepEqual(applyStep.onChange, [PATHS.tlsBootstrapManifest]);
  const files = (steps: Step[], phase: string) => steps.find((s): s is Extract<Step, { kind: "files" }> => s.kind === "files" && s.phase === phase)!;
  assert.deepEqual(files(m1, "control-plane/init").ensure, ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"]);
  assert.deepEqual(files(plan("master02"), "control-plane/join").ensure, ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"]);
  const n1 = plan("node01");
  assert.deepEqual(files(n1, "workers").ensure, ["kubelet", "kube-proxy"]);
  assert.deepEqual((n1.find((s) => s.kind === "bundle") as Extract<Step, { kind: "bundle" }>).binaries, ["kubelet", "kube-proxy", "kubectl"]);
  for (const s of [...m1, ...n1]) if (s.kind === "run") assert.doesNotMatch(s.script, /kubeadm/, s.description);
});

test("CoreDNS as kubeadm deploys it: the objects validate with kubernetes-models, kube-dns at the 10th service address, the image per minor and repository", () => {
  const objs = corednsObjects(cluster);
  const kinds: Record<string, new (o: never) => { validate(): void }> = { ServiceAccount, ClusterRole, ClusterRoleBinding, ConfigMap, Deployment, Service };
  for (const o of objs) {
    const K = kinds[o.kind as string];
    assert.ok(K, `no model for ${String(o.kind)}`);
    new K(o as never).validate();
  }
  assert.deepEqual(objs.map((o) => o.kind), ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "Service"]);
  const svc = objs.find((o) => o.kind === "Service") as { spec: { clusterIP: string } };
  const kubelet = parse(renders.find((r) => r.host === "master01")!.files.find((f) => f.path === PATHS.kubeletConfig)!.content) as { clusterDNS: string[] };
  assert.deepEqual([svc.spec.clusterIP], kubelet.clusterDNS, "the kubelets' clusterDNS is the kube-dns Service");
  const corefile = (objs.find((o) => o.kind === "ConfigMap") as { data: { Corefile: string } }).data.Corefile;
  assert.match(corefile, new RegExp(`kubernetes ${cluster.kubernetes.dnsDomain.replace(/\./g, "\\.")} in-addr\\.arpa ip6\\.arpa`));
  const at = (minor: number, imageRepository = "registry.k8s.io") => corednsImage({ ...cluster, kubernetes: { ...cluster.kubernetes, minor, imageRepository } });
  assert.equal(at(29), "registry.k8s.io/coredns/coredns:v1.11.1");
  assert.equal(at(34), "registry.k8s.io/coredns/coredns:v1.12.1");
  assert.equal(at(NEWEST), "registry.k8s.io/coredns/coredns:v1.12.1", "a minor newer than the table takes its newest entry");
  assert.equal(at(31, "mirror.example/k8s/"), "mirror.example/k8s/coredns:v1.11.3", "kubeadm's rule for other repositories: <repo>/coredns");
  const files = renders.filter((r) => r.files.some((f) => f.path === PATHS.corednsManifest)).map((r) => r.host);
  assert.deepEqual(files, ["master01"]);
});

test("control-plane labels: set by kubeha (NodeRestriction forbids the kubelet), after the Nodes registered, checked by a read-only selector", () => {
  const l = controlPlaneLabels(cluster, PATHS.superAdminConf);
  const cps = cluster.hosts.filter((h) => h.roles.includes("control-plane")).map((h) => h.name);
  assert.match(l.script, new RegExp(`get node ${cps.join(" ")} >/dev/null`));
  for (const x of CONTROL_PLANE_LABELS) assert.ok(l.script.includes(`${x}=`), x);
  assert.match(l.check, new RegExp(`-eq ${cps.length}$`));
  const m1 = planHost(cluster, cluster.hosts.find((h) => h.name === "master01")!, { secrets: FIXTURE_SECRETS });
  const step = m1.find((s) => s.kind === "run" && s.phase === "cni" && s.script === l.script) as Extract<Step, { kind: "run" }> | undefined;
  assert.ok(step, "master01 labels the control planes in the cni phase");
  assert.deepEqual(step!.unless, { kind: "command", script: l.check });
  assert.ok(m1.indexOf(step!) < m1.findIndex((s) => s.phase === "cni" && s.kind === "wait"), "before the Ready wait");
  const m2 = planHost(cluster, cluster.hosts.find((h) => h.name === "master02")!, { secrets: FIXTURE_SECRETS });
  assert.ok(!m2.some((s) => s.kind === "run" && s.script === l.script));
});
