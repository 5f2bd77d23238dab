/**
 * The pod network manifests: every rendered Kubernetes object of every example and fixture is
 * validated against the Kubernetes OpenAPI schemas by kubernetes-models; calico's custom resources
 * are checked against the CRDs rendered beside them. Plus the facts kubeha wires in (pod CIDR,
 * interface, image mirror) and the order of the actions.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { Namespace, ServiceAccount, ConfigMap } from "kubernetes-models/v1";
import { ClusterRole, ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { DaemonSet, Deployment } from "kubernetes-models/apps/v1";
import { CustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1";
import { renderCni, cniActions, calicoResources, calicoOperatorObjects, flannelObjects, FLANNEL } from "../../src/render/cni.ts";
import { PATHS } from "../../src/render/paths.ts";
import { firstControlPlane, type Cluster } from "../../src/spec/model.ts";
import { clustersUnderTest } from "./helpers.ts";

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const MODELS: Record<string, new (o: any) => { validate(): void }> = {
  "v1/Namespace": Namespace,
  "v1/ServiceAccount": ServiceAccount,
  "v1/ConfigMap": ConfigMap,
  "rbac.authorization.k8s.io/v1/ClusterRole": ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": ClusterRoleBinding,
  "apps/v1/DaemonSet": DaemonSet,
  "apps/v1/Deployment": Deployment,
  "apiextensions.k8s.io/v1/CustomResourceDefinition": CustomResourceDefinition,
};

function objects(c: Cluster): Obj[] {
  return renderCni(c, firstControlPlane(c)).flatMap((f) => parseAllDocuments(f.content).map((d) => d.toJS() as Obj));
}

/** Checks a custom resource against a rendered CRD: group, version served, kind, scope. */
function checkCustomResource(o: Obj, crds: Obj[]): void {
  const [group, version] = o.apiVersion.split("/");
  const crd = crds.find((x) => {
    const s = x.spec as { group: string; names: { kind: string } };
    return s.group === group && s.names.kind === o.kind;
  });
  assert.ok(crd, `${o.apiVersion} ${o.kind}: no rendered CRD defines it`);
  const s = crd.spec as { scope: string; versions: Array<{ name: string; served: boolean }> };
  assert.ok(s.versions.some((v) => v.name === version && v.served), `${o.kind}: version ${version} not served by ${crd.metadata.name}`);
  assert.equal(s.scope === "Namespaced", Boolean(o.metadata.namespace), `${o.kind}: namespace does not match scope ${s.scope}`);
  assert.match(o.metadata.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
}

for (const { name, cluster } of clustersUnderTest()) {
  test(`${name}: every rendered ${cluster.kubernetes.cni.plugin} object validates against the Kubernetes schemas`, () => {
    const objs = objects(cluster);
    const crds = objs.filter((o) => o.kind === "CustomResourceDefinition");
    let validated = 0;
    for (const o of objs) {
      const Model = MODELS[`${o.apiVersion}/${o.kind}`];
      if (Model) {
        assert.doesNotThrow(() => new Model(o).validate(), `${o.kind} ${o.metadata.name}`);
        validated++;
      } else checkCustomResource(o, crds);
    }
    assert.ok(validated >= 6, `only ${validated} objects validated`);
  });

  test(`${name}: each namespace is created before the objects in it, and the pod CIDR is wired in`, () => {
    const seen = new Set<string>();
    for (const f of renderCni(cluster, firstControlPlane(cluster))) {
      for (const d of parseAllDocuments(f.content)) {
        const o = d.toJS() as Obj;
        if (o.kind === "Namespace") seen.add(o.metadata.name);
        if (o.metadata.namespace) assert.ok(seen.has(o.metadata.namespace), `${f.path}: ${o.kind} ${o.metadata.name} before namespace ${o.metadata.namespace}`);
      }
    }
    const text = renderCni(cluster, firstControlPlane(cluster)).map((f) => f.content).join("");
    if (cluster.kubernetes.cni.plugin === "flannel") {
      const cm = objects(cluster).find((o) => o.kind === "ConfigMap")!;
      assert.equal(JSON.parse((cm.data as Record<string, string>)["net-conf.json"] ?? "{}").Network, cluster.kubernetes.podSubnet);
    } else assert.ok(text.includes(`cidr: ${cluster.kubernetes.podSubnet}`));
  });

  test(`${name}: only the first control plane gets the CNI manifests`, () => {
    for (const h of cluster.hosts) assert.equal(renderCni(cluster, h).length > 0, h.name === firstControlPlane(cluster).name, h.name);
  });
}

test("kubernetes-models rejects a malformed DaemonSet (the validation above can fail)", () => {
  const c = clustersUnderTest().find((x) => x.cluster.kubernetes.cni.plugin === "flannel")!.cluster;
  const ds = structuredClone(flannelObjects(c).find((o) => o.kind === "DaemonSet")!) as { spec: { template: { spec: { containers: Array<Record<string, unknown>> } } } };
  delete ds.spec.template.spec.containers[0]!.name;
  assert.throws(() => new DaemonSet(ds as never).validate(), /name/);
  const bad = structuredClone(flannelObjects(c).find((o) => o.kind === "DaemonSet")!) as { spec: Record<string, unknown> };
  bad.spec.selector = "app=flannel";
  assert.throws(() => new DaemonSet(bad as never).validate());
});

test("an image mirror and an interface reach the flannel and calico objects; upstream registries otherwise", () => {
  const base = clustersUnderTest().find((x) => x.name === "seed-001-external-etcd-2lbs")!.cluster;
  const images = (objs: object[]) => [...JSON.stringify(objs).matchAll(/"image":"([^"]+)"/g)].map((m) => m[1]!);
  assert.deepEqual(images(flannelObjects(base)), ["docker.io/flannel/flannel-cni-plugin:v1.5.1-flannel2", "docker.io/flannel/flannel:v0.26.1", "docker.io/flannel/flannel:v0.26.1"]);
  const mirrored: Cluster = { ...base, kubernetes: { ...base.kubernetes, cni: { plugin: "flannel", interface: "ens37", imageRepository: "mirror.example.com/k8s" } } };
  assert.ok(images(flannelObjects(mirrored)).every((i) => i.startsWith("mirror.example.com/k8s/")));
  assert.match(JSON.stringify(flannelObjects(mirrored)), /"--iface=ens37"/);
  const calico: Cluster = { ...mirrored, kubernetes: { ...mirrored.kubernetes, cni: { ...mirrored.kubernetes.cni, plugin: "calico" } } };
  assert.deepEqual(images(calicoOperatorObjects(calico)), ["mirror.example.com/k8s/operator:v1.36.2"]);
  const inst = calicoResources(calico)[0] as { spec: Record<string, unknown> };
  assert.equal(inst.spec.registry, "mirror.example.com/");
  assert.equal(inst.spec.imagePath, "k8s");
  assert.deepEqual((inst.spec.calicoNetwork as Record<string, unknown>).nodeAddressAutodetectionV4, { interface: "ens37" });
});

test("cniActions: apply the namespace-first manifest, then bounded waits with hints", () => {
  const all = clustersUnderTest();
  const flannel = all.find((x) => x.cluster.kubernetes.cni.plugin === "flannel")!.cluster;
  const fa = cniActions(flannel);
  assert.deepEqual(fa.map((a) => a.command.split(" ").slice(3, 6).join(" ")), [`apply -f ${PATHS.flannelManifest}`, `-n ${FLANNEL.namespace} rollout`, "wait --for=condition=Ready node"]);
  for (const a of fa) {
    assert.ok(a.command.startsWith(`kubectl --kubeconfig ${PATHS.adminConf} `));
    assert.ok(a.hint.length > 10);
    if (a !== fa[0]) assert.match(a.command, /--timeout=\d+s/);
  }
  const calico = all.find((x) => x.cluster.kubernetes.cni.plugin === "calico")!.cluster;
  const ca = cniActions(calico).map((a) => a.command) as [string, string, string, string];
  assert.equal(ca.length, 4);
  assert.ok(ca[0].endsWith(`apply -f ${PATHS.calicoOperator}`));
  assert.match(ca[1], /wait --for=condition=established --timeout=120s crd\/installations\.operator\.tigera\.io/);
  assert.ok(ca[2].endsWith(`apply -f ${PATHS.calicoInstallation}`));
});
