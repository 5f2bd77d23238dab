/**
 * `kubeha init`: an example cluster file, commented from the JSON schema's descriptions (which
 * come from the TSDoc in file.ts), so the docs a user reads in the file are the ones the editor shows.
 */
import { Document, isMap, isScalar, isSeq, type Node } from "yaml";
import type { ClusterFile, EndpointFile, HostFile } from "./file.ts";
import { DEFAULTS } from "./defaults.ts";

export type ExampleLb = "colocated" | "dedicated" | "single" | "kube-vip" | "external";

export interface ExampleOptions {
  name: string;
  masters: number;
  workers: number;
  lb: ExampleLb;
  /** Dedicated LB hosts (lb: dedicated). */
  lbs: number;
  /** First address; hosts count up from it. */
  subnetPrefix: string;
}

const toInt = (a: string) => a.split(".").reduce((n, o) => n * 256 + Number(o), 0);
const toAddr = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");

/**
 * Host addresses counting up from `<prefix>.11`, past the end of the /24 into the next one, never
 * the VIP, a `.0` or a `.255`. Throws a RangeError when the addresses run past 255.255.255.254.
 */
export function* exampleAddresses(subnetPrefix: string, vip: string): Generator<string> {
  for (let n = toInt(`${subnetPrefix}.11`); ; n++) {
    if (n > toInt("255.255.255.254")) throw new RangeError(`the example addresses run past 255.255.255.254 from ${subnetPrefix}.11`);
    const a = toAddr(n);
    if (n % 256 === 0 || n % 256 === 255 || a === vip) continue;
    yield a;
  }
}

export function exampleFile(o: ExampleOptions): ClusterFile {
  const vip = `${o.subnetPrefix}.100`;
  const addresses = exampleAddresses(o.subnetPrefix, vip);
  const host = (name: string, roles: HostFile["roles"], vip: boolean): HostFile => ({
    name,
    address: addresses.next().value as string,
    roles,
    ...(vip ? { interface: "eth0" } : {}),
  });
  const hosts: HostFile[] = [];
  const lbOnMasters = o.lb === "colocated";
  if (o.lb === "dedicated") for (let i = 1; i <= o.lbs; i++) hosts.push(host(`lb${i}`, ["lb"], true));
  if (o.lb === "single") hosts.push(host("proxy", ["lb"], false));
  for (let i = 1; i <= o.masters; i++)
    hosts.push(host(`master${i}`, lbOnMasters ? ["control-plane", "lb"] : ["control-plane"], lbOnMasters || o.lb === "kube-vip"));
  for (let i = 1; i <= o.workers; i++) hosts.push(host(`worker${i}`, ["worker"], false));
  const endpoint: EndpointFile =
    o.lb === "single"
      ? { mode: "haproxy" }
      : o.lb === "kube-vip"
        ? { mode: "kube-vip", vip }
        : o.lb === "external"
          ? { mode: "external", address: vip, hairpin: false }
          : { mode: "haproxy-keepalived", vip, vipPrefix: 24 };
  return {
    apiVersion: "kubeha.dev/v1alpha1",
    kind: "Cluster",
    metadata: { name: o.name },
    spec: {
      ssh: { user: DEFAULTS.ssh.user, keyPath: DEFAULTS.ssh.keyPath },
      hosts,
      kubernetes: {
        version: DEFAULTS.kubernetes.version,
        podSubnet: DEFAULTS.kubernetes.podSubnet,
        serviceSubnet: DEFAULTS.kubernetes.serviceSubnet,
        containerRuntime: DEFAULTS.kubernetes.containerRuntime,
        cni: { plugin: DEFAULTS.cni.plugin },
      },
      controlPlaneEndpoint: endpoint,
      etcd: { mode: DEFAULTS.etcd.mode },
    },
  };
}

type Schema = { $ref?: string; description?: string; properties?: Record<string, Schema>; items?: Schema; allOf?: Array<{ if?: { properties?: { mode?: { const?: string } } }; then?: Schema }>; definitions?: Record<string, Schema> };

function resolve(root: Schema, s: Schema | undefined): Schema | undefined {
  let cur = s;
  for (let i = 0; cur?.$ref && i < 10; i++) cur = root.definitions?.[cur.$ref.replace("#/definitions/", "")];
  return cur;
}

/** The schema of a property, following $refs and the endpoint's `mode` branches. */
function propSchema(root: Schema, parent: Schema | undefined, key: string, mode?: string): Schema | undefined {
  const p = resolve(root, parent);
  if (!p) return undefined;
  if (p.properties?.[key]) return p.properties[key];
  for (const branch of p.allOf ?? []) {
    if (branch.if?.properties?.mode?.const === mode) return propSchema(root, branch.then, key, mode);
  }
  return undefined;
}

function annotate(root: Schema, node: Node | null | undefined, schema: Schema | undefined, first: boolean): void {
  const s = resolve(root, schema);
  if (isMap(node)) {
    const modeItem = node.items.find((p) => isScalar(p.key) && p.key.value === "mode");
    const mode = modeItem && isScalar(modeItem.value) ? String(modeItem.value.value) : undefined;
    for (const pair of node.items) {
      if (!isScalar(pair.key)) continue;
      const child = propSchema(root, s, String(pair.key.value), mode);
      const d = resolve(root, child)?.description ?? child?.description;
      if (d && first) pair.key.commentBefore = " " + d.replace(/\n/g, "\n ");
      annotate(root, pair.value as Node, child, first);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => annotate(root, item as Node, s?.items, first && i === 0));
  }
}

/** YAML text of the file with each field's documentation above it (first list item only). */
export function commentedYaml(file: ClusterFile, schema: Record<string, unknown>): string {
  const doc = new Document(file);
  const root = schema as Schema;
  annotate(root, doc.contents as Node, root, true);
  doc.commentBefore = " yaml-language-server: $schema=./cluster.schema.json\n Generated by `kubeha init`. Check it with `kubeha validate`, preview with `kubeha render`.";
  return doc.toString({ lineWidth: 0 });
}
