/**
 * renderCluster: every file each host needs, plus its install.sh. Pure and deterministic
 * (same cluster + secrets + PKI files -> byte-identical output): no clock, no randomness,
 * files sorted by path.
 */
import type { Cluster, Host } from "../spec/model.ts";
import type { HostRender, RenderedFile, Secrets } from "./types.ts";
import { PATHS } from "./paths.ts";
import { file } from "./file.ts";
import { renderHaproxy } from "./haproxy.ts";
import { renderKeepalived } from "./keepalived.ts";
import { renderKubeadm } from "./kubeadm.ts";
import { renderContainerd } from "./containerd.ts";
import { renderCrio } from "./crio.ts";
import { renderEtcd } from "./etcd.ts";
import { renderSysctl } from "./sysctl.ts";
import { renderPackages } from "./packages.ts";
import { renderHosts } from "./hosts.ts";
import { renderCni } from "./cni.ts";
import { renderKubeVip } from "./kubevip.ts";
import { renderInstallScript } from "./install-script.ts";
import { InternalError } from "../errors.ts";

export interface RenderExtra {
  /** Certificates and keys for a host (from the PKI module), placed like any other file. */
  pkiFiles?: (host: string) => RenderedFile[];
}

/** Every file for one host except install.sh, sorted by path. */
export function renderHostFiles(c: Cluster, h: Host, secrets: Secrets, extra: RenderExtra = {}): RenderedFile[] {
  const pki = (extra.pkiFiles?.(h.name) ?? []).map((f) =>
    // Debian's etcd runs as user etcd: its own keys must be readable by it (still 0600).
    f.path.startsWith(PATHS.etcdPkiDir + "/") && !f.owner ? { ...f, owner: "etcd:etcd" } : f,
  );
  const files = [
    ...renderPackages(c, h),
    ...renderSysctl(c, h),
    ...renderHosts(c, h),
    ...renderContainerd(c, h),
    ...renderCrio(c, h),
    ...renderHaproxy(c, h, secrets),
    ...renderKeepalived(c, h, secrets),
    ...renderEtcd(c, h),
    ...renderKubeVip(c, h),
    ...renderKubeadm(c, h, secrets),
    ...renderCni(c, h),
    ...pki,
  ];
  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f.path)) throw new InternalError(`two renderers produced ${f.path} for host ${h.name}`);
    seen.add(f.path);
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Renders every host of the cluster, in file order. */
export function renderCluster(cluster: Cluster, secrets: Secrets, extra: RenderExtra = {}): HostRender[] {
  return cluster.hosts.map((h) => {
    const files = renderHostFiles(cluster, h, secrets, extra);
    const installScript = renderInstallScript(cluster, h, files);
    const all = [...files, file(PATHS.installScript, installScript, { mode: 0o755 })].sort((a, b) =>
      a.path < b.path ? -1 : a.path > b.path ? 1 : 0,
    );
    return { host: h.name, files: all, installScript };
  });
}

export type { HostRender, RenderedFile, Secrets } from "./types.ts";
export { PATHS } from "./paths.ts";
