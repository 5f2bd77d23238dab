/**
 * What the stacked-etcd lab tests share (test/e2e/stacked-etcd.test.ts and the bench variant
 * bench/e2e/stacked-replace.test.ts): a lab of 3 masters with `etcd.mode: stacked`, reading its
 * members with the real etcdctl on a master, and `kubeha status` as JSON.
 */
import assert from "node:assert/strict";
import { labExec, type LabInfo } from "../../src/lab/index.ts";
import { hostByName, type Cluster } from "../../src/spec/model.ts";
import { etcdctlCommand } from "../../src/probe/status.ts";
import { parseMemberList, type EtcdMember } from "../../src/plan/etcd.ts";
import { kubeha, untilOk } from "./cli.ts";

export const MASTERS = ["master1", "master2", "master3"];

/** Failures by kind (the text after `t=MS`), most frequent first: tells CPU starvation from an outage. */
export function failureKinds(failures: readonly string[]): string {
  const n = new Map<string, number>();
  for (const f of failures) {
    const k = f.replace(/^t=\d+ /, "");
    n.set(k, (n.get(k) ?? 0) + 1);
  }
  return [...n].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${v}x ${k}`).join("; ") || "none";
}

export interface StackedStatus {
  healthy: boolean;
  problems: string[];
  etcd: { leader?: string; members: Array<{ name: string; healthy: boolean }> };
  certificates: Array<{ host: string; id: string; notAfter?: string; sha256?: string }>;
}

/** The helpers bound to one lab (name, machines, cluster file, working directory). */
export function stackedLab(name: string, lab: LabInfo, cluster: Cluster, cwd: string) {
  const address = (m: string) => lab.machines.find((x) => x.name === m)!.address;
  async function sh(m: string, cmd: string): Promise<string> {
    const r = await labExec(name, m, ["bash", "-c", cmd]);
    assert.equal(r.code, 0, `${m}: ${cmd}\n${r.stderr}`);
    return r.stdout;
  }
  async function members(via: string): Promise<EtcdMember[]> {
    return parseMemberList(await sh(via, etcdctlCommand(cluster, [hostByName(cluster, via)], "member list -w json")));
  }
  /** The three masters, each started (an unstarted member has no name), at their own peer address. */
  function assertThreeStarted(ms: EtcdMember[]): void {
    assert.deepEqual(ms.map((m) => m.name).sort(), MASTERS, JSON.stringify(ms));
    assert.deepEqual(ms.flatMap((m) => m.peerURLs).sort(), MASTERS.map((m) => `https://${address(m)}:2380`).sort(), JSON.stringify(ms));
  }
  function status(): { code: number; report: StackedStatus } {
    const r = kubeha(["status", lab.clusterFile, "-o", "json"], { cwd, timeoutMs: 90_000 });
    return { code: r.code, report: JSON.parse(r.stdout) as StackedStatus };
  }
  const untilHealthy = (seconds: number) => untilOk(status, seconds);
  return { address, sh, members, assertThreeStarted, status, untilHealthy };
}
