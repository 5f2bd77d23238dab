/**
 * YAML text of plain data (maps, lists, strings, numbers, booleans), byte-identical to the yaml
 * package's `stringify(doc, { lineWidth: 0 })` and much cheaper for the many documents that differ
 * only in a few strings (every node's join.yaml): the document is stringified once per shape, with
 * each string replaced by a placeholder, and each string's own YAML form (quoted when it must be)
 * is filled in. A string's form in a block value or list item does not depend on where it sits;
 * strings that span lines do, so documents holding one take the plain path.
 */
import { stringify } from "yaml";

const OPTS = { lineWidth: 0 } as const;
const SLOT = (i: number) => `kubehaslot${i}x`;
const SLOT_RE = /kubehaslot(\d+)x/g;

const shapes = new Map<string, string>();
const scalars = new Map<string, string>();

function scalar(s: string): string {
  let y = scalars.get(s);
  if (y === undefined) {
    y = stringify(s, OPTS).replace(/\n$/, "");
    scalars.set(s, y);
  }
  return y;
}

/** Copies `v` with every string value replaced by a slot; collects the strings. Undefined: not plain data. */
function template(v: unknown, strings: string[]): unknown {
  if (typeof v === "string") {
    if (v.includes("\n") || v.includes("\r") || /kubehaslot/.test(v)) return undefined;
    strings.push(v);
    return SLOT(strings.length - 1);
  }
  if (typeof v === "number" || typeof v === "boolean" || v === null) return v;
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    for (const x of v) {
      const t = template(x, strings);
      if (t === undefined) return undefined;
      out.push(t);
    }
    return out;
  }
  if (typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (x === undefined) continue;
      if (/kubehaslot/.test(k)) return undefined;
      const t = template(x, strings);
      if (t === undefined) return undefined;
      out[k] = t;
    }
    return out;
  }
  return undefined;
}

/** `stringify(doc, { lineWidth: 0 })`, faster for documents of a shape seen before. */
export function toYaml(doc: unknown): string {
  const strings: string[] = [];
  const t = template(doc, strings);
  if (t === undefined || typeof t !== "object" || t === null) return stringify(doc, OPTS);
  const key = JSON.stringify(t);
  let text = shapes.get(key);
  if (text === undefined) {
    text = stringify(t, OPTS);
    shapes.set(key, text);
  }
  return text.replace(SLOT_RE, (_, i: string) => scalar(strings[Number(i)]!));
}
