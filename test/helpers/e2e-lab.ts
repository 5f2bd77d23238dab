/**
 * The lab life cycle every end-to-end test shares: a lab left by a killed run is taken down first
 * (`labUp` itself waits for veths the kernel has not freed yet), machines get the stand-in bundle,
 * and at the end nothing may be left behind.
 */
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { labDown, labInfo, labUp, type LabInfo } from "../../src/lab/index.ts";
import type { Bootstrap } from "../../src/spec/model.ts";
import type { LabEndpoint, LabEtcd, LabProvision } from "../../src/lab/plan.ts";
import { parseDocument, type YAMLSeq } from "yaml";
import { kubeha, REPO } from "./cli.ts";

export interface E2eLab {
  lab: LabInfo;
  /** Working directory of the test (cluster file, state directory): removed by `dropLab`. */
  cwd: string;
}

/** A fresh lab with the stand-in bundle; `apply: true` also runs `kubeha apply` and asserts it succeeded. */
export async function freshLab(o: { name: string; subnet: string; masters: number; workers: number; lbs?: number; endpoint?: LabEndpoint; etcd?: LabEtcd; provision?: LabProvision; bootstrap?: Bootstrap; apply?: boolean }): Promise<E2eLab> {
  await labDown(o.name); // a lab left by a killed run
  const cwd = mkdtempSync(join(tmpdir(), `kubeha-${o.name}-`));
  const lab = await labUp({
    name: o.name, subnet: o.subnet, masters: o.masters, workers: o.workers, cwd, bundle: join(REPO, "test/standins/bundle"),
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    ...(o.etcd ? { etcd: o.etcd } : {}),
    ...(o.lbs ? { lbs: o.lbs } : {}),
    ...(o.provision ? { provision: o.provision } : {}),
    ...(o.bootstrap ? { bootstrap: o.bootstrap } : {}),
  });
  if (o.apply) {
    const a = kubeha(["apply", lab.clusterFile, "--output", "plain"], { cwd, timeoutMs: 10 * 60_000 });
    assert.equal(a.code, 0, `${a.stdout}\n${a.stderr}`);
  }
  return { lab, cwd };
}

/** The cluster file `text` without the hosts named in `without` (comments and the rest kept). */
export function withoutHosts(text: string, without: readonly string[]): string {
  const doc = parseDocument(text);
  const hosts = doc.getIn(["spec", "hosts"]) as YAMLSeq;
  hosts.items = hosts.items.filter((n) => !without.includes(String((n as { get(k: string): unknown }).get("name"))));
  return doc.toString({ lineWidth: 0 });
}

/** Takes the lab down, asserts nothing was left behind, removes the working directory. */
export async function dropLab(name: string, cwd: string | undefined): Promise<void> {
  const left = await labDown(name);
  if (cwd) rmSync(cwd, { recursive: true, force: true });
  assert.deepEqual(left, [], "lab down left something behind");
}

/**
 * The lab several e2e files share within one run of scripts/test.sh: 3 masters carrying the LB,
 * no workers, applied once. Lab up + apply is the most expensive part of an e2e file, and the
 * files that use this one leave the cluster healthy (each checks it); a file that finds it
 * unhealthy, from another run, or of another shape, starts it afresh. scripts/test.sh names the
 * run (KUBEHA_TEST_RUN) and takes the lab down at its end; a file run on its own (no run name)
 * gets a lab of its own that `releaseLab` drops, as freshLab's would be.
 */
export interface SharedLab extends E2eLab {
  name: string;
  /** True when this file must drop the lab itself (no shared run). */
  own: boolean;
}

export const SHARED_LAB = process.env.KUBEHA_E2E_SHARED_LAB ?? "kt-shared";
const SHARED_SUBNET = process.env.KUBEHA_E2E_SHARED_SUBNET ?? "198.19.240.0/24";
const SHARED_SHAPE = { masters: 3, workers: 0 };

export async function sharedLab(): Promise<SharedLab> {
  const run = process.env.KUBEHA_TEST_RUN;
  if (!run) return { ...(await freshLab({ name: SHARED_LAB, subnet: SHARED_SUBNET, ...SHARED_SHAPE, apply: true })), name: SHARED_LAB, own: true };
  const cwd = join(tmpdir(), `kubeha-${SHARED_LAB}-shared`);
  const marker = join(cwd, "shared-run.json");
  const want = JSON.stringify({ run, ...SHARED_SHAPE });
  if (existsSync(marker) && readFileSync(marker, "utf8") === want) {
    try {
      const lab = await labInfo(SHARED_LAB);
      const s = kubeha(["status", lab.clusterFile, "-o", "json"], { cwd, timeoutMs: 90_000 });
      if (s.code === 0) return { lab, cwd, name: SHARED_LAB, own: false };
      console.log(`# shared lab ${SHARED_LAB} is not healthy (status exit ${s.code}); starting it afresh`);
    } catch (err) {
      console.log(`# shared lab ${SHARED_LAB} cannot be reused (${(err as Error).message.split("\n")[0]}); starting it afresh`);
    }
  }
  rmSync(cwd, { recursive: true, force: true });
  await labDown(SHARED_LAB);
  mkdirSync(cwd, { recursive: true, mode: 0o700 });
  const lab = await labUp({ name: SHARED_LAB, subnet: SHARED_SUBNET, ...SHARED_SHAPE, cwd, bundle: join(REPO, "test/standins/bundle") });
  const a = kubeha(["apply", lab.clusterFile, "--output", "plain"], { cwd, timeoutMs: 10 * 60_000 });
  assert.equal(a.code, 0, `${a.stdout}\n${a.stderr}`);
  writeFileSync(marker, want);
  return { lab, cwd, name: SHARED_LAB, own: false };
}

/** The end of a file that used sharedLab: drops it only when the file made it for itself. */
export async function releaseLab(l: SharedLab | undefined): Promise<void> {
  if (l?.own) await dropLab(l.name, l.cwd);
}

/**
 * What an e2e file on the shared lab starts with: registers the file's `before` (the lab, then
 * `ready` with it) and `after` (releaseLab), and returns the lab's name.
 */
export function useSharedLab(ready: (l: SharedLab) => void | Promise<void>): string {
  let shared: SharedLab | undefined;
  before(async () => {
    shared = await sharedLab();
    await ready(shared);
  });
  after(() => releaseLab(shared));
  return SHARED_LAB;
}
