import type { Command } from "./main.ts";
import { parseFlags } from "./flags.ts";
import { dataFormat, formatData, OUTPUT_FLAG } from "./output.ts";
import { UsageError, formatProblem } from "../errors.ts";
import { loadCluster } from "../spec/read.ts";
import { joinCommand, parseTtl, CERTIFICATE_KEY_TTL_SECONDS } from "../ops/join-command.ts";

const HELP = `Usage: kubeha join-command FILE [--control-plane] [--ttl 2h] [-o json]

Prints a working \`kubeadm join\` line for a machine kubeha does not manage: a fresh bootstrap
token with the given TTL, created on a control plane that answers, and the CA pin
(--discovery-token-ca-cert-hash) from kubeha's state directory. With --control-plane the shared
control-plane certificates are uploaded again (\`kubeadm init phase upload-certs\` on the first
control plane) under a fresh certificate key, which the line carries; kubeadm deletes them after
2 h. Hosts in the cluster file do not need this: \`kubeha apply\` joins them.

The line is a secret (anyone holding it can join a machine): it goes to stdout only, nothing is
logged or stored; stderr says until when it works. Revoke it early with
\`kubeadm token delete <id>\` on a control plane (the id is printed on stderr).

Flags:
  --control-plane      the line joins a control plane (adds --control-plane --certificate-key)
  --ttl DURATION       the token's lifetime, kubeadm's format: 2h (default), 30m, 90s
  -o, --output FORMAT  table (default: the line alone) or json (command, tokenId, tokenExpires,
                       certificateKeyExpires, caCertHash, endpoint, createdOn)

Examples:
  kubeha join-command cluster.yaml
  kubeha join-command cluster.yaml --control-plane --ttl 1h
  ssh root@new-worker "$(kubeha join-command cluster.yaml --ttl 15m)"
  kubeha join-command cluster.yaml -o json | jq -r .tokenExpires`;

export const command: Command = {
  name: "join-command",
  help: HELP,
  async run(args) {
    const { values, positionals } = parseFlags("join-command", args, { "control-plane": { type: "boolean" }, ttl: { type: "string" }, ...OUTPUT_FLAG });
    const [file, ...extra] = positionals;
    if (!file || extra.length) throw new UsageError("join-command takes exactly one cluster file", "kubeha join-command cluster.yaml");
    const format = dataFormat("join-command", values.output, ["table", "json"]);
    const ttlSeconds = parseTtl(values.ttl ?? "2h");
    const { cluster, warnings } = await loadCluster(file, { operate: true });
    for (const w of warnings) process.stderr.write(formatProblem(file, w) + "\n");
    const j = await joinCommand(cluster, { controlPlane: values["control-plane"] ?? false, ttlSeconds });
    process.stdout.write(format === "json" ? await formatData("json", j) : j.command + "\n");
    const err = (s: string) => process.stderr.write(s + "\n");
    err(`The join line on stdout is a secret: anyone holding it can join a machine to ${cluster.name}. Do not paste it into logs or tickets.`);
    err(`Bootstrap token ${j.tokenId}.<secret> (created on ${j.createdOn}) is valid until ${j.tokenExpires} (ttl ${values.ttl ?? "2h"}); revoke it early with \`kubeadm token delete ${j.tokenId}\`.`);
    if (j.certificateKeyExpires)
      err(`The certificates for control-plane joins were uploaded again; the certificate key works until ${j.certificateKeyExpires} (${CERTIFICATE_KEY_TTL_SECONDS / 3600} h, kubeadm deletes them then).`);
    return 0;
  },
};
