/**
 * Which certificates `kubeha certs renew` re-issues (pure): kubeha's own leaves from the state
 * directory, chosen by expiry, by name or all of them, and the certificates kubeadm issued on the
 * control planes itself, which only `kubeadm certs renew` on each host can renew (kubeha holds no
 * copy of them). Also the CA expiry warning of `certs check`: CAs are never renewed here.
 */
import type { Cluster } from "../spec/model.ts";
import { externalEtcd } from "../spec/topology.ts";
import { UsageError } from "../errors.ts";
import { instances } from "./table.ts";
import type { CertStatus } from "./state.ts";

const DAY_MS = 86_400_000;

/** How far ahead `certs check` warns about a CA's expiry: a CA rotation takes planning. */
export const CA_WARNING_DAYS = 365;

/**
 * The certificates kubeadm issues on a control plane from kubeha's CAs (kubeha places only the
 * CAs, the apiserver serving certificate, the kubeconfigs and, for external etcd, the etcd files).
 * Names as `kubeadm certs renew` spells them.
 */
export function kubeadmOwned(c: Cluster): string[] {
  const always = ["apiserver-kubelet-client", "front-proxy-client"];
  return externalEtcd(c) ? always : [...always, "apiserver-etcd-client", "etcd-healthcheck-client", "etcd-peer", "etcd-server"];
}

export type RenewSelection =
  /** Every leaf kubeha owns, and every kubeadm-owned certificate on the control planes. */
  | { mode: "all" }
  /** kubeha's leaves with fewer than `thresholdDays` left (or missing, or no longer matching the cluster file). */
  | { mode: "expiring"; thresholdDays: number }
  /** Table names (`apiserver`: every host's), ids (`apiserver/master1`) or kubeadm-owned names. */
  | { mode: "names"; names: string[] };

export interface RenewChoice {
  /** State directory ids of the leaves to re-issue now, in table order. */
  kubeha: string[];
  /** Names for `kubeadm certs renew NAME` on every control plane, in kubeadm's order. */
  kubeadm: string[];
}

/**
 * What a renewal covers (pure). `rows` is `inspectState`'s view with the same threshold. Names
 * that are not certificates of this cluster, CAs and the service-account key pair are refused
 * (a UsageError listing what can be renewed).
 */
export function chooseRenewal(c: Cluster, rows: readonly CertStatus[], sel: RenewSelection): RenewChoice {
  const leaves = instances(c).filter((i) => i.spec.kind === "leaf");
  const owned = kubeadmOwned(c);
  if (sel.mode === "all") return { kubeha: leaves.map((i) => i.id), kubeadm: owned };
  if (sel.mode === "expiring") {
    const due = new Set(rows.filter((r) => r.kind === "leaf" && r.status !== "ok").map((r) => r.id));
    return { kubeha: leaves.filter((i) => due.has(i.id)).map((i) => i.id), kubeadm: [] };
  }
  const kubeha = new Set<string>();
  const kubeadm = new Set<string>();
  for (const name of sel.names) {
    const hits = leaves.filter((i) => i.id === name || i.spec.name === name);
    if (hits.length) hits.forEach((i) => kubeha.add(i.id));
    else if (owned.includes(name)) kubeadm.add(name);
    else {
      const other = instances(c).find((i) => i.id === name || i.spec.name === name);
      const names = [...new Set(leaves.map((i) => i.spec.name)), ...owned].join(", ");
      throw new UsageError(
        other
          ? `${name} is ${other.spec.kind === "ca" ? "a CA" : "the service-account key pair"}: kubeha does not rotate it (CA rotation is out of scope)`
          : `${name} is not a certificate of cluster ${c.name}`,
        `certificates that can be renewed: ${names} (or NAME/HOST for one host's, or --all)`,
      );
    }
  }
  return { kubeha: leaves.filter((i) => kubeha.has(i.id)).map((i) => i.id), kubeadm: owned.filter((n) => kubeadm.has(n)) };
}

/**
 * One warning per CA that expires within `CA_WARNING_DAYS` (pure). kubeha does not rotate CAs, and
 * every leaf it issues ends no later than its CA, so this is the operator's notice to plan one.
 */
export function caExpiryWarnings(rows: readonly CertStatus[], now: Date): string[] {
  const out: string[] = [];
  for (const r of rows) {
    if (r.kind !== "ca" || !r.info) continue;
    const left = r.info.notAfter.getTime() - now.getTime();
    if (left >= CA_WARNING_DAYS * DAY_MS) continue;
    const when = r.info.notAfter.toISOString().slice(0, 10);
    out.push(
      left <= 0
        ? `CA ${r.id} expired on ${when}: every certificate it signed is invalid; kubeha does not rotate CAs (out of scope)`
        : `CA ${r.id} expires in ${Math.floor(left / DAY_MS)} days (${when}): kubeha does not rotate CAs (out of scope), ` +
          "and certificates it renews cannot outlive their CA; plan a CA rotation before then",
    );
  }
  return out;
}
