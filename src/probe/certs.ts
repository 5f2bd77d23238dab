/**
 * The certificates actually on each host, for `kubeha status`: which files to read (pure), the
 * shell lines that print them inside the one status round trip, their parser, and the verdict.
 * Only certificate blocks cross the wire: PEM files are filtered to their CERTIFICATE blocks and
 * kubeconfigs to their client-certificate-data, so no key ever leaves a host. Parsing and expiry
 * are computed on the operator machine.
 */
import type { Cluster, Host } from "../spec/model.ts";
import { PATHS } from "../render/paths.ts";
import { externalEtcd, isKubernetesNode, runsEtcd } from "../spec/topology.ts";
import { certFingerprint, certInfo, kubeconfigsFor, type CertStatus } from "../pki/index.ts";

/** One certificate file status reads on a host. */
export interface CertFile {
  /** What it is: `apiserver`, `etcd-server`, `admin.conf`, `kubelet.conf`, ... (unique per host). */
  id: string;
  path: string;
  /** `pem`: the file holds the certificate; `kubeconfig`: its user's client certificate (embedded or referenced). */
  form: "pem" | "kubeconfig";
  /** The state directory's id of the certificate kubeha issues for this file; absent when kubeadm or the kubelet issue it. */
  issued?: string;
  /** Read where it exists, not missed where it does not (super-admin.conf: only where init ran, which the file order cannot tell once the first control plane was replaced). */
  optional?: true;
}

/** A certificate as found on a host (no key material). `status.schema.json` describes it. */
export interface HostCertificate {
  host: string;
  id: string;
  path: string;
  status: "ok" | "expiring" | "expired" | "missing" | "invalid";
  subject?: string;
  /** ISO 8601. */
  notAfter?: string;
  daysLeft?: number;
  /** SHA-256 of the certificate's DER, lowercase hex. */
  sha256?: string;
  /** Whether it is the certificate in kubeha's state directory; absent when kubeha does not issue it. */
  issuedByKubeha?: boolean;
  reason?: string;
}

const DAY_MS = 86_400_000;

/** Where the etcd members' certificates are: kubeha's (external) or kubeadm's (stacked). */
export function etcdPkiDir(c: Cluster): string {
  return externalEtcd(c) ? PATHS.etcdPkiDir : PATHS.stackedEtcdPkiDir;
}

/** Hosts that run an etcd member (external etcd hosts, or control planes for stacked etcd). */
export const runsEtcdMember = runsEtcd;

/** The certificate files `h` should hold, in report order (pure). */
export function hostCertFiles(c: Cluster, h: Host): CertFile[] {
  const out: CertFile[] = [];
  const external = c.etcd.mode === "external";
  const cp = h.roles.includes("control-plane");
  if (cp) {
    out.push({ id: "apiserver", path: PATHS.apiserverCert, form: "pem", issued: `apiserver/${h.name}` });
    out.push({ id: "apiserver-etcd-client", path: PATHS.apiserverEtcdCert, form: "pem", ...(external ? { issued: "apiserver-etcd-client" } : {}) });
  }
  if (runsEtcdMember(c, h)) {
    const dir = etcdPkiDir(c);
    out.push({ id: "etcd-server", path: `${dir}/server.crt`, form: "pem", ...(external ? { issued: `etcd-server/${h.name}` } : {}) });
    out.push({ id: "etcd-peer", path: `${dir}/peer.crt`, form: "pem", ...(external ? { issued: `etcd-peer/${h.name}` } : {}) });
    out.push({ id: "etcd-healthcheck-client", path: `${dir}/healthcheck-client.crt`, form: "pem", ...(external ? { issued: "etcd-healthcheck-client" } : {}) });
  }
  // What kubeha places (kube-proxy.conf and bootstrap-kubelet.conf only in binary mode); super-admin.conf
  // (kubeadm ≥ 1.29) is on the control plane that ran init, which may not be the first one: optional on each.
  for (const k of kubeconfigsFor(c, h.name, true)) {
    const entry = { id: k.path.slice(k.path.lastIndexOf("/") + 1), path: k.path, form: "kubeconfig" as const, issued: k.kind };
    if (k.kind !== "super-admin") out.push(entry);
    else if (c.kubernetes.minor >= 29) out.push({ ...entry, optional: true });
  }
  // The kubelet's own client certificate, rotated by the kubelet (kubelet.conf references it).
  if (isKubernetesNode(h)) out.push({ id: "kubelet.conf", path: PATHS.kubeletConf, form: "kubeconfig" });
  return out;
}

const PEM_ONLY = "sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p'";

/**
 * Shell lines printing `@@certs`: per file `=ID PATH`, then `!missing`, `!nocert`, or its
 * certificate blocks. Read-only; prints certificates only, never keys.
 */
export function certsScript(c: Cluster, h: Host): string[] {
  const lines = ['echo "@@certs"'];
  for (const f of hostCertFiles(c, h)) {
    lines.push(`echo "=${f.id} ${f.path}"`);
    if (f.form === "pem") lines.push(`if [ -f ${f.path} ]; then ${PEM_ONLY} ${f.path}; else echo '!missing'; fi`);
    else
      lines.push(
        `if [ ! -f ${f.path} ]; then echo '!missing'; else ` +
          `d=$(sed -n 's/^ *client-certificate-data: *//p' ${f.path} | head -n 1 | tr -d "\\"' "); ` +
          `r=$(sed -n 's/^ *client-certificate: *//p' ${f.path} | head -n 1 | tr -d "\\"' "); ` +
          `if [ -n "$d" ]; then printf '%s' "$d" | base64 -d 2>/dev/null | ${PEM_ONLY}; ` +
          `elif [ -n "$r" ] && [ -f "$r" ]; then ${PEM_ONLY} "$r"; else echo '!nocert'; fi; fi`,
      );
  }
  return lines;
}

/**
 * What `@@certs` held for one file: its certificate PEM (first block), no file, a kubeconfig that
 * authenticates otherwise (a token: nothing expires), or a file without a certificate.
 */
export type CertReading = { path: string; pem: string } | { path: string; missing: true } | { path: string; noClientCert: true } | { path: string; error: string };

/** Parses the `@@certs` section's lines (pure). */
export function parseCerts(lines: string[]): Map<string, CertReading> {
  const out = new Map<string, CertReading>();
  let cur: { id: string; path: string; pem: string[]; flag?: string } | undefined;
  const flush = () => {
    if (!cur) return;
    const first = cur.pem.join("\n").match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/)?.[0];
    if (cur.flag === "missing") out.set(cur.id, { path: cur.path, missing: true });
    else if (cur.flag === "nocert") out.set(cur.id, { path: cur.path, noClientCert: true });
    else if (first) out.set(cur.id, { path: cur.path, pem: first + "\n" });
    else out.set(cur.id, { path: cur.path, error: "no certificate in the file" });
  };
  for (const l of lines) {
    const head = /^=(\S+) (\S+)$/.exec(l);
    if (head) {
      flush();
      cur = { id: head[1]!, path: head[2]!, pem: [] };
    } else if (cur && l.startsWith("!")) cur.flag = l.slice(1).trim();
    else if (cur) cur.pem.push(l.trim());
  }
  flush();
  return out;
}

/**
 * The host certificates with a verdict each (pure): expired or unreadable ones are problems,
 * expiring ones (fewer than `thresholdDays` left), missing files and certificates that differ
 * from what kubeha issued are warnings; a kubeconfig without a client certificate is neither. `issued` maps state ids to their SHA-256 (from the state directory).
 */
export function evaluateHostCerts(
  c: Cluster,
  h: Host,
  readings: Map<string, CertReading>,
  issued: Map<string, string>,
  now: number,
  thresholdDays: number,
  problems: string[],
  warnings: string[],
): HostCertificate[] {
  const out: HostCertificate[] = [];
  for (const f of hostCertFiles(c, h)) {
    const r = readings.get(f.id);
    if (!r) continue;
    const base = { host: h.name, id: f.id, path: f.path };
    if ("missing" in r) {
      if (f.optional) continue;
      out.push({ ...base, status: "missing" });
      warnings.push(`${h.name}: ${f.path} does not exist`);
      continue;
    }
    if ("noClientCert" in r) {
      // Token or exec credentials: no certificate to expire, nothing to warn about.
      out.push({ ...base, status: "missing", reason: "the kubeconfig authenticates without a client certificate" });
      continue;
    }
    if ("error" in r) {
      out.push({ ...base, status: "invalid", reason: r.error });
      problems.push(`${h.name}: ${f.path}: ${r.error}`);
      continue;
    }
    let row: HostCertificate;
    try {
      const info = certInfo(r.pem);
      const sha256 = certFingerprint(r.pem);
      const left = info.notAfter.getTime() - now;
      const daysLeft = Math.floor(left / DAY_MS);
      const status = left <= 0 ? "expired" : left < thresholdDays * DAY_MS ? "expiring" : "ok";
      const want = f.issued ? issued.get(f.issued) : undefined;
      row = { ...base, status, subject: info.subject, notAfter: info.notAfter.toISOString(), daysLeft, sha256, ...(want ? { issuedByKubeha: want === sha256 } : {}) };
    } catch (err) {
      row = { ...base, status: "invalid", reason: `cannot parse the certificate: ${(err as Error).message}` };
    }
    out.push(row);
    if (row.status === "expired") problems.push(`${h.name}: certificate ${f.id} (${f.path}) expired ${-(row.daysLeft ?? 0)} days ago`);
    else if (row.status === "expiring") warnings.push(`${h.name}: certificate ${f.id} (${f.path}) expires in ${row.daysLeft} days`);
    else if (row.status === "invalid") problems.push(`${h.name}: ${f.path}: ${row.reason}`);
    if (row.issuedByKubeha === false) warnings.push(`${h.name}: ${f.path} is not the certificate kubeha issued (kubeha apply places its own)`);
  }
  return out;
}

/** State id -> SHA-256 of the state directory's certificates. */
export function issuedFingerprints(rows: readonly CertStatus[]): Map<string, string> {
  return new Map(rows.flatMap((r) => (r.sha256 ? [[r.id, r.sha256] as const] : [])));
}
