/**
 * PKI benchmark: how long generating the full PKI takes for 3 control planes + 3 external etcd
 * members (19 certificates / key pairs, 19 keys), with ECDSA P-256 and RSA 2048, and how long a
 * second run (load, verify, reuse everything) takes.
 *
 *   node --import tsx bench/pki.ts [--runs 5]
 *
 * Each run uses a fresh temporary state directory, removed afterwards. Prints median, min and max.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir, cpus } from "node:os";
import { join } from "node:path";
import { parseCluster } from "../src/spec/read.ts";
import { ensureState } from "../src/pki/index.ts";
import { benchArgs } from "./args.ts";

const { values } = benchArgs(import.meta.url, { runs: { type: "string" } });
const runs = Number(values.runs ?? "5");

function yaml(alg: string): string {
  return `apiVersion: kubeha.dev/v1alpha1
kind: Cluster
metadata: { name: bench }
spec:
  hosts:
    - { name: m1, address: 198.18.9.11, roles: [control-plane] }
    - { name: m2, address: 198.18.9.12, roles: [control-plane] }
    - { name: m3, address: 198.18.9.13, roles: [control-plane] }
    - { name: e1, address: 198.18.9.21, roles: [etcd] }
    - { name: e2, address: 198.18.9.22, roles: [etcd] }
    - { name: e3, address: 198.18.9.23, roles: [etcd] }
    - { name: lb1, address: 198.18.9.31, roles: [lb], interface: eth0 }
    - { name: w1, address: 198.18.9.41, roles: [worker] }
  controlPlaneEndpoint: { mode: haproxy-keepalived, vip: 198.18.9.100, dnsName: api.bench.test }
  etcd: { mode: external }
  pki: { keyAlgorithm: ${alg} }
`;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (n: number) => `${n.toFixed(0)} ms`;

console.log(`PKI generation, 3 control planes + 3 external etcd members, ${runs} runs each (${cpus().length} CPUs, Node ${process.version})`);
for (const alg of ["ecdsa-p256", "rsa-2048"]) {
  const cold: number[] = [];
  const warm: number[] = [];
  let count = 0;
  for (let i = 0; i < runs; i++) {
    const dir = await mkdtemp(join(tmpdir(), "kubeha-bench-pki-"));
    try {
      const file = join(dir, "cluster.yaml");
      await writeFile(file, yaml(alg));
      const cluster = parseCluster(yaml(alg), { sourcePath: file }).cluster!;
      let t = performance.now();
      const s = await ensureState(cluster);
      cold.push(performance.now() - t);
      count = s.report.certs.filter((c) => c.action === "issued").length;
      t = performance.now();
      const again = await ensureState(cluster);
      warm.push(performance.now() - t);
      if (again.report.certs.some((c) => c.action !== "reused")) throw new Error("second run issued something");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  console.log(
    `${alg.padEnd(10)}  full PKI (${count} issued): median ${ms(median(cold))} (min ${ms(Math.min(...cold))}, max ${ms(Math.max(...cold))})` +
      `   re-run (all reused): median ${ms(median(warm))}`,
  );
}
