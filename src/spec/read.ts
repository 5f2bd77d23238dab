/**
 * Reading a cluster file: `loadCluster` (effectful: reads the file) wraps `parseCluster` (pure).
 * Pipeline: YAML (with positions) -> JSON-schema check (structure, unknown fields) -> normalize ->
 * semantic rules (rules.ts). Every problem is collected, with its YAML path and line:column.
 */
import { readFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ErrorObject, ValidateFunction } from "ajv";
import type { Document, LineCounter } from "yaml";
import { readYaml, yamlLib, type YamlResult } from "./yaml.ts";
import { readPlainYaml } from "./yaml-fast.ts";
import type { ClusterFile } from "./file.ts";
import type { Cluster } from "./model.ts";
import { normalize, type NormalizeOptions } from "./normalize.ts";
import { runRules, keySegment, PLAIN_KEY } from "./rules.ts";
import { KubehaError, UnreachableError, ValidationError, type Problem } from "../errors.ts";
import { validate as precompiled } from "./cluster-check.generated.ts";

export interface ParseResult {
  /** Present when the file has no errors (warnings allowed). */
  cluster?: Cluster;
  problems: Problem[];
}

const schemaPath = fileURLToPath(new URL("../../cluster.schema.json", import.meta.url));

/** The published JSON schema of the cluster file. */
export function clusterSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(schemaPath, "utf8")) as Record<string, unknown>;
}

/** The schema check, precompiled from cluster.schema.json by `npm run schema`. */
function validate(): ValidateFunction {
  return precompiled as unknown as ValidateFunction;
}

type Segment = string | number;

/** `spec.hosts[1].address` from path segments; a key that is not a plain word is quoted: `labels["example.com/x"]`. */
export function formatPath(segs: Segment[]): string {
  return segs
    .map((s, i) => (typeof s === "number" ? `[${s}]` : i === 0 && PLAIN_KEY.test(s) ? s : keySegment(s)))
    .join("");
}

/** Inverse of formatPath, for rules that report by string path. */
export function splitPath(path: string): Segment[] {
  const out: Segment[] = [];
  for (const m of path.matchAll(/\[("(?:[^"\\]|\\.)*")\]|([^.[\]]+)|\[(\d+)\]/g))
    out.push(m[1] !== undefined ? (JSON.parse(m[1]) as string) : m[3] !== undefined ? Number(m[3]) : m[2]!);
  return out;
}

/** Finds the line/column of a path: the key of the last segment when it is a map key, else the value. */
function locate(doc: Document, lc: LineCounter, segs: Segment[]): { line: number; col: number } | undefined {
  const { isMap, isNode, isSeq } = yamlLib();
  let node: unknown = doc.contents;
  let best: number | undefined = isNode(node) ? node.range?.[0] : undefined;
  for (const seg of segs) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isNode(p.key) && (p.key as { value?: unknown }).value === seg);
      if (!pair) break;
      if (isNode(pair.key) && pair.key.range) best = pair.key.range[0];
      node = pair.value;
    } else if (isSeq(node) && typeof seg === "number") {
      const item = node.items[seg];
      if (!item) break;
      if (isNode(item) && item.range) best = item.range[0];
      node = item;
    } else break;
  }
  if (best === undefined) return undefined;
  return lc.linePos(best);
}

function closest(word: string, options: string[]): string | undefined {
  const dist = (a: string, b: string) => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0]![j] = j;
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++)
        d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    return d[a.length]![b.length]!;
  };
  let best: [string, number] | undefined;
  for (const o of options) {
    const n = dist(word.toLowerCase(), o.toLowerCase());
    if (!best || n < best[1]) best = [o, n];
  }
  return best && best[1] <= Math.max(2, Math.floor(word.length / 3)) ? best[0] : undefined;
}

const REQUIRED_HINTS: Record<string, string> = {
  hairpin:
    "set `hairpin: false` for cloud L4 load balancers (e.g. Alibaba SLB) that cannot be reached from their own backends, `true` otherwise",
  vip: "an unused IPv4 address in the subnet of the hosts that hold it",
  controlPlaneEndpoint: "e.g. `controlPlaneEndpoint: {mode: haproxy-keepalived, vip: 198.18.0.100}`",
};

function schemaProblem(e: ErrorObject): { segs: Segment[]; message: string; hint?: string } | undefined {
  const segs = e.instancePath
    .split("/")
    .slice(1)
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "if":
      return undefined; // the `then` branch reports the real error
    case "additionalProperties": {
      const field = String(p.additionalProperty);
      const known = Object.keys(((e.parentSchema as { properties?: object } | undefined)?.properties ?? {}) as object);
      const guess = closest(field, known);
      return {
        segs: [...segs, field],
        message: `unknown field "${field}"`,
        hint: guess ? `did you mean "${guess}"?` : known.length ? `known fields: ${known.join(", ")}` : undefined,
      };
    }
    case "required": {
      const field = String(p.missingProperty);
      return { segs, message: `missing required field "${field}"`, hint: REQUIRED_HINTS[field] };
    }
    case "enum":
      return { segs, message: `must be one of: ${(p.allowedValues as unknown[]).map(String).join(", ")}` };
    case "const":
      return { segs, message: `must be "${String(p.allowedValue)}"` };
    case "type":
      return { segs, message: `must be ${/^[aeiou]/.test(String(p.type)) ? "an" : "a"} ${String(p.type)}` };
    case "minItems":
      return { segs, message: `must have at least ${String(p.limit)} item(s)` };
    case "uniqueItems":
      return { segs, message: "must not repeat items" };
    default:
      return { segs, message: e.message ?? e.keyword };
  }
}

/** True when `inner` is `outer` or lies below it (`spec.hosts[1].name` is below `spec.hosts`). */
function within(inner: string, outer: string): boolean {
  return outer === "" || inner === outer || (inner.startsWith(outer) && (inner[outer.length] === "." || inner[outer.length] === "["));
}

/**
 * The file with the parts that failed the schema replaced, so normalize can run on it for the rules
 * over the parts that passed. Only the shape matters: no rule reads a replaced part.
 */
function lenientFile(data: unknown, broken: string[]): ClusterFile {
  const obj = (v: unknown): Record<string, unknown> => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
  const root = obj(data);
  const spec = { ...obj(root.spec) };
  const meta = obj(root.metadata);
  const isBroken = (path: string) => broken.some((b) => within(path, b) || within(b, path));
  for (const key of Object.keys(spec)) if (isBroken(`spec.${key}`)) delete spec[key];
  if (!Array.isArray(spec.hosts)) spec.hosts = [];
  if (!spec.controlPlaneEndpoint) spec.controlPlaneEndpoint = { mode: "external", address: "", hairpin: true };
  const name = typeof meta.name === "string" && !isBroken("metadata") ? meta.name : "cluster";
  return { ...root, metadata: { ...meta, name }, spec } as unknown as ClusterFile;
}

export interface ReadOptions extends NormalizeOptions {
  /**
   * The command looks at or repairs a running cluster (status, node remove, reset, etcd, certs,
   * join-command): a `degraded` finding (2 etcd members, what removing a dead one of 3 leaves) is
   * a warning, so the cluster can still be seen and mended. Commands that build leave this unset
   * and refuse such a file.
   */
  operate?: boolean;
}

/** A degraded finding as the operating commands see it: a warning that says who refuses it (node remove repeats it for the file it leaves). */
function asOperating(p: Problem): Problem {
  return { ...p, severity: "warning", hint: `${p.hint ? `${p.hint}; ` : ""}plan and apply refuse this file until then (status, node remove, reset, etcd, certs and join-command still read it)` };
}

/**
 * Pure: text -> normalized cluster + every problem found (errors and warnings), each with path and position.
 * The common subset of YAML is read by the fast reader; the positioned Document (readYaml) is built
 * only when the fast reader declines the text or a problem needs its line.
 */
export function parseCluster(text: string, opts: ReadOptions = {}): ParseResult {
  const fast = readPlainYaml(text);
  let full: YamlResult | undefined = fast === undefined ? readYaml(text) : undefined;
  const data = fast ?? full!.data;
  if (data === undefined) return { problems: full!.problems };
  const problems: Problem[] = [];
  const at = (segs: Segment[]) => {
    full ??= readYaml(text);
    return locate(full.doc, full.lc, segs);
  };

  const check = validate();
  // Schema errors that make a part unusable for the rules; an unknown field does not.
  const broken: string[] = [];
  if (!check(data)) {
    const seen = new Set<string>();
    for (const e of check.errors ?? []) {
      const sp = schemaProblem(e);
      if (!sp) continue;
      const path = formatPath(sp.segs);
      if (e.keyword === "required") broken.push(formatPath([...sp.segs, String((e.params as { missingProperty: string }).missingProperty)]));
      else if (e.keyword !== "additionalProperties") broken.push(path);
      const key = `${path}\0${sp.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      problems.push({ severity: "error", rule: "schema", path, message: sp.message, ...(sp.hint ? { hint: sp.hint } : {}), ...at(sp.segs) });
    }
  }

  const schemaOk = problems.length === 0;
  const file = schemaOk ? (data as ClusterFile) : lenientFile(data, broken);
  let cluster: Cluster | undefined;
  try {
    cluster = normalize(file, opts);
  } catch (err) {
    if (schemaOk) throw err;
  }
  if (cluster) {
    const runs = (reads: string[]) => !broken.some((b) => reads.some((r) => within(b, r) || within(r, b)));
    for (const p of runRules(file, cluster, runs, !schemaOk)) problems.push({ ...(p.degraded && opts.operate ? asOperating(p) : p), ...at(splitPath(p.path)) });
  }
  problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
  return cluster && schemaOk && !problems.some((p) => p.severity === "error") ? { cluster, problems } : { problems };
}

/** Reads and validates; throws ValidationError listing every problem. Warnings come back with the cluster. */
export async function loadCluster(
  path: string,
  opts: Omit<ReadOptions, "sourcePath"> = {},
): Promise<{ cluster: Cluster; warnings: Problem[] }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    // Exit 4: kubeha could not look at the file, which says nothing about what is in it.
    throw new UnreachableError(`cannot read cluster file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, "check the path, or create one with `kubeha init > cluster.yaml`");
  }
  const r = parseCluster(text, { ...opts, sourcePath: path });
  if (!r.cluster) throw new ValidationError(path, r.problems);
  return { cluster: r.cluster, warnings: r.problems.filter((p) => p.severity === "warning") };
}
