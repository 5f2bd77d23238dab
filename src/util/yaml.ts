/**
 * YAML for files Kubernetes components read. kubeadm, the kubelet, client-go and kube-vip decode
 * YAML with YAML 1.1 rules (go-yaml v2 via sigs.k8s.io/yaml), where `no`, `on`, `y`, `0b101`,
 * `1e3`, `0x1F` or `12:30` are booleans or numbers. Writing with the 1.1 schema quotes every such
 * string, so a host named `no` stays a string. Every renderer of Kubernetes YAML goes through here.
 *
 * Many documents differ only in a few strings (every node's kubeadm join configuration), so each
 * document shape is stringified once, with every string replaced by a slot, and each string's own
 * YAML form (quoted when it must be) is filled in; that form is the yaml package's, made in the same
 * context (a map value or a list item). Strings that span lines are folded or quoted by their
 * surroundings: documents holding one take the plain path. test/util/yaml.test.ts checks the output
 * is the yaml package's, byte for byte.
 */
import { stringify } from "yaml";

// No anchors: Kubernetes objects that share a sub-object (a probe, labels) are written out each time.
const OPTS = { version: "1.1", lineWidth: 0, aliasDuplicateObjects: false } as const;
const VALUE = "kubehaval";
const ITEM = "kubehaitem";
const SLOT_RE = /kubeha(val|item)(\d+)x/g;
const RESERVED = /kubeha(val|item)/;
/** Bounds on the caches: a long-lived process (the library, apply) renders many clusters. */
const MAX_SHAPES = 2_000;
const MAX_SCALARS = 50_000;

const shapes = new Map<string, string>();
const values = new Map<string, string>();
const items = new Map<string, string>();

/**
 * Strings the yaml package writes as they are in both contexts, so their form needs no stringify:
 * a name (letters first; none of the YAML 1.1 words below) or a dotted-quad IPv4 address, which is
 * what most of a big cluster's strings are (every host's name and address). test/util/yaml.test.ts
 * holds this against the yaml package.
 */
const PLAIN = /^(?:[A-Za-z][A-Za-z0-9._/-]*|[0-9]{1,3}(?:\.[0-9]{1,3}){3})$/;
/**
 * Names the yaml package's YAML 1.1 schema reads as something else: booleans and null in any letter
 * case (a superset: `yEs` is a string, but stringify decides it) and exponents without a mantissa
 * (`e1`, `E-5` are floats to it).
 */
const WORDS = /^(?:y|yes|n|no|true|false|on|off|null|e-?[0-9]+)$/i;

/** The YAML form of string `s` as a map value (`k: FORM`) or a list item (`- FORM`). */
function form(s: string, item: boolean): string {
  if (PLAIN.test(s) && !WORDS.test(s)) return s;
  const cache = item ? items : values;
  let y = cache.get(s);
  if (y === undefined) {
    const text = item ? stringify([s], OPTS) : stringify({ k: s }, OPTS);
    y = text.slice(item ? 2 : 3, -1);
    if (cache.size >= MAX_SCALARS) cache.clear();
    cache.set(s, y);
  }
  return y;
}

/** Copies `v` with every string replaced by a slot; collects the strings. Undefined: not plain one-line data. */
function template(v: unknown, strings: string[], item: boolean): unknown {
  if (typeof v === "string") {
    if (v.includes("\n") || v.includes("\r") || RESERVED.test(v)) return undefined;
    strings.push(v);
    return `${item ? ITEM : VALUE}${strings.length - 1}x`;
  }
  if (typeof v === "number" || typeof v === "boolean" || v === null) return v;
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    for (const x of v) {
      const t = template(x, strings, true);
      if (t === undefined) return undefined;
      out.push(t);
    }
    return out;
  }
  if (typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (x === undefined) continue;
      if (RESERVED.test(k)) return undefined;
      const t = template(x, strings, false);
      if (t === undefined) return undefined;
      out[k] = t;
    }
    return out;
  }
  return undefined;
}

/** One YAML document (no directives, no line folding). */
export function toYaml(doc: unknown): string {
  const strings: string[] = [];
  const t = doc !== null && typeof doc === "object" ? template(doc, strings, false) : undefined;
  if (t === undefined) return stringify(doc, OPTS);
  const key = JSON.stringify(t);
  let text = shapes.get(key);
  if (text === undefined) {
    text = stringify(t, OPTS);
    if (shapes.size >= MAX_SHAPES) shapes.clear();
    shapes.set(key, text);
  }
  return text.replace(SLOT_RE, (_, kind: string, i: string) => form(strings[Number(i)]!, kind === "item"));
}

/** Several documents separated by `---`. */
export function toYamlStream(docs: readonly unknown[]): string {
  return docs.map(toYaml).join("---\n");
}
