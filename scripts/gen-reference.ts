/**
 * Writes the cluster file reference into README.md (between the reference markers) from
 * cluster.schema.json, so the README documents exactly what the validator accepts.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

type S = { $ref?: string; description?: string; type?: string | string[]; enum?: unknown[]; const?: unknown; properties?: Record<string, S>; required?: string[]; items?: S; anyOf?: S[]; allOf?: Array<{ if?: { properties?: { mode?: { const?: string } } }; then?: S }>; additionalProperties?: S | boolean; minimum?: number; maximum?: number };

export function reference(schema: { definitions: Record<string, S> }): string {
  const defs = schema.definitions;
  const res = (s: S | undefined): S | undefined => (s?.$ref ? res(defs[s.$ref.replace("#/definitions/", "")]) : s);
  const typeOf = (s: S | undefined): string => {
    const r = res(s);
    if (!r) return "";
    if (r.const !== undefined) return `\`${JSON.stringify(r.const)}\``;
    if (r.enum) return r.enum.map((e) => `\`${String(e)}\``).join(" \\| ");
    if (r.type === "array") return `list of ${typeOf(r.items)}`;
    if (r.properties || r.allOf) return "object";
    if (r.type === "object") return "map";
    return String(r.type ?? "");
  };
  const rows: string[] = ["| field | type | description |", "|---|---|---|"];
  const walk = (s: S | undefined, prefix: string, depth: number) => {
    const r = res(s);
    if (!r || depth > 8) return;
    for (const [k, v] of Object.entries(r.properties ?? {})) {
      const path = `${prefix}${k}`;
      const d = (res(v)?.description ?? v.description ?? "").replace(/\n/g, " ").replace(/\|/g, "\\|");
      const req = r.required?.includes(k) ? " (required)" : "";
      rows.push(`| \`${path}\` | ${typeOf(v)}${req} | ${d} |`);
      const inner = res(v);
      if (inner?.type === "array") walk(inner.items, `${path}[].`, depth + 1);
      else walk(v, `${path}.`, depth + 1);
    }
    for (const b of r.allOf ?? []) {
      const mode = b.if?.properties?.mode?.const;
      if (mode && b.then) {
        const t = res(b.then);
        rows.push(`| \`${prefix}mode: ${mode}\` | | ${(t?.description ?? "").replace(/\n/g, " ")} |`);
        for (const [k, v] of Object.entries(t?.properties ?? {})) {
          if (k === "mode") continue;
          const path = `${prefix}${k}`;
          const d = (res(v)?.description ?? v.description ?? "").replace(/\n/g, " ").replace(/\|/g, "\\|");
          rows.push(`| \`${path}\` (${mode}) | ${typeOf(v)}${t?.required?.includes(k) ? " (required)" : ""} | ${d} |`);
          walk(v, `${path}.`, depth + 1);
        }
      }
    }
  };
  walk(defs.ClusterFile, "", 0);
  return rows.join("\n");
}

export function withReference(readme: string, schema: { definitions: Record<string, S> }): string {
  return readme.replace(/<!-- reference:start -->[\s\S]*<!-- reference:end -->/, `<!-- reference:start -->\n${reference(schema)}\n<!-- reference:end -->`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const schema = JSON.parse(readFileSync(`${root}cluster.schema.json`, "utf8"));
  writeFileSync(`${root}README.md`, withReference(readFileSync(`${root}README.md`, "utf8"), schema));
}
