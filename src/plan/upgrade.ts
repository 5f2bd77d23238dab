/**
 * Version upgrades (pure): Kubernetes' version-skew rules as typed refusals, and the order of the
 * work that moves a cluster to the cluster file's version, decided from the versions read from the
 * hosts (not from a local log), so a second run after an interruption continues where the hosts are.
 *
 * The order is kubeadm's documented one: the first control plane (`kubeadm upgrade plan`, then
 * `upgrade apply`), the other control planes one at a time (`upgrade node`), then the workers
 * (`upgrade node`) in batches of at most `maxUnavailable`; on every node the new kubeadm comes
 * first and the kubelet is restarted on the new version between a drain and an uncordon.
 */
import type { Cluster } from "../spec/model.ts";
import { firstControlPlane } from "../spec/model.ts";
import { isKubernetesNode } from "../spec/topology.ts";

export interface Version {
  major: number;
  minor: number;
  patch: number;
}

/** `1.34.2`, `v1.34.2`, `v1.34.2-standin`, `v1.35.0-rc.1`: the release part, or undefined. */
export function parseVersion(s: string | undefined): Version | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.+-]*)?$/.exec((s ?? "").trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) } : undefined;
}

export const fmt = (v: Version): string => `${v.major}.${v.minor}.${v.patch}`;

/** Negative, 0 or positive as `a` is older than, equal to or newer than `b`. */
export function compareVersions(a: Version, b: Version): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/** Kubernetes' skew policy: control planes move one minor at a time; kubelets at most 3 minors behind. */
export const SKEW = { controlPlaneMinors: 1, kubeletMinorsBehind: 3 } as const;

/** What was read from one Kubernetes node. Undefined fields were not readable (the host says why). */
export interface NodeVersions {
  host: string;
  controlPlane: boolean;
  /** The local kube-apiserver's `/version` (control planes). */
  apiserver?: string;
  /** The running kubelet's version, as its Node object reports it (`status.nodeInfo.kubeletVersion`). */
  kubelet?: string;
  /** `kubeadm version -o short` of the installed binary. */
  kubeadm?: string;
}

export type SkewRule =
  /** The target is not a version. */
  | "target-invalid"
  /** A control plane would skip a minor (1.33 -> 1.35). */
  | "control-plane-one-minor-at-a-time"
  /** The target is older than what a control plane runs. */
  | "no-downgrade"
  /** A kubelet would be newer than the API servers. */
  | "kubelet-newer-than-apiserver"
  /** A kubelet would be more than 3 minors older than the API servers. */
  | "kubelet-too-old"
  /** A version needed for the checks could not be read. */
  | "version-unknown"
  /** The kubeadm installed for the upgrade is not the target version. */
  | "kubeadm-not-target";

/** A refusal: the rule, the hosts and versions it is about, and a sentence naming them. */
export interface SkewRefusal {
  rule: SkewRule;
  hosts: string[];
  message: string;
}

/**
 * Every skew rule the move of `nodes` to `target` breaks (empty: allowed). Checked before anything
 * changes; `kubeadm-not-target` is checked per host once its new kubeadm is installed
 * (`checkKubeadm`), since the old one is expected before that.
 */
export function checkSkew(target: string, nodes: readonly NodeVersions[]): SkewRefusal[] {
  const t = parseVersion(target);
  if (!t) return [{ rule: "target-invalid", hosts: [], message: `"${target}" is not a Kubernetes version 1.MINOR.PATCH` }];
  const out: SkewRefusal[] = [];
  const unknown = (n: NodeVersions, what: string) =>
    out.push({ rule: "version-unknown", hosts: [n.host], message: `${n.host}: its ${what} version could not be read, so the skew rules cannot be checked` });
  for (const n of nodes) {
    if (n.controlPlane) {
      const a = parseVersion(n.apiserver);
      if (!a) unknown(n, "kube-apiserver");
      else if (compareVersions(t, a) < 0)
        out.push({ rule: "no-downgrade", hosts: [n.host], message: `${n.host}'s kube-apiserver runs ${fmt(a)}, newer than the target ${fmt(t)}: kubeha does not downgrade` });
      else if (t.major !== a.major || t.minor > a.minor + SKEW.controlPlaneMinors)
        out.push({
          rule: "control-plane-one-minor-at-a-time",
          hosts: [n.host],
          message: `${n.host}'s kube-apiserver runs ${fmt(a)}: the control plane moves one minor at a time, so ${fmt(t)} is not allowed; upgrade to 1.${a.minor + 1}.x first`,
        });
    }
    const k = parseVersion(n.kubelet);
    if (!k) unknown(n, "kubelet");
    else if (compareVersions(k, t) > 0)
      out.push({ rule: "kubelet-newer-than-apiserver", hosts: [n.host], message: `${n.host}'s kubelet runs ${fmt(k)}, newer than the target ${fmt(t)}: a kubelet may never be newer than the API servers` });
    else if (t.major !== k.major || t.minor - k.minor > SKEW.kubeletMinorsBehind)
      out.push({
        rule: "kubelet-too-old",
        hosts: [n.host],
        message: `${n.host}'s kubelet runs ${fmt(k)}: after the control plane moves to ${fmt(t)} it would be more than ${SKEW.kubeletMinorsBehind} minors older than the API servers; upgrade it to 1.${t.minor - SKEW.kubeletMinorsBehind}.x or newer first`,
      });
  }
  return out;
}

/** The `kubeadm-not-target` rule for one host, after its new kubeadm is installed (undefined: fine). */
export function checkKubeadm(host: string, installed: string | undefined, target: string): SkewRefusal | undefined {
  const i = parseVersion(installed);
  const t = parseVersion(target);
  if (i && t && compareVersions(i, t) === 0) return undefined;
  return {
    rule: "kubeadm-not-target",
    hosts: [host],
    message: `${host}: the installed kubeadm is ${installed ? `"${installed}"` : "unreadable"}, the target is ${target}: kubeadm must be the target version (check the package pin or the bundle's kubernetesVersion)`,
  };
}

/** What one node still needs; `done` nodes are listed too, so the plan says what it skipped. */
export interface NodeTask {
  host: string;
  role: "first-control-plane" | "control-plane" | "worker";
  /** `kubeadm upgrade apply` (the cluster's first move), `kubeadm upgrade node`, or nothing. */
  kubeadm: "apply" | "node" | "none";
  /** Restart the kubelet on the new version (drained, then uncordoned). */
  kubelet: boolean;
}

export interface UpgradePlan {
  target: string;
  refusals: SkewRefusal[];
  /** Control planes, one at a time, the first control plane first. */
  controlPlanes: NodeTask[];
  /** Workers in batches of at most maxUnavailable, worked on in parallel within a batch. */
  workerBatches: NodeTask[][];
  /** Nodes already at the target (nothing to do). */
  done: string[];
}

const same = (a: string | undefined, t: Version): boolean => {
  const v = parseVersion(a);
  return !!v && compareVersions(v, t) === 0;
};

/**
 * The upgrade of `c`'s nodes to `c.kubernetes.version` (the cluster file's version is the desired
 * one), from the versions read from them. `upgrade apply` runs only while no control plane's API
 * server is at the target: once one is, the cluster was moved and the rest are `upgrade node`.
 */
export function planUpgrade(c: Cluster, nodes: readonly NodeVersions[], maxUnavailable = 1): UpgradePlan {
  const target = c.kubernetes.version;
  const t = parseVersion(target)!;
  const byHost = new Map(nodes.map((n) => [n.host, n]));
  const refusals = checkSkew(target, nodes);
  const first = firstControlPlane(c).name;
  const k8s = c.hosts.filter(isKubernetesNode);
  const cps = [first, ...k8s.filter((h) => h.roles.includes("control-plane") && h.name !== first).map((h) => h.name)];
  const moved = cps.some((h) => same(byHost.get(h)?.apiserver, t));
  const task = (host: string, role: NodeTask["role"]): NodeTask => {
    const n = byHost.get(host);
    const cpDone = role === "worker" || same(n?.apiserver, t);
    const kubeadm: NodeTask["kubeadm"] = cpDone && role !== "worker" ? "none" : role === "first-control-plane" && !moved ? "apply" : "node";
    const kubelet = !same(n?.kubelet, t);
    // A worker whose kubelet is at the target had its `upgrade node` (it comes before the kubelet).
    return { host, role, kubeadm: role === "worker" && !kubelet ? "none" : kubeadm, kubelet };
  };
  const controlPlanes = cps.map((h, i) => task(h, i === 0 ? "first-control-plane" : "control-plane"));
  const workers = k8s.filter((h) => !h.roles.includes("control-plane")).map((h) => task(h.name, "worker"));
  const todo = workers.filter((w) => w.kubeadm !== "none" || w.kubelet);
  const size = Math.max(1, Math.floor(maxUnavailable));
  const workerBatches: NodeTask[][] = [];
  for (let i = 0; i < todo.length; i += size) workerBatches.push(todo.slice(i, i + size));
  const done = [...controlPlanes, ...workers].filter((n) => n.kubeadm === "none" && !n.kubelet).map((n) => n.host);
  return { target, refusals, controlPlanes: controlPlanes.filter((n) => n.kubeadm !== "none" || n.kubelet), workerBatches, done };
}

/** The plan as readable lines (`kubeha upgrade --dry-run` and `kubeha plan` print these). */
export function describeUpgrade(p: UpgradePlan): string[] {
  const lines: string[] = [];
  const steps = (n: NodeTask): string => {
    const s = [`install kubeadm/kubelet/kubectl ${p.target}`];
    if (n.kubeadm === "apply") s.push(`kubeadm upgrade plan`, `kubeadm upgrade apply v${p.target} -y`);
    if (n.kubeadm === "node") s.push("kubeadm upgrade node");
    if (n.kubelet) s.push("drain", "restart kubelet", "uncordon");
    return s.join(", ");
  };
  for (const n of p.controlPlanes) lines.push(`${n.host} (${n.role}): ${steps(n)}`);
  p.workerBatches.forEach((b, i) => {
    for (const n of b) lines.push(`${n.host} (worker, batch ${i + 1}): ${steps(n)}`);
  });
  if (p.done.length) lines.push(`already at ${p.target}: ${p.done.join(", ")}`);
  return lines;
}

/** True when no node has work left. */
export function upgradeDone(p: UpgradePlan): boolean {
  return p.controlPlanes.length === 0 && p.workerBatches.length === 0;
}
