/**
 * The lab life cycle every end-to-end test shares: a lab left by a killed run is taken down first
 * (`labUp` itself waits for veths the kernel has not freed yet), machines get the stand-in bundle,
 * and at the end nothing may be left behind.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { labDown, labUp, type LabInfo } from "../../src/lab/index.ts";
import type { LabEndpoint } from "../../src/lab/plan.ts";
import { kubeha, REPO } from "./cli.ts";

export interface E2eLab {
  lab: LabInfo;
  /** Working directory of the test (cluster file, state directory): removed by `dropLab`. */
  cwd: string;
}

/** A fresh lab with the stand-in bundle; `apply: true` also runs `kubeha apply` and asserts it succeeded. */
export async function freshLab(o: { name: string; subnet: string; masters: number; workers: number; lbs?: number; endpoint?: LabEndpoint; apply?: boolean }): Promise<E2eLab> {
  await labDown(o.name); // a lab left by a killed run
  const cwd = mkdtempSync(join(tmpdir(), `kubeha-${o.name}-`));
  const lab = await labUp({
    name: o.name, subnet: o.subnet, masters: o.masters, workers: o.workers, cwd, bundle: join(REPO, "test/standins/bundle"),
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    ...(o.lbs ? { lbs: o.lbs } : {}),
  });
  if (o.apply) {
    const a = kubeha(["apply", lab.clusterFile, "--output", "plain"], { cwd, timeoutMs: 10 * 60_000 });
    assert.equal(a.code, 0, `${a.stdout}\n${a.stderr}`);
  }
  return { lab, cwd };
}

/** Takes the lab down, asserts nothing was left behind, removes the working directory. */
export async function dropLab(name: string, cwd: string | undefined): Promise<void> {
  const left = await labDown(name);
  if (cwd) rmSync(cwd, { recursive: true, force: true });
  assert.deepEqual(left, [], "lab down left something behind");
}
