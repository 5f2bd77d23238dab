/** Cluster files for the PKI tests: loopback addresses (127.31.3.x) only, state dirs in temp dirs. */
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCluster } from "../../src/spec/read.ts";
import type { Cluster } from "../../src/spec/model.ts";

export interface FixtureOptions {
  etcd?: "stacked" | "external";
  keyAlgorithm?: "ecdsa-p256" | "rsa-2048";
  certSANs?: string[];
  version?: string;
  /** Leaf validity in days. */
  leafDays?: number;
  name?: string;
  clientPort?: number;
  peerPort?: number;
}

export const VIP = "127.31.3.100";
export const API_DNS = "api.kubeha.test";

export function clusterYaml(o: FixtureOptions = {}): string {
  const etcd = o.etcd ?? "external";
  const hosts = [
    "    - { name: cp1, address: 127.31.3.11, roles: [control-plane] }",
    "    - { name: cp2, address: 127.31.3.12, roles: [control-plane] }",
    "    - { name: cp3, address: 127.31.3.13, roles: [control-plane] }",
    ...(etcd === "external"
      ? [
          "    - { name: e1, address: 127.31.3.21, roles: [etcd] }",
          "    - { name: e2, address: 127.31.3.22, roles: [etcd] }",
          "    - { name: e3, address: 127.31.3.23, roles: [etcd] }",
        ]
      : []),
    "    - { name: lb1, address: 127.31.3.31, roles: [lb], interface: lo }",
    "    - { name: w1, address: 127.31.3.41, roles: [worker] }",
  ];
  return [
    "apiVersion: kubeha.dev/v1alpha1",
    "kind: Cluster",
    `metadata: { name: ${o.name ?? "pkitest"} }`,
    "spec:",
    "  hosts:",
    ...hosts,
    `  controlPlaneEndpoint: { mode: haproxy-keepalived, vip: ${VIP}, dnsName: ${API_DNS} }`,
    `  etcd: { mode: ${etcd}, clientPort: ${o.clientPort ?? 2379}, peerPort: ${o.peerPort ?? 2380} }`,
    `  kubernetes: { version: "${o.version ?? "1.34.2"}", certSANs: [${(o.certSANs ?? []).join(", ")}] }`,
    `  pki: { keyAlgorithm: ${o.keyAlgorithm ?? "ecdsa-p256"}, leafValidityDays: ${o.leafDays ?? 365} }`,
    "",
  ].join("\n");
}

let sweptStale = false;

/**
 * Temp dirs of PKI test runs that were killed before their cleanup (they hold keys): removed
 * when older than an hour, which no live run of these tests reaches.
 */
async function sweepStale(): Promise<void> {
  if (sweptStale) return;
  sweptStale = true;
  for (const e of await readdir(tmpdir())) {
    if (!e.startsWith("kubeha-pki-")) continue;
    const p = join(tmpdir(), e);
    const st = await stat(p).catch(() => undefined);
    if (st?.isDirectory() && Date.now() - st.mtimeMs > 3_600_000) await rm(p, { recursive: true, force: true });
  }
}

/** A temp dir holding `cluster.yaml`; the state dir is the default `.kubeha/<name>` beside it. */
export async function tmpCluster(o: FixtureOptions = {}): Promise<{ dir: string; file: string; cluster: Cluster; cleanup(): Promise<void> }> {
  await sweepStale();
  const dir = await mkdtemp(join(tmpdir(), "kubeha-pki-"));
  const file = join(dir, "cluster.yaml");
  const text = clusterYaml(o);
  await writeFile(file, text);
  const r = parseCluster(text, { sourcePath: file });
  const errors = r.problems.filter((p) => p.severity === "error");
  if (!r.cluster || errors.length) throw new Error(`fixture invalid: ${JSON.stringify(errors)}`);
  return { dir, file, cluster: r.cluster, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
