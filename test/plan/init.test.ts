/**
 * "Initialized" is a fact about the cluster: a fresh machine that took the first control plane's
 * name joins the running cluster, it never runs `kubeadm init` again (src/plan/init.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseCluster } from "../../src/spec/read.ts";
import { firstControlPlane, hostByName, type Cluster } from "../../src/spec/model.ts";
import { factsScript, parseFacts, type Facts } from "../../src/probe/facts.ts";
import { initControlPlane, withInitControlPlane } from "../../src/plan/init.ts";
import { planHost, type Step } from "../../src/plan/host.ts";
import { PATHS } from "../../src/render/paths.ts";
import { newSecrets } from "../../src/pki/secrets.ts";

const FIX = fileURLToPath(new URL("../probe/fixtures/", import.meta.url));
const r = parseCluster(readFileSync(FIX + "cluster.yaml", "utf8"), { home: "/h", sourcePath: FIX + "cluster.yaml" });
assert.ok(r.cluster, JSON.stringify(r.problems));
const c: Cluster = r.cluster;

/** Facts of a control plane: joined (kubelet.conf) and holding kubeha's init configuration or not. */
function facts(joined: boolean, initConfig = false): Facts {
  const files = [joined ? PATHS.kubeletConf : "", initConfig ? PATHS.kubeadmInit : ""].filter(Boolean).join("\n");
  return parseFacts(c, `@@files\n${files}\n@@end\n`);
}
const byHost = (m: Record<string, Facts>) => new Map(Object.entries(m));
const runs = (steps: Step[]) => steps.filter((s) => s.kind === "run").map((s) => (s.kind === "run" ? s.description : ""));

test("the facts script asks for kubeha's kubeadm init configuration", () => {
  assert.ok(factsScript(c, hostByName(c, "master1")).includes(PATHS.kubeadmInit));
  assert.equal(facts(true, true).has.kubeadmInit, true);
  assert.equal(facts(true).has.kubeadmInit, false);
});

test("a new cluster: the first control plane in the file inits", () => {
  const f = byHost({ master1: facts(false), master2: facts(false), master3: facts(false) });
  assert.equal(initControlPlane(c, f).name, "master1");
  assert.equal(withInitControlPlane(c, f), c, "nothing to override");
  assert.equal(initControlPlane(c, new Map()).name, "master1", "no facts (dry run, nothing reachable): a new cluster");
});

test("running cluster: the control plane holding the init configuration keeps the cluster-wide work", () => {
  const f = byHost({ master1: facts(true, true), master2: facts(true), master3: facts(true) });
  assert.equal(initControlPlane(c, f).name, "master1");
  assert.equal(firstControlPlane(withInitControlPlane(c, f)).name, "master1");
});

test("master1 replaced by a fresh machine: master2 takes the cluster-wide work, master1 joins, nobody inits", () => {
  const f = byHost({ master1: facts(false), master2: facts(true), master3: facts(true) });
  const cx = withInitControlPlane(c, f);
  assert.equal(cx.initControlPlane, "master2");
  assert.equal(firstControlPlane(cx).name, "master2");
  const plan = (name: string) => planHost(cx, hostByName(cx, name), { secrets: newSecrets("sha256:" + "0".repeat(64), 24, new Date(0)) });
  const m1 = runs(plan("master1"));
  assert.ok(m1.includes("kubeadm join --control-plane"), m1.join("\n"));
  assert.ok(!m1.some((d) => d.startsWith("kubeadm init")), m1.join("\n"));
  // master2 already joined: its init step is guarded by kubelet.conf, so it never runs there.
  const init = plan("master2").find((s) => s.kind === "run" && s.description.startsWith("kubeadm init"));
  assert.ok(init && init.kind === "run" && init.unless?.kind === "exists" && init.unless.path === PATHS.kubeletConf);
  const files = plan("master2").flatMap((s) => (s.kind === "files" ? s.files.map((x) => x.path) : []));
  assert.ok(files.includes(PATHS.kubeadmInit), "the init configuration (for certificate uploads) is written on master2");
  assert.ok(!plan("master1").flatMap((s) => (s.kind === "files" ? s.files.map((x) => x.path) : [])).includes(PATHS.kubeadmInit));
});

test("after the replaced master1 joined again, the choice stays on master2 (no flip between runs)", () => {
  const f = byHost({ master1: facts(true), master2: facts(true, true), master3: facts(true) });
  assert.equal(initControlPlane(c, f).name, "master2");
  assert.equal(withInitControlPlane(withInitControlPlane(c, f), f).initControlPlane, "master2");
});
