/**
 * Reading a cluster file (the effectful edge): read the text, then `parseCluster` (pure).
 * INTERIM: full position-tracking validation lands in this file; the signatures are stable.
 */
import { readFile } from "node:fs/promises";
import { parse } from "yaml";
import type { ClusterFile } from "./file.ts";
import type { Cluster } from "./model.ts";
import { normalize, type NormalizeOptions } from "./normalize.ts";
import { ValidationError, type Problem } from "../errors.ts";

export interface ParseResult {
  cluster?: Cluster;
  problems: Problem[];
}

/** Pure: text -> normalized cluster + every problem found (errors and warnings). */
export function parseCluster(text: string, opts: NormalizeOptions = {}): ParseResult {
  const file = parse(text) as ClusterFile;
  return { cluster: normalize(file, opts), problems: [] };
}

/** Reads and validates; throws ValidationError listing every error. Warnings come back with the cluster. */
export async function loadCluster(path: string, opts: Omit<NormalizeOptions, "sourcePath"> = {}): Promise<{ cluster: Cluster; warnings: Problem[] }> {
  const text = await readFile(path, "utf8");
  const r = parseCluster(text, { ...opts, sourcePath: path });
  const errors = r.problems.filter((p) => p.severity === "error");
  if (errors.length > 0 || !r.cluster) throw new ValidationError(path, r.problems);
  return { cluster: r.cluster, warnings: r.problems.filter((p) => p.severity === "warning") };
}
