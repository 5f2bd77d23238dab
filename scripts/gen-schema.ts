/**
 * Generates cluster.schema.json from the TSDoc in src/spec/file.ts (the single source of the
 * cluster file's documentation). `npm run schema` rewrites it; a test fails when it is stale.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createGenerator } from "ts-json-schema-generator";

export function generateSchema(): string {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const schema = createGenerator({
    path: `${root}src/spec/file.ts`,
    tsconfig: `${root}tsconfig.json`,
    type: "ClusterFile",
    additionalProperties: false,
    skipTypeCheck: true,
    sortProps: true,
    topRef: true,
  }).createSchema("ClusterFile");
  schema.$id = "https://kubeha.dev/schemas/cluster.v1alpha1.json";
  schema.title = "kubeha cluster file";
  return JSON.stringify(schema, null, 2) + "\n";
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = fileURLToPath(new URL("../cluster.schema.json", import.meta.url));
  writeFileSync(out, generateSchema());
  process.stdout.write(`wrote ${out}\n`);
}
