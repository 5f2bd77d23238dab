/**
 * Seeded mutations of cluster files, shared by the validator's property test (test/spec/fuzz.test.ts)
 * and the CLI fuzz harness (test/cli/fuzz-cli.test.ts).
 */

/** A small seeded PRNG (mulberry32-like): the same seed gives the same files. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);
}

export const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

const VALUES: unknown[] = [null, 0, -1, 1, 2, 255, 256, 65536, 0.1, 1.5, "", "x", "198.18.0.1", "10.96.0.0/12", "300.1.1.1", "1.34.2", "v1.99.0", true, false, [], {}, ["lb"], { a: 1 }, "control-plane", "external", "haproxy", "kube-vip"];
/** Values that are hostile rather than merely wrong. */
const HOSTILE_VALUES: unknown[] = [
  1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, -0, 2 ** 31, 4294967296,
  "x".repeat(100_000), "a\u0000b", "\u202egnp.exe", "名前", "😀".repeat(50), "e\u0301", "\uFEFFbom", "../../etc/passwd", "/", "~", "$(reboot)", "`id`", "a\nb", " ",
  "__proto__", "constructor", [[[[[[[]]]]]]], { __proto__: null, constructor: 1 },
];
const KEYS = ["name", "address", "roles", "vip", "mode", "port", "hairpin", "etcd", "unknownField", "interface", "taints", "labels", "__proto__", "<<"];

type J = Record<string, unknown> | unknown[];
function containers(v: unknown, out: J[] = []): J[] {
  if (v && typeof v === "object") {
    out.push(v as J);
    for (const c of Object.values(v)) containers(c, out);
  }
  return out;
}

/** 1-4 structural changes: delete, duplicate or retype a field or item, add a stray key. */
export function mutateObject(obj: unknown, r: () => number, hostile = false): unknown {
  const values = hostile ? [...VALUES, ...HOSTILE_VALUES] : VALUES;
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const all = containers(obj);
    if (!all.length) return pick(r, values);
    const c = pick(r, all);
    const keys = Object.keys(c);
    const op = r();
    if (Array.isArray(c)) {
      if (op < 0.3 && c.length) c.splice(Math.floor(r() * c.length), 1);
      else if (op < 0.6 && c.length) c.push(structuredClone(pick(r, c)));
      else if (c.length) c[Math.floor(r() * c.length)] = structuredClone(pick(r, values));
      else c.push(structuredClone(pick(r, values)));
    } else if (op < 0.3 && keys.length) delete c[pick(r, keys)];
    else if (op < 0.7 && keys.length) c[pick(r, keys)] = structuredClone(pick(r, values));
    else c[pick(r, KEYS)] = structuredClone(pick(r, values));
  }
  return obj;
}

/** One line-level change: delete or duplicate a line, or put a YAML indicator character in it. */
export function mutateText(text: string, r: () => number): string {
  const lines = text.split("\n");
  const i = Math.floor(r() * lines.length);
  const op = r();
  if (op < 0.3) lines.splice(i, 1);
  else if (op < 0.6) lines.splice(i, 0, lines[Math.floor(r() * lines.length)]!);
  else {
    const l = lines[i] ?? "";
    const j = Math.floor(r() * (l.length + 1));
    lines[i] = l.slice(0, j) + "  :[{#-'\"".charAt(Math.floor(r() * 10)) + l.slice(j + 1);
  }
  return lines.join("\n");
}

const SCALAR_LINE = /^(\s*(?:- )?[\w.-]+: )([^\s&*!{[|>#][^#]*)$/;

/**
 * YAML-level hostile changes the object mutations cannot make: anchors and aliases (also
 * undefined and self-referencing ones), tags, merge keys, NUL bytes, BOMs, odd numbers.
 */
export function mutateYaml(text: string, r: () => number): string {
  const lines = text.split("\n");
  const scalars = lines.map((l, i) => (SCALAR_LINE.test(l) ? i : -1)).filter((i) => i >= 0);
  const at = scalars.length ? pick(r, scalars) : 0;
  const [, key = "", value = ""] = SCALAR_LINE.exec(lines[at] ?? "") ?? [];
  const op = Math.floor(r() * 12);
  switch (op) {
    case 0: { // anchor a value, alias it from a later scalar line
      lines[at] = `${key}&v ${value}`;
      const later = scalars.filter((i) => i > at);
      if (later.length) { const j = pick(r, later); lines[j] = lines[j]!.replace(SCALAR_LINE, "$1*v"); }
      break;
    }
    case 1: lines[at] = `${key}*nowhere`; break;
    case 2: lines[at] = `${key}${pick(r, ["!!binary", "!!str", "!!int", "!!float", "!!map", "!!seq", "!!timestamp", "!foo", "!<tag:x>", "!!set"])} ${value}`; break;
    case 3: lines[at] = `${key}"${value}\\0${value}"`; break;
    case 4: lines[at] = `${key}${value}\u0000`; break;
    case 5: lines[at] = `${key}${pick(r, ["1e400", "-1e400", ".inf", ".nan", "0x7fffffffffffffff", "0o777", "99999999999999999999999", "-0", "1_000", "+12"])}`; break;
    case 6: lines[at] = `${key}${"y".repeat(200_000)}`; break;
    case 7: return "\uFEFF" + text;
    case 8: lines[at] = `${key}{ <<: ${pick(r, ["*v", "5", "[1]", "{}", "[*v]"])} }`; if (r() < 0.5) lines.unshift("x: &v { a: 1 }"); break;
    case 9: lines.splice(at, 0, lines[at]!); break; // a duplicate key
    case 10: lines[at] = `${key}${"[".repeat(100 + Math.floor(r() * 5000))}`; break;
    default: lines[at] = `${key}"${pick(r, ["\\u202e", "\\U0001F600", "\\uD800", "\\x00", "\\t\\n", "é"])}${value}"`;
  }
  return lines.join("\n");
}
