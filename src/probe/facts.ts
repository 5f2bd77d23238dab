/**
 * Facts about one host, gathered in ONE round trip by a read-only shell script, and parsed by a
 * pure function. apply decides what to do from these facts (never from a local log), and status
 * reports them.
 */
import type { Cluster, Host } from "../spec/model.ts";
import { PATHS } from "../render/paths.ts";
import { COMPONENTS } from "../spec/flag-tables.ts";
import { debianPackages } from "../render/packages.ts";

export interface Facts {
  os: { id: string; versionId: string };
  arch: string;
  hostname: string;
  machineId: string;
  /** IPv4 addresses by interface, with prefix: `198.18.0.11/24`. */
  addresses: Record<string, string[]>;
  swapOn: boolean;
  /** Listening TCP ports -> process name ("" when unknown). */
  listening: Map<number, string>;
  /** Host clock, seconds since the epoch. */
  time: number;
  /** Which of GUARDED_FILES exist and are not empty (what the plan's `exists` checks ask). */
  existing: Set<string>;
  /** Which of kubeha's marker files exist. */
  has: {
    adminConf: boolean;
    kubeletConf: boolean;
    etcdData: boolean;
    apiserverCert: boolean;
    /** kubeha's kubeadm init configuration: written only on the control plane the cluster-wide work runs on. */
    kubeadmInit: boolean;
  };
  /** Installed Debian packages -> version. */
  packages: Map<string, string>;
  /** systemd unit -> active state (`active`, `inactive`, `failed`, ...). */
  units: Map<string, string>;
  /** Kernel features kube networking needs (built in or loaded). */
  modules: { overlay: boolean; brNetfilter: boolean };
  ipForward: boolean;
  /** HTTP status of this host's own apiserver /readyz (0 = no answer). */
  apiserverReady: number;
  /**
   * The first-start settings in the etcd environment file now (quotes removed), when present.
   * They only matter before a member has data, so apply keeps them afterwards instead of
   * re-rendering (a member joined with `member add` got its own list).
   */
  etcdInitial: { state?: string; cluster?: string };
}

/**
 * Files whose existence decides whether a step of a host's plan still has work (src/plan/host.ts
 * `Check`): asked in the facts round trip. A test checks every plan's checks are covered.
 */
export const GUARDED_FILES = [PATHS.adminConf, PATHS.kubeletConf, PATHS.kubernetesKeyring, PATHS.crioKeyring] as const;

/** Units whose state the facts report (`ensure` starts the inactive ones): every unit a host plan ensures. */
export const WATCHED_UNITS = ["haproxy", "keepalived", "etcd", "containerd", "crio", ...COMPONENTS] as const;
export const WATCHED_PACKAGES = ["haproxy", "keepalived", "etcd-server", "etcd-client", "containerd", "cri-o", "kubeadm", "kubelet", "kubectl", "curl", "ca-certificates", "gnupg"] as const;

/** The read-only script; prints `@@section` headers followed by raw lines. */
export function factsScript(c: Cluster, h: Host): string {
  const pkgs = [...new Set([...WATCHED_PACKAGES, ...debianPackages(c, h)])].sort();
  const markers = [PATHS.adminConf, PATHS.kubeletConf, `${c.etcd.dataDir}/member`, "/etc/kubernetes/pki/apiserver.crt", PATHS.kubeadmInit];
  return [
    "export LC_ALL=C",
    'echo "@@os"; ( . /etc/os-release && echo "$ID $VERSION_ID" )',
    'echo "@@arch"; uname -m',
    'echo "@@hostname"; hostname',
    'echo "@@machineid"; cat /etc/machine-id 2>/dev/null',
    'echo "@@addr"; ip -o -4 addr show 2>/dev/null',
    'echo "@@swap"; tail -n +2 /proc/swaps 2>/dev/null',
    'echo "@@listen"; ss -Hltnp 2>/dev/null || ss -Hltn 2>/dev/null',
    'echo "@@time"; date +%s.%N',
    `echo "@@files"; for f in ${markers.join(" ")}; do [ -e "$f" ] && echo "$f"; done; true`,
    `echo "@@exists"; for f in ${GUARDED_FILES.join(" ")}; do [ -s "$f" ] && echo "$f"; done; true`,
    `echo "@@pkgs"; dpkg-query -W -f='\${Package} \${Version} \${db:Status-Abbrev}\\n' ${pkgs.join(" ")} 2>/dev/null; true`,
    `echo "@@units"; for u in ${WATCHED_UNITS.join(" ")}; do echo "$u $(systemctl is-active "$u" 2>/dev/null)"; done`,
    'echo "@@modules"; for m in overlay br_netfilter; do [ -d "/sys/module/$m" ] && echo "$m"; done; [ -d /proc/sys/net/bridge ] && echo br_netfilter; true',
    'echo "@@ipforward"; cat /proc/sys/net/ipv4/ip_forward',
    `echo "@@apiserver"; curl -sk -m 2 -o /dev/null -w '%{http_code}' https://${h.internalAddress}:${c.kubernetes.apiServerPort}/readyz 2>/dev/null; echo`,
    `echo "@@etcdenv"; grep -E '^ETCD_INITIAL_CLUSTER(_STATE)?=' ${PATHS.etcdDefaults} 2>/dev/null; true`,
    'echo "@@end"',
  ].join("\n");
}

/** Splits a probe script's output into its `@@name` sections (blank lines dropped). */
export function sections(out: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (const line of out.split("\n")) {
    const h = /^@@(\w+)$/.exec(line);
    if (h) m.set(h[1]!, (cur = []));
    else if (cur && line.trim()) cur.push(line);
  }
  return m;
}

/** Parses the script's output (pure). Throws when the output is truncated. */
export function parseFacts(c: Cluster, out: string): Facts {
  const s = sections(out);
  if (!s.has("end")) throw new Error("facts output is incomplete (the script did not finish)");
  const get = (k: string) => s.get(k) ?? [];
  const [id = "", versionId = ""] = (get("os")[0] ?? "").split(" ");
  const addresses: Record<string, string[]> = {};
  for (const l of get("addr")) {
    const m = /^\d+:\s+(\S+)\s+inet\s+(\S+)/.exec(l);
    if (m) (addresses[m[1]!.replace(/@.*$/, "")] ??= []).push(m[2]!);
  }
  const listening = new Map<number, string>();
  for (const l of get("listen")) {
    const cols = l.trim().split(/\s+/);
    const local = cols[3] ?? "";
    const port = Number(local.slice(local.lastIndexOf(":") + 1));
    const proc = /users:\(\("([^"]+)"/.exec(l)?.[1] ?? "";
    if (port && !listening.has(port)) listening.set(port, proc);
  }
  const files = new Set(get("files"));
  const packages = new Map<string, string>();
  for (const l of get("pkgs")) {
    const [name, version, status] = l.split(" ");
    if (name && version && status?.startsWith("ii")) packages.set(name, version);
  }
  const units = new Map<string, string>();
  for (const l of get("units")) {
    const [u, state] = l.split(" ");
    if (u) units.set(u, state || "unknown");
  }
  const mods = new Set(get("modules"));
  const etcdInitial: Facts["etcdInitial"] = {};
  for (const l of get("etcdenv")) {
    const m = /^ETCD_INITIAL_CLUSTER(_STATE)?=(.*)$/.exec(l.trim());
    if (!m) continue;
    const v = m[2]!.replace(/^(["'])(.*)\1$/, "$2");
    if (m[1]) etcdInitial.state = v;
    else etcdInitial.cluster = v;
  }
  return {
    os: { id, versionId },
    arch: get("arch")[0] ?? "",
    hostname: get("hostname")[0] ?? "",
    machineId: get("machineid")[0] ?? "",
    addresses,
    swapOn: get("swap").length > 0,
    listening,
    time: Number(get("time")[0] ?? 0),
    existing: new Set(get("exists")),
    has: {
      adminConf: files.has(PATHS.adminConf),
      kubeletConf: files.has(PATHS.kubeletConf),
      etcdData: files.has(`${c.etcd.dataDir}/member`),
      apiserverCert: files.has("/etc/kubernetes/pki/apiserver.crt"),
      kubeadmInit: files.has(PATHS.kubeadmInit),
    },
    packages,
    units,
    modules: { overlay: mods.has("overlay"), brNetfilter: mods.has("br_netfilter") },
    ipForward: (get("ipforward")[0] ?? "0").trim() === "1",
    apiserverReady: Number(get("apiserver")[0] ?? 0) || 0,
    etcdInitial,
  };
}

/** The interface holding `ip`, if any. */
export function interfaceWith(f: Facts, ip: string): string | undefined {
  return Object.entries(f.addresses).find(([, as]) => as.some((a) => a.split("/")[0] === ip))?.[0];
}
