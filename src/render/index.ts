/**
 * renderCluster: every file each host needs, plus its install.sh. Pure and deterministic
 * (same cluster + secrets + PKI files -> byte-identical output): no clock, no randomness,
 * files sorted by path.
 */
import type { Cluster, Host } from "../spec/model.ts";
import type { HostRender, RenderedFile, Secrets } from "./types.ts";
import { PATHS } from "./paths.ts";
import { file } from "./file.ts";
import { renderInstallScript } from "./install-script.ts";
import { planFiles, planHost, type Step } from "../plan/host.ts";
import { InternalError } from "../errors.ts";

export interface RenderExtra {
  /** Certificates and keys for a host (from the PKI module), placed like any other file. */
  pkiFiles?: (host: string) => RenderedFile[];
}

/** Every file for one host except install.sh, sorted by path: the files of its plan. */
export function renderHostFiles(c: Cluster, h: Host, secrets: Secrets, extra: RenderExtra = {}): RenderedFile[] {
  return filesOf(h, planHost(c, h, { secrets, ...(extra.pkiFiles ? { pkiFiles: extra.pkiFiles } : {}) }));
}

function filesOf(h: Host, steps: readonly Step[]): RenderedFile[] {
  const files = planFiles(steps);
  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f.path)) throw new InternalError(`two renderers produced ${f.path} for host ${h.name}`);
    seen.add(f.path);
  }
  return files;
}

/** Renders every host of the cluster, in file order: its plan's files and install.sh. */
export function renderCluster(cluster: Cluster, secrets: Secrets, extra: RenderExtra = {}): HostRender[] {
  return cluster.hosts.map((h) => {
    const steps = planHost(cluster, h, { secrets, ...(extra.pkiFiles ? { pkiFiles: extra.pkiFiles } : {}) });
    const files = filesOf(h, steps);
    const installScript = renderInstallScript(cluster, h, steps);
    const all = [...files, file(PATHS.installScript, installScript, { mode: 0o755 })].sort((a, b) =>
      a.path < b.path ? -1 : a.path > b.path ? 1 : 0,
    );
    return { host: h.name, files: all, installScript };
  });
}

export type { HostRender, RenderedFile, Secrets } from "./types.ts";
export { PATHS } from "./paths.ts";
