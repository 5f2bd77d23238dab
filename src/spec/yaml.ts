/**
 * YAML text -> plain JSON-like data, with the positions kept for error messages (pure).
 *
 * One parse option set for every cluster file. Hostile input is refused here, with a line, before
 * anything walks the data: alias bombs (aliases that expand to far more nodes than the file holds),
 * aliases that refer to their own anchor or to no anchor, nesting deeper than any cluster file needs,
 * duplicate keys, keys that are not plain values, and YAML tags outside the core schema.
 *
 * Merge keys (`<<: *defaults`) are supported: YAML 1.2 dropped them, but docker-compose and many
 * Kubernetes users rely on them to share host settings, and refusing them would only push those
 * users to copy blocks. Explicit keys win over merged ones; earlier merge sources win over later ones.
 *
 * The data is built here rather than by the yaml package's `toJS()`, which resolves each alias by
 * scanning every anchor before it (quadratic: 25,000 hosts sharing `ssh: *ssh` took seconds).
 */
import { createRequire } from "node:module";
import type * as YamlLib from "yaml";
import type { Document, LineCounter as LineCounterType, Node } from "yaml";
import type { Problem } from "../errors.ts";

let lib: typeof YamlLib | undefined;
/**
 * The yaml package, loaded on first use: most files are read by yaml-fast.ts, and loading the
 * package's hundred modules costs more than reading a 1,000-host file.
 */
export function yamlLib(): typeof YamlLib {
  return (lib ??= createRequire(import.meta.url)("yaml") as typeof YamlLib);
}

/** The one option set cluster files are parsed with. Duplicate keys and aliases are checked below. */
export const YAML_READ_OPTIONS = {
  merge: true,
  uniqueKeys: false,
  prettyErrors: false,
  logLevel: "error",
  // Expansion is measured below, relative to the file's size: yaml's fixed count refuses a
  // realistic file with 101 hosts sharing one `&ssh` anchor.
  maxAliasCount: -1,
} as const;

/** A cluster file nests about 6 levels; anything past this is not a cluster file. */
export const MAX_DEPTH = 64;

/** Nodes the data may expand to through aliases: a fixed allowance plus a multiple of the file's own nodes. */
export function expansionLimit(sourceNodes: number): number {
  return 10_000 + 20 * sourceNodes;
}

const CORE_TAGS = new Set(["str", "int", "float", "bool", "null", "map", "seq"].map((t) => `tag:yaml.org,2002:${t}`));

export interface YamlResult {
  doc: Document;
  lc: LineCounterType;
  /** Present when the text is a readable YAML document (no problems). */
  data?: unknown;
  problems: Problem[];
}

type Pos = { line: number; col: number };

function yamlProblem(pos: Pos, message: string, hint: string): Problem {
  return { severity: "error", rule: "yaml", path: "", message, hint, line: pos.line, col: pos.col };
}

const EXPECTED = "expected a cluster file: apiVersion: kubeha.dev/v1alpha1, kind: Cluster, metadata and spec";

/** Errors of the yaml package, in words a user acts on; runs of the same error are reported once. */
function syntaxProblems(doc: Document, lc: LineCounterType): Problem[] {
  const out: Problem[] = [];
  const seen = new Set<string>();
  for (const err of doc.errors) {
    if (err.code === "RESOURCE_EXHAUSTION" || err.code === "MULTIPLE_DOCS") {
      if (seen.has(err.code)) continue;
      seen.add(err.code);
    }
    const pos = lc.linePos(err.pos[0]);
    if (err.code === "RESOURCE_EXHAUSTION")
      out.push(yamlProblem(pos, `the YAML is nested too deeply to read (a cluster file needs fewer than ${MAX_DEPTH} levels)`, "remove the runaway nesting; " + EXPECTED));
    else if (err.code === "MULTIPLE_DOCS")
      out.push(yamlProblem(pos, "the file holds more than one YAML document", "a cluster file is one document: remove the `---` line and what follows, or split it into files"));
    else out.push(yamlProblem(pos, err.message.split("\n")[0]!, "fix the YAML syntax"));
  }
  return out;
}

/** Iterative (the input may nest 10,000 deep): depth, keys and tags; stops at the first too-deep node. */
function shapeProblems(doc: Document, lc: LineCounterType): { problems: Problem[]; nodes: number } {
  const { isAlias, isMap, isScalar, isSeq } = yamlLib();
  const problems: Problem[] = [];
  const pos = (n: Node | null | undefined) => lc.linePos(n?.range?.[0] ?? 0);
  const stack: Array<[Node, number]> = doc.contents ? [[doc.contents as Node, 1]] : [];
  let nodes = 0;
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    nodes++;
    if (depth > MAX_DEPTH) {
      problems.push(yamlProblem(pos(node), `the YAML nests more than ${MAX_DEPTH} levels deep`, "a cluster file needs about 6 levels; " + EXPECTED));
      return { problems, nodes };
    }
    if (node.tag && !CORE_TAGS.has(node.tag) && !isAlias(node))
      problems.push(yamlProblem(pos(node), `YAML tag ${node.tag.replace("tag:yaml.org,2002:", "!!")} is not allowed in a cluster file`, "remove the tag: every field is a plain string, number, boolean, list or map"));
    if (isMap(node)) {
      const first = new Map<string, Node>();
      for (const pair of node.items) {
        const key = pair.key as Node | null;
        if (key && !isScalar(key) && !isAlias(key)) {
          problems.push(yamlProblem(pos(key), "a map key is a list or map", "keys must be plain names like `address`"));
          continue;
        }
        if (isScalar(key) && typeof key.value !== "symbol") {
          const name = keyName(key.value);
          const before = first.get(name);
          if (before)
            problems.push(yamlProblem(pos(key), `duplicate key "${name}" (first at line ${pos(before).line})`, "a key may appear once per map: merge the two entries"));
          else first.set(name, key);
        }
        if (pair.value) stack.push([pair.value as Node, depth + 1]);
      }
    } else if (isSeq(node)) {
      for (let i = node.items.length - 1; i >= 0; i--) if (node.items[i]) stack.push([node.items[i] as Node, depth + 1]);
    }
  }
  return { problems, nodes };
}

function keyName(v: unknown): string {
  return v === null || v === undefined ? "" : String(v);
}

class Refused extends Error {
  constructor(readonly problem: Problem) {
    super(problem.message);
  }
}

/**
 * Builds the data in document order (anchors precede their aliases), memoizing each anchored
 * node's value and expanded size, so aliases cost nothing and a bomb is seen before it expands.
 * Recursion is bounded by MAX_DEPTH (checked first) per node.
 */
function build(doc: Document, lc: LineCounterType, limit: number): unknown {
  const { isAlias, isMap, isPair, isScalar, isSeq } = yamlLib();
  const anchors = new Map<string, Node>();
  const done = new Map<Node, { value: unknown; size: number }>();
  const inProgress = new Set<Node>();
  let total = 0;
  const pos = (n: Node) => lc.linePos(n.range?.[0] ?? 0);

  const visit = (node: Node | null | undefined): { value: unknown; size: number } => {
    if (!node) return { value: null, size: 1 };
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (!target)
        throw new Refused(yamlProblem(pos(node), `alias *${node.source} refers to no anchor`, `define \`&${node.source}\` before its first use`));
      if (inProgress.has(target))
        throw new Refused(yamlProblem(pos(node), `alias *${node.source} is inside the node it refers to`, "an alias must not refer to its own anchor"));
      const r = done.get(target)!;
      total += r.size;
      if (total > limit)
        throw new Refused(
          yamlProblem(pos(node), `aliases expand the file to more than ${limit} nodes (an alias bomb?)`, "use each anchor for plain values like shared ssh settings; do not nest aliases of aliases"),
        );
      return r;
    }
    if (node.anchor) anchors.set(node.anchor, node);
    inProgress.add(node);
    let r: { value: unknown; size: number };
    if (isMap(node)) {
      const obj: Record<string, unknown> = {};
      const merged: unknown[] = [];
      let size = 1;
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = pair.key as Node | null;
        const k = key ? visit(key) : { value: null, size: 1 };
        const v = visit(pair.value as Node | null);
        size += k.size + v.size;
        if (typeof k.value === "symbol") {
          merged.push(...(Array.isArray(v.value) ? v.value : [v.value]));
          continue;
        }
        set(obj, keyName(k.value), v.value);
      }
      for (const m of merged) {
        if (!m || typeof m !== "object" || Array.isArray(m))
          throw new Refused(yamlProblem(pos(node), "a merge key `<<` needs a map or a list of maps", "write `<<: *anchor` where `&anchor` marks a map"));
        for (const [mk, mv] of Object.entries(m)) if (!Object.prototype.hasOwnProperty.call(obj, mk)) set(obj, mk, mv);
      }
      r = { value: obj, size };
    } else if (isSeq(node)) {
      const arr: unknown[] = [];
      let size = 1;
      for (const item of node.items) {
        const v = visit(item as Node | null);
        arr.push(v.value);
        size += v.size;
      }
      r = { value: arr, size };
    } else if (isScalar(node)) {
      r = { value: node.value, size: 1 };
    } else {
      r = { value: null, size: 1 };
    }
    inProgress.delete(node);
    if (node.anchor) done.set(node, r);
    return r;
  };
  return visit(doc.contents as Node).value;
}

/** `__proto__` and friends are data here, never the object's prototype. */
function set(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

/** Parses a cluster file's text; `data` is set only when the YAML itself has no problem. */
export function readYaml(text: string): YamlResult {
  const { LineCounter, isScalar, parseDocument } = yamlLib();
  const lc = new LineCounter();
  const doc = parseDocument(text, { ...YAML_READ_OPTIONS, lineCounter: lc });
  const syntax = syntaxProblems(doc, lc);
  if (syntax.length) return { doc, lc, problems: syntax };
  const c = doc.contents;
  if (!c || (isScalar(c) && (c.value === null || c.value === ""))) {
    return { doc, lc, problems: [yamlProblem({ line: 1, col: 1 }, "the file is empty", `${EXPECTED}; \`kubeha init > cluster.yaml\` writes one`)] };
  }
  const shape = shapeProblems(doc, lc);
  if (shape.problems.length) return { doc, lc, problems: shape.problems };
  try {
    return { doc, lc, data: build(doc, lc, expansionLimit(shape.nodes)), problems: [] };
  } catch (err) {
    if (err instanceof Refused) return { doc, lc, problems: [err.problem] };
    throw err;
  }
}
