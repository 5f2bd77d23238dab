import type { Command } from "./main.ts";
import { parseFlags } from "./flags.ts";
import { dataFormat, formatData, OUTPUT_FLAG } from "./output.ts";
import { KubehaError, UsageError } from "../errors.ts";
import { loadCluster } from "../spec/read.ts";
import { ensureState, inspectState, rotateJoin, tokenId, type CertStatus } from "../pki/index.ts";
import { caExpiryWarnings, type RenewSelection } from "../pki/renew.ts";

const HELP = `Usage: kubeha certs <list|check|generate|rotate-join> FILE [flags]
       kubeha certs renew FILE [--all | NAME...] [--threshold-days N] [--dry-run] [-o json]

kubeha owns the cluster's PKI: CAs, the service-account key pair, the certificates it needs
itself (apiserver serving cert, external etcd, kubeconfig clients) and the join material
(bootstrap token, certificate key, CA cert hash). They live in the cluster's state directory
(spec.pki.stateDir, default .kubeha/<name>/ beside FILE), which must be mode 0700.
No private key, token or certificate key is ever printed.

Subcommands:
  list         table of every certificate: subject, SANs, issuer, not-after, days left, status
  check        the same table; exits 1 when any certificate is missing, invalid, or expires
               within --threshold-days; warns (stderr, and "warnings" in -o json) when a CA
               expires within a year: kubeha does not rotate CAs
  generate     create the state directory and issue every missing, changed or expiring
               certificate (apply does this too); existing valid ones are reused
  rotate-join  new bootstrap token and certificate key (apply rotates before each join)
  renew        re-issue certificates and make the cluster load them, one host at a time with
               the API up: by default the leaves expiring within --threshold-days; NAME...
               (table names such as apiserver, admin, etcd-server, or NAME/HOST for one host's)
               or --all (every leaf kubeha owns, plus \`kubeadm certs renew\` on the control
               planes for what kubeadm issued there: apiserver-kubelet-client, front-proxy-client,
               and stacked etcd's). Each host gets its new files, then what reads them restarts:
               etcd (one member at a time, leadership handed over first, waits for health), the
               kube-apiserver static pod (drained in HAProxy on every LB host first, put back
               after its /readyz is 200), controller-manager and scheduler static pods.
               admin.conf needs no restart; the kubelet rotates its own client certificate.
               CAs are never renewed.

Flags:
  --threshold-days N     list/check/renew: days before expiry that count as "expiring" (default 30)
  -o, --output FORMAT    list/check: table (default), json or yaml (certificates, caCertHash);
                         renew: table or json (what was renewed, per host what was restarted)
  --all                  renew: every leaf certificate, whatever its expiry
  --dry-run              renew: show what would be issued, written and restarted; change nothing

Examples:
  kubeha certs generate cluster.yaml
  kubeha certs list cluster.yaml
  kubeha certs list cluster.yaml -o json | jq -r '.certificates[] | select(.daysLeft < 90) | .id'
  kubeha certs check --threshold-days 60 cluster.yaml
  kubeha certs rotate-join cluster.yaml
  kubeha certs renew cluster.yaml --dry-run
  kubeha certs renew cluster.yaml --all
  kubeha certs renew cluster.yaml apiserver/master1 etcd-server -o json`;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ").trimEnd()).join("\n");
}

function certRows(rows: CertStatus[]): string {
  const out = [["CERTIFICATE", "SUBJECT", "SANS", "ISSUER", "NOT AFTER", "DAYS LEFT", "STATUS"]];
  for (const r of rows) {
    const i = r.info;
    const sans = i ? [...i.dns.map((d) => `DNS:${d}`), ...i.ips.map((a) => `IP:${a}`)].join(",") : "";
    out.push([
      r.id,
      i?.subject ?? (r.kind === "key-pair" ? "(key pair)" : "-"),
      sans || "-",
      i?.issuer ?? "-",
      i ? i.notAfter.toISOString().replace(/\.\d+Z$/, "Z") : "-",
      r.daysLeft !== undefined ? String(r.daysLeft) : "-",
      r.status + (r.reason ? `: ${r.reason}` : ""),
    ]);
  }
  return table(out);
}

function thresholdFrom(v: string | undefined): number {
  if (v === undefined) return 30;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--threshold-days must be a whole number of days, got "${v}"`, "e.g. --threshold-days 30");
  return n;
}

export const command: Command = {
  name: "certs",
  help: HELP,
  async run(args) {
    const { values, positionals } = parseFlags("certs", args, {
      "threshold-days": { type: "string" },
      all: { type: "boolean" },
      "dry-run": { type: "boolean" },
      ...OUTPUT_FLAG,
    });
    const [sub, file, ...extra] = positionals;
    const subs = ["list", "check", "generate", "rotate-join", "renew"];
    if (!sub) throw new UsageError(`certs needs a subcommand: ${subs.join(", ")}`, "kubeha certs list cluster.yaml");
    if (!subs.includes(sub)) throw new UsageError(`certs: unknown subcommand "${sub}"; the subcommands are ${subs.join(", ")}`, "kubeha certs list cluster.yaml");
    const format = dataFormat(`certs ${sub}`, values.output, sub === "list" || sub === "check" ? ["table", "json", "yaml"] : sub === "renew" ? ["table", "json"] : ["table"]);
    if ((values.all || values["dry-run"]) && sub !== "renew") throw new UsageError(`--all and --dry-run belong to certs renew, not certs ${sub}`, "kubeha certs renew cluster.yaml --all --dry-run");
    if (sub === "renew") return renew(file, extra, values, format);
    if (!file || extra.length) throw new UsageError(`certs ${sub} takes exactly one cluster file`, `kubeha certs ${sub} cluster.yaml`);
    const out = (s: string) => process.stdout.write(s + "\n");
    const { cluster } = await loadCluster(file, { operate: true });

    if (sub === "list" || sub === "check") {
      const threshold = thresholdFrom(values["threshold-days"]);
      const { rows, caCertHash } = await inspectState(cluster, { thresholdDays: threshold });
      const bad = rows.filter((r) => r.status !== "ok");
      const warnings = sub === "check" ? caExpiryWarnings(rows, new Date()) : [];
      for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
      if (format !== "table") {
        // Data only: the verdict of `check` is its exit code.
        process.stdout.write(await formatData(format === "yaml" ? "yaml" : "json", JSON.parse(JSON.stringify({ certificates: rows, ...(caCertHash ? { caCertHash } : {}), ...(sub === "check" ? { warnings } : {}) }))));
        return sub === "check" && bad.length > 0 ? 1 : 0;
      }
      out(certRows(rows));
      if (caCertHash) out(`\nCA cert hash (discovery-token-ca-cert-hash): ${caCertHash}`);
      if (sub === "check" && bad.length > 0) {
        throw new KubehaError(
          `${bad.length} of ${rows.length} certificates need attention (` +
            bad.slice(0, 5).map((r) => `${r.id}: ${r.status}`).join(", ") +
            (bad.length > 5 ? `, and ${bad.length - 5} more` : "") +
            `); threshold ${threshold} days`,
          "run `kubeha certs generate FILE` to re-issue leaves, then `kubeha apply FILE` to distribute them",
        );
      }
      if (sub === "check") out(`all ${rows.length} certificates valid for more than ${threshold} days`);
      return 0;
    }

    if (sub === "generate") {
      out(`Generating PKI for ${cluster.name} in ${cluster.pki.stateDir} (${cluster.pki.keyAlgorithm})`);
      const state = await ensureState(cluster);
      const r = state.report;
      for (const c of r.certs) out(`  ${c.action.padEnd(7)} ${c.id}${c.reason ? ` (${c.reason})` : ""}`);
      const issued = r.certs.filter((c) => c.action === "issued").length;
      out(`${issued} issued, ${r.certs.length - issued} reused; secrets ${r.secrets}`);
      return 0;
    }

    const state = await rotateJoin(cluster);
    const j = state.secrets.join;
    out(`New bootstrap token ${tokenId(j.token)}.<secret> (TTL ${j.tokenTtlHours}h) and certificate key issued at ${j.issuedAt}`);
    out(`stored in ${state.dir}/secrets.json; apply uses them for the next join`);
    return 0;
  },
};

async function renew(file: string | undefined, names: string[], values: { all?: boolean; "dry-run"?: boolean; "threshold-days"?: string }, format: string): Promise<number> {
  if (!file) throw new UsageError("certs renew takes a cluster file", "kubeha certs renew cluster.yaml --all");
  if (values.all && names.length) throw new UsageError(`certs renew: --all and certificate names (${names.join(" ")}) exclude each other`, "kubeha certs renew cluster.yaml --all");
  if (values["threshold-days"] !== undefined && (values.all || names.length))
    throw new UsageError("certs renew: --threshold-days chooses by expiry; it does not go with --all or names", "kubeha certs renew cluster.yaml --threshold-days 60");
  const selection: RenewSelection = values.all
    ? { mode: "all" }
    : names.length
      ? { mode: "names", names }
      : { mode: "expiring", thresholdDays: thresholdFrom(values["threshold-days"]) };
  const { cluster } = await loadCluster(file, { operate: true });
  const { renewCerts } = await import("../ops/certs-renew.ts");
  const r = await renewCerts(cluster, { selection, dryRun: values["dry-run"] === true, log: (l) => process.stderr.write(l + "\n") });
  if (format === "json") {
    process.stdout.write(await formatData("json", r));
    return 0;
  }
  const out = (s: string) => process.stdout.write(s + "\n");
  const verb = r.dryRun ? "would renew" : "renewed";
  if (!r.renewed.length && !r.kubeadm.length) out(`nothing to renew in cluster ${r.cluster}`);
  for (const c of r.renewed) out(`${verb} ${c.id}: valid until ${c.notAfter} (serial ${c.serial})`);
  if (r.kubeadm.length) out(`${verb} with kubeadm on the control planes: ${r.kubeadm.join(", ")}`);
  for (const h of r.hosts)
    out(`${h.host}: ${h.files.length} files${h.reloads.length ? `; ${h.reloads.join("; ")}` : ""}${h.notes.length ? ` (${h.notes.join("; ")})` : ""}`);
  if (r.dryRun) out("dry run: nothing was changed");
  return 0;
}
