/**
 * A fast reader for the YAML cluster files are usually written in (pure). The yaml package builds a
 * positioned Document through a concrete syntax tree: for 1,000 hosts that is most of `validate`'s
 * time, and for 25,000 most of its memory. This reader reads block maps and lists, one-line flow
 * maps and lists, quoted and plain scalars and comments, straight into plain data, resolving plain
 * scalars with the YAML 1.2 core schema as the yaml package does.
 *
 * It is a fast path, never a second dialect: on anything outside that subset (anchors, aliases,
 * tags, merge keys, block scalars, multi-line scalars or flow collections, duplicate keys, keys that
 * are not strings, tabs, CR, control characters, document markers, deep nesting) it returns
 * undefined and readYaml in yaml.ts reads the file: that one reports every problem with its line.
 * test/spec/yaml-fast.test.ts checks that both give the same data wherever this one answers.
 */
import { MAX_DEPTH } from "./yaml.ts";

/** Thrown to leave the fast path; caught in readPlainYaml. */
const BAIL = new Error("outside the fast YAML subset");

/** A non-blank, non-comment line: its indentation and its text after it. */
interface Line {
  indent: number;
  text: string;
}

// Characters a plain scalar may not start with (the flow starts and quotes are handled before).
const BAD_START = new Set([..."&*!|>%@`,[]{}#'\""]);
const FLOW_STOP = new Set([..."[]{},"]);
// Control characters (tab and CR among them), NEL, C1 controls, BOM, lone surrogates, noncharacters.
const UNUSUAL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\ufeff\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** The yaml package refuses implicit keys longer than 1024 characters; stay well below. */
const MAX_KEY = 1000;
/** Depth is counted as yaml.ts counts it (the root is 1); deeper files go to the full reader, which reports them. */
const MAX_FAST_DEPTH = MAX_DEPTH - 4;

/** Spaces only: YAML does not treat other Unicode white space (NBSP, ...) as separation. */
function rtrim(s: string): string {
  let e = s.length;
  while (e > 0 && s.charCodeAt(e - 1) === 32) e--;
  return e === s.length ? s : s.slice(0, e);
}

function ltrim(s: string): string {
  let b = 0;
  while (s.charCodeAt(b) === 32) b++;
  return b === 0 ? s : s.slice(b);
}

function bail(): never {
  throw BAIL;
}

/** A plain scalar's value under the YAML 1.2 core schema, tested in the yaml package's order. */
export function resolvePlain(s: string): unknown {
  if (/^(?:~|[Nn]ull|NULL)?$/.test(s)) return null;
  if (/^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/.test(s)) return s[0] === "t" || s[0] === "T";
  if (/^0o[0-7]+$/.test(s)) return parseInt(s.slice(2), 8);
  if (/^[-+]?[0-9]+$/.test(s)) return parseInt(s, 10);
  if (/^0x[0-9a-fA-F]+$/.test(s)) return parseInt(s.slice(2), 16);
  if (/^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/.test(s))
    return s.slice(-3).toLowerCase() === "nan" ? NaN : s[0] === "-" ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/.test(s) || /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/.test(s)) return parseFloat(s);
  return s;
}

/** `__proto__` and friends are data here, never the object's prototype (as in yaml.ts). */
function set(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (Object.prototype.hasOwnProperty.call(obj, key)) bail(); // a duplicate key: the full reader names both lines
  if (key === "__proto__") Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

/** A key must be a plain string: not null, a boolean, a number or the merge key. */
function plainKey(raw: string): string {
  const key = rtrim(raw);
  if (key.length === 0 || key.length > MAX_KEY || key === "<<" || typeof resolvePlain(key) !== "string") bail();
  return key;
}

/** A quoted scalar starting at t[p] that ends on the same line: its value and the index after it. */
function quoted(t: string, p: number): { value: string; end: number } {
  if (t[p] === "'") {
    let j = p + 1;
    for (;;) {
      const k = t.indexOf("'", j);
      if (k < 0) bail();
      if (t[k + 1] === "'") {
        j = k + 2;
        continue;
      }
      return { value: t.slice(p + 1, k).replaceAll("''", "'"), end: k + 1 };
    }
  }
  // Double-quoted: only the escapes YAML shares with JSON, so JSON.parse reads it the same way.
  for (let k = p + 1; k < t.length; k++) {
    const ch = t[k];
    if (ch === "\\") {
      const esc = t[++k];
      if (esc !== undefined && '"\\/bfnrt'.includes(esc)) continue;
      if (esc === "u" && /^[0-9a-fA-F]{4}$/.test(t.slice(k + 1, k + 5))) {
        k += 4;
        continue;
      }
      bail();
    }
    if (ch === '"') return { value: JSON.parse(t.slice(p, k + 1)) as string, end: k + 1 };
  }
  return bail();
}

/** Only spaces and then nothing or a comment may follow a value. */
function endOfLine(t: string, p: number): void {
  let k = p;
  while (t[k] === " ") k++;
  if (k < t.length && !(t[k] === "#" && k > p)) bail();
}

/** `-` (or `?`, `:`) followed by a space or nothing is an indicator, not the start of a plain scalar. */
function indicatorAt(t: string, p: number, stops: string): boolean {
  const c = t[p];
  return (c === "-" || c === "?" || c === ":") && (p + 1 >= t.length || stops.includes(t[p + 1]!));
}

function flowValue(t: string, p: number, depth: number): { value: unknown; end: number } {
  const c = t[p];
  if (c === undefined) return bail();
  if (c === '"' || c === "'") return quoted(t, p);
  if (c === "[" || c === "{") return flow(t, p, depth);
  if (BAD_START.has(c) || indicatorAt(t, p, " ,[]{}")) bail();
  let k = p;
  for (; k < t.length; k++) {
    const ch = t[k]!;
    if (FLOW_STOP.has(ch)) break;
    if (ch === ":" && (k + 1 === t.length || " ,[]{}".includes(t[k + 1]!))) break;
    if (ch === "#" && t[k - 1] === " ") bail();
  }
  if (t[k] === "[" || t[k] === "{") bail();
  const s = rtrim(t.slice(p, k));
  if (s.length === 0) bail();
  return { value: resolvePlain(s), end: k };
}

/** A flow map or list that closes on its own line. */
function flow(t: string, start: number, depth: number): { value: unknown; end: number } {
  if (depth > MAX_FAST_DEPTH) bail();
  const isSeq = t[start] === "[";
  const close = isSeq ? "]" : "}";
  const arr: unknown[] = [];
  const obj: Record<string, unknown> = {};
  let p = start + 1;
  const spaces = () => {
    while (t[p] === " ") p++;
  };
  spaces();
  if (t[p] === close) return { value: isSeq ? arr : obj, end: p + 1 };
  for (;;) {
    spaces();
    if (t[p] === close && p > start + 1) return { value: isSeq ? arr : obj, end: p + 1 }; // after a trailing comma
    if (isSeq) {
      const v = flowValue(t, p, depth + 1);
      arr.push(v.value);
      p = v.end;
      spaces();
      if (t[p] === ":") bail(); // a single-pair map inside a list
    } else {
      let key: string;
      if (t[p] === '"' || t[p] === "'") {
        const q = quoted(t, p);
        key = q.value;
        p = q.end;
        spaces();
      } else {
        if (t[p] === undefined || BAD_START.has(t[p]!) || indicatorAt(t, p, " ,[]{}")) bail();
        const k = t.indexOf(":", p);
        if (k < 0) bail();
        const raw = t.slice(p, k);
        if (/[,[\]{}#]/.test(raw)) bail();
        key = plainKey(raw);
        p = k;
      }
      if (key.length > MAX_KEY || t[p] !== ":" || t[p + 1] !== " ") bail();
      p += 1;
      spaces();
      if (t[p] === "," || t[p] === close) bail(); // an empty value
      const v = flowValue(t, p, depth + 1);
      set(obj, key, v.value);
      p = v.end;
      spaces();
    }
    if (t[p] === ",") {
      p++;
      continue;
    }
    if (t[p] === close) return { value: isSeq ? arr : obj, end: p + 1 };
    bail();
  }
}

/** The value written after `key: ` or `- ` on the same line. */
function inlineValue(t: string, depth: number): unknown {
  const c = t[0]!;
  if (c === '"' || c === "'" || c === "[" || c === "{") {
    const v = c === "[" || c === "{" ? flow(t, 0, depth) : quoted(t, 0);
    endOfLine(t, v.end);
    return v.value;
  }
  if (BAD_START.has(c) || indicatorAt(t, 0, " ")) bail();
  const hash = t.indexOf(" #");
  const s = rtrim(hash < 0 ? t : t.slice(0, hash));
  if (s.includes(": ") || s.endsWith(":")) bail(); // a map where a scalar must be
  return resolvePlain(s);
}

/** `key: rest` at the start of t: the key and what follows `: `; undefined when t is not a key line. */
function keyAt(t: string): { key: string; rest: string } | undefined {
  let p: number;
  let key: string;
  const c = t[0]!;
  if (c === '"' || c === "'") {
    const q = quoted(t, 0);
    p = q.end;
    while (t[p] === " ") p++;
    if (t[p] !== ":" || (p + 1 < t.length && t[p + 1] !== " ")) return undefined;
    key = q.value;
    if (key.length > MAX_KEY) bail();
  } else {
    if (BAD_START.has(c) || indicatorAt(t, 0, " ")) return undefined;
    p = -1;
    for (let k = t.indexOf(":"); k >= 0; k = t.indexOf(":", k + 1))
      if (k + 1 === t.length || t[k + 1] === " ") {
        p = k;
        break;
      }
    if (p < 0) return undefined;
    const hash = t.indexOf(" #");
    if (hash >= 0 && hash < p) return undefined;
    key = plainKey(t.slice(0, p));
  }
  return { key, rest: ltrim(t.slice(p + 1)) };
}

const isItem = (t: string) => t[0] === "-" && (t.length === 1 || t[1] === " ");

class Reader {
  private i = 0;
  constructor(private readonly ls: Line[]) {}

  /** The whole text: a block map at column 0 and nothing after it. */
  root(): Record<string, unknown> {
    if (this.ls.length === 0 || this.ls[0]!.indent !== 0) bail();
    const m = this.map(0, 1);
    if (this.i !== this.ls.length) bail();
    return m;
  }

  /** The value of a key or list item with nothing after it on its line: the block below it, or null. */
  private below(parent: number, depth: number, seqAtSameIndent: boolean): unknown {
    const l = this.ls[this.i];
    if (!l) return null;
    if (l.indent > parent) {
      if (isItem(l.text)) return this.seq(l.indent, depth, false);
      if (keyAt(l.text)) return this.map(l.indent, depth);
      bail(); // a scalar on its own line (maybe spanning several)
    }
    if (seqAtSameIndent && l.indent === parent && isItem(l.text)) return this.seq(parent, depth, true);
    return null;
  }

  private seq(ind: number, depth: number, underKeyAtSameIndent: boolean): unknown[] {
    if (depth > MAX_FAST_DEPTH) bail();
    const arr: unknown[] = [];
    for (let l = this.ls[this.i]; l && l.indent === ind && isItem(l.text); l = this.ls[this.i]) {
      let j = 1;
      while (l.text[j] === " ") j++;
      const rest = l.text.slice(j);
      if (rest === "" || rest[0] === "#") {
        this.i++;
        arr.push(this.below(ind, depth + 1, false));
      } else if (isItem(rest)) bail();
      else if (keyAt(rest)) {
        // `- key: value`: a map whose column is that of `key`.
        this.ls[this.i] = { indent: ind + j, text: rest };
        arr.push(this.map(ind + j, depth + 1));
      } else {
        this.i++;
        arr.push(inlineValue(rest, depth + 1));
      }
    }
    const next = this.ls[this.i];
    if (next && (next.indent > ind || (next.indent === ind && !underKeyAtSameIndent))) bail();
    return arr;
  }

  private map(ind: number, depth: number): Record<string, unknown> {
    if (depth > MAX_FAST_DEPTH) bail();
    const obj: Record<string, unknown> = {};
    for (let l = this.ls[this.i]; l && l.indent === ind; l = this.ls[this.i]) {
      const k = isItem(l.text) ? undefined : keyAt(l.text);
      if (!k) bail();
      this.i++;
      const v = k.rest === "" || k.rest[0] === "#" ? this.below(ind, depth + 1, true) : inlineValue(k.rest, depth + 1);
      set(obj, k.key, v);
    }
    const next = this.ls[this.i];
    if (next && next.indent > ind) bail();
    return obj;
  }
}

function linesOf(text: string): Line[] {
  const out: Line[] = [];
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    let p = start;
    while (text.charCodeAt(p) === 32) p++;
    if (p < end && text[p] !== "#") {
      const t = rtrim(text.slice(p, end));
      if (p === start && (t.startsWith("---") || t.startsWith("...") || t[0] === "%")) bail();
      out.push({ indent: p - start, text: t });
    }
    start = end + 1;
  }
  return out;
}

/** The data of a cluster file written in the common subset of YAML; undefined for anything else. */
export function readPlainYaml(text: string): Record<string, unknown> | undefined {
  if (UNUSUAL.test(text)) return undefined;
  try {
    return new Reader(linesOf(text)).root();
  } catch (err) {
    if (err === BAIL) return undefined;
    throw err;
  }
}
