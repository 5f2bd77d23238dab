/**
 * Preflight (pure): checks the gathered facts against the cluster before anything changes.
 * Each check yields a row; any `fail` stops apply before its first change.
 */
import type { Facts } from "../probe/facts.ts";
import { interfaceWith } from "../probe/facts.ts";
import type { Cluster } from "../spec/model.ts";
import { cidrContains, parseCidr } from "../util/net.ts";
import type { ListenPort } from "../spec/topology.ts";
import { hasVip, holdsVip, listenPorts, usesKeepalived, vipPrefix } from "../spec/topology.ts";

export interface PreflightRow {
  host: string;
  check: string;
  result: "pass" | "warn" | "fail";
  detail: string;
}

/** Ports of Kubernetes components: once kubeadm has run on a host they belong to the cluster, whatever the process is called. */
const KUBERNETES_COMPONENTS: ReadonlySet<ListenPort["component"]> = new Set(["apiserver", "controller-manager", "scheduler", "kubelet", "stacked-etcd"]);

/** Seconds of clock difference tolerated (etcd and TLS start to misbehave beyond a few seconds). */
export const MAX_SKEW_SECONDS = 5;

export function preflight(c: Cluster, facts: Map<string, Facts>, operatorTime: number): PreflightRow[] {
  const rows: PreflightRow[] = [];
  const row = (host: string, check: string, result: PreflightRow["result"], detail: string) => rows.push({ host, check, result, detail });
  const machineIds = new Map<string, string>();
  const vipHolders: string[] = [];

  for (const h of c.hosts) {
    const f = facts.get(h.name);
    if (!f) continue;
    const supported = ["debian", "ubuntu"].includes(f.os.id);
    row(h.name, "os", supported ? "pass" : "fail", supported ? `${f.os.id} ${f.os.versionId} ${f.arch}` : `${f.os.id || "unknown"} ${f.os.versionId} is not supported yet (Debian and Ubuntu are)`);

    const other = machineIds.get(f.machineId);
    if (!f.machineId) row(h.name, "machine-id", "fail", "/etc/machine-id is empty: run `systemd-machine-id-setup` on the host");
    else if (other) row(h.name, "machine-id", "fail", `same /etc/machine-id as ${other} (cloned image): run \`rm /etc/machine-id && systemd-machine-id-setup\``);
    else {
      machineIds.set(f.machineId, h.name);
      row(h.name, "machine-id", "pass", "unique");
    }

    const owner = interfaceWith(f, h.internalAddress);
    row(h.name, "address", owner ? "pass" : "fail", owner ? `${h.internalAddress} on ${owner}` : `${h.internalAddress} is not configured on any interface (is internalAddress right?)`);

    if (hasVip(c) && holdsVip(c, h)) {
      const addrs = f.addresses[h.interface];
      if (!addrs) row(h.name, "interface", "fail", `interface ${h.interface} does not exist (has: ${Object.keys(f.addresses).join(", ")}); set hosts[].interface`);
      else {
        const subnet = parseCidr(`${c.endpoint.address}/${vipPrefix(c)}`);
        const onLink = addrs.some((a) => {
          const net = parseCidr(a);
          return net ? cidrContains(net, c.endpoint.address) : false;
        }) || (subnet ? addrs.some((a) => cidrContains(subnet, a.split("/")[0]!)) : false);
        row(h.name, "interface", onLink ? "pass" : "fail", onLink ? `${h.interface} (${addrs.join(", ")}) is on the VIP's subnet` : `the VIP ${c.endpoint.address} is not on the subnet of ${h.interface} (${addrs.join(", ")})`);
      }
      if (interfaceWith(f, c.endpoint.address)) vipHolders.push(h.name);
    }

    // kubelet.conf, not admin.conf: kubeha places its own admin.conf before init.
    const joined = f.has.kubeletConf;
    const busy = listenPorts(c, h).filter((p) => {
      const proc = f.listening.get(p.port);
      if (proc === undefined || p.ours.some((o) => proc.startsWith(o))) return false;
      return !(joined && KUBERNETES_COMPONENTS.has(p.component));
    });
    row(h.name, "ports", busy.length ? "fail" : "pass", busy.length ? busy.map((p) => `${p.port} (${p.what}) is held by ${f.listening.get(p.port) || "another process"}`).join("; ") : `free or ours: ${listenPorts(c, h).map((p) => p.port).join(", ") || "none needed"}`);

    const skew = Math.abs(f.time - operatorTime);
    row(h.name, "clock", skew > MAX_SKEW_SECONDS ? "fail" : "pass", `${skew.toFixed(1)} s from this machine${skew > MAX_SKEW_SECONDS ? ": enable NTP (timedatectl set-ntp true)" : ""}`);

    if (f.swapOn && (h.roles.includes("control-plane") || h.roles.includes("worker")))
      row(h.name, "swap", "warn", "swap is on: apply turns it off now and in /etc/fstab (kubelet refuses to run with swap)");
  }

  if (usesKeepalived(c) && vipHolders.length > 1)
    rows.push({ host: vipHolders.join(","), check: "vip", result: "fail", detail: `the VIP ${c.endpoint.address} is on ${vipHolders.length} hosts at once (split brain): check VRRP traffic between them` });
  return rows;
}

export function preflightTable(rows: PreflightRow[]): string {
  const w = (k: keyof PreflightRow) => Math.max(k.length, ...rows.map((r) => r[k].length));
  const line = (r: Record<keyof PreflightRow, string>) => `${r.host.padEnd(w("host"))}  ${r.check.padEnd(w("check"))}  ${r.result.padEnd(6)}  ${r.detail}`;
  return [line({ host: "HOST", check: "CHECK", result: "RESULT", detail: "DETAIL" }), ...rows.map(line)].join("\n");
}
