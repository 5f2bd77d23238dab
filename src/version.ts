/** kubeha's version and package facts, read from package.json at run time (one place). */
import { readFileSync } from "node:fs";

interface PackageJson {
  name: string;
  version: string;
  engines?: { node?: string };
  homepage?: string;
}

let pkg: PackageJson | undefined;

/** package.json of this kubeha (two levels up from src/ in a checkout, from dist/ when installed). */
export function packageInfo(): PackageJson {
  pkg ??= JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as PackageJson;
  return pkg;
}

/** kubeha's version, e.g. `0.1.0`. */
export function version(): string {
  return packageInfo().version;
}
