/**
 * Package sources and the package set of each host. Kubernetes comes from pkgs.k8s.io (one
 * repository per minor; the legacy apt.kubernetes.io is gone since 2024) or a mirror with the
 * same layout, pinned to the cluster's exact version; or, with `packages.source: bundle`, from
 * an offline bundle (no repository file at all). Everything else comes from Debian.
 */
import type { Cluster, Host } from "../spec/model.ts";
import type { RenderedFile } from "./types.ts";
import { PATHS } from "./paths.ts";
import { file, header } from "./file.ts";
import { InternalError } from "../errors.ts";
import { isKubernetesNode, runsExternalEtcd, runsHaproxy, runsKeepalived, runsStackedEtcd } from "../spec/topology.ts";

/**
 * The shell command that adds `words` (shell words naming packages: `'etcd-server' 'haproxy'`, or
 * `"${missing[@]}"` in install.sh) to the host's record of the packages kubeha installed
 * (PATHS.installedPackages), sorted and unique. Apply and install.sh both run it after their
 * install, so `reset --purge-packages` never purges a package that was there before kubeha.
 */
export function recordInstalledCommand(words: string): string {
  const rec = PATHS.installedPackages;
  return `mkdir -p ${rec.slice(0, rec.lastIndexOf("/"))} && printf '%s\\n' ${words} >> ${rec} && sort -u -o ${rec} ${rec}`;
}

/** Kubernetes packages kubeha installs and holds on every node. */
export const KUBERNETES_PACKAGES = ["kubelet", "kubeadm", "kubectl"] as const;

/**
 * CRI-O's own repositories on the openSUSE build service, one per minor (`.../v1.34/deb/`, key
 * `Release.key` beside it). pkgs.k8s.io's `addons:/cri-o` stopped receiving releases in 2025
 * (cri-o/cri-o#9111; `v1.34` there answers 403, cri-o/packaging#288).
 */
export const CRIO_UPSTREAM = "https://download.opensuse.org/repositories/isv:/cri-o:/stable:";

/**
 * The CRI-O repository of the same minor as Kubernetes: CRI-O's own for upstream packages; for a
 * mirror of pkgs.k8s.io, its `addons/cri-o` tree (mirrors keep the old layout). Undefined when
 * the layout is not recognized: CRI-O then comes from Debian.
 */
export function crioRepository(c: Cluster): string | undefined {
  if (c.packages.source === "bundle") return undefined;
  if (c.packages.source === "upstream") return `${CRIO_UPSTREAM}/v1.${c.kubernetes.minor}/deb/`;
  const base = c.packages.repositoryBase;
  if (base.includes("/core:/stable:/")) return base.replace("/core:/stable:/", "/addons:/cri-o:/stable:/");
  if (base.includes("/core/stable/")) return base.replace("/core/stable/", "/addons/cri-o/stable/");
  return undefined;
}

/** Debian packages this host needs, sorted (the install script and `kubeha apply` share this list). */
export function debianPackages(c: Cluster, h: Host): string[] {
  const p = new Set<string>(["ca-certificates", "curl"]);
  if (runsHaproxy(c, h)) {
    p.add("haproxy");
    p.add("socat"); // HAProxy's runtime socket: apply's verify and status read backend states through it
  }
  if (runsKeepalived(c, h)) p.add("keepalived");
  if (runsExternalEtcd(c, h)) {
    p.add("etcd-server");
    p.add("etcd-client");
  }
  // Stacked etcd runs in kubeadm's static pod, but status, `etcd snapshot|restore`, certificate
  // renewal and member removal run etcdctl on the control planes: the client only, never the server.
  if (runsStackedEtcd(c, h)) p.add("etcd-client");
  if (isKubernetesNode(h)) {
    p.add(c.kubernetes.containerRuntime === "cri-o" ? "cri-o" : "containerd");
    if (c.packages.source !== "bundle") {
      p.add("gpg");
      for (const k of KUBERNETES_PACKAGES) p.add(k);
    }
    // kubeadm preflight wants these on the PATH.
    for (const k of ["conntrack", "iptables", "socat", "ethtool"]) p.add(k);
  }
  return [...p].sort();
}

/**
 * The command whose presence shows each package is installed, on a host whose packages come with
 * its image (Ignition: Fedora CoreOS, Flatcar, ALT Container OS) where there is no dpkg to ask.
 */
const PACKAGE_COMMAND: Record<string, string> = {
  curl: "curl",
  haproxy: "haproxy",
  socat: "socat",
  keepalived: "keepalived",
  "etcd-server": "etcd",
  "etcd-client": "etcdctl",
  containerd: "containerd",
  "cri-o": "crio",
  conntrack: "conntrack",
  iptables: "iptables",
  ethtool: "ethtool",
  kubelet: "kubelet",
  kubeadm: "kubeadm",
  kubectl: "kubectl",
};

/**
 * Packages only apt itself needs (HTTPS to the repositories, their signing keys): a host whose
 * packages come with its image fetches no repository key.
 */
const APT_ONLY = new Set(["ca-certificates", "gpg"]);

/**
 * What the image must carry for this host, when its packages come with the image: the same set
 * as `debianPackages` (one list), without apt's own needs, each with the command that proves it.
 */
export function imagePackages(c: Cluster, h: Host): { pkg: string; command: string }[] {
  return debianPackages(c, h)
    .filter((p) => !APT_ONLY.has(p))
    .map((pkg) => {
      const command = PACKAGE_COMMAND[pkg];
      if (!command) throw new InternalError(`no command known to prove package ${pkg} is in an image (render/packages.ts PACKAGE_COMMAND)`);
      return { pkg, command };
    });
}

export function renderPackages(c: Cluster, h: Host): RenderedFile[] {
  const out: RenderedFile[] = [];
  if (c.packages.proxy) {
    out.push(
      file(
        PATHS.aptProxy,
        header("//", "Package downloads go through the cluster's proxy.") +
          `Acquire::http::Proxy "${c.packages.proxy}";\nAcquire::https::Proxy "${c.packages.proxy}";`,
      ),
    );
  }
  if (!isKubernetesNode(h) || c.packages.source === "bundle") return out;
  out.push(
    file(
      PATHS.kubernetesAptSource,
      header("#", `Kubernetes v1.${c.kubernetes.minor} packages (one repository per minor).`) +
        `deb [signed-by=${PATHS.kubernetesKeyring}] ${c.packages.repositoryBase} /`,
    ),
    file(
      PATHS.kubernetesAptPin,
      header("#", `Install exactly Kubernetes ${c.kubernetes.version}; upgrades go through kubeha.`) +
        `Package: ${KUBERNETES_PACKAGES.join(" ")}\nPin: version ${c.kubernetes.version}-*\nPin-Priority: 1001`,
    ),
  );
  const crio = c.kubernetes.containerRuntime === "cri-o" ? crioRepository(c) : undefined;
  if (crio) {
    out.push(
      file(PATHS.crioAptSource, header("#", `CRI-O v1.${c.kubernetes.minor} packages.`) + `deb [signed-by=${PATHS.crioKeyring}] ${crio} /`),
    );
  }
  return out;
}
