/**
 * `kubeha join-command`: a `kubeadm join` line for a machine kubeha does not manage. A fresh
 * bootstrap token with the asked TTL is created on a control plane that answers (the first one
 * first), the CA pin comes from kubeha's state directory, and for a control plane the shared
 * certificates are uploaded again under a fresh certificate key (kubeadm keeps them 2 h).
 * The line is a secret: it is returned to the caller, never logged; every command that carries it
 * runs with its secrets redacted.
 */
import type { Cluster, Host } from "../spec/model.ts";
import { endpointHostPort, firstControlPlane } from "../spec/model.ts";
import { controlPlanes } from "../spec/topology.ts";
import { ConnectionPool } from "../exec/pool.ts";
import { inspectState, newBootstrapToken, newCertificateKey, tokenId } from "../pki/index.ts";
import { PATHS } from "../render/paths.ts";
import { KubehaError, UsageError } from "../errors.ts";
import { shq } from "../util/shell.ts";

/** How long kubeadm keeps the uploaded certificates (the kubeadm-certs Secret's TTL). */
export const CERTIFICATE_KEY_TTL_SECONDS = 2 * 3600;

export interface JoinCommandOptions {
  controlPlane?: boolean;
  /** The bootstrap token's lifetime in seconds (kubeadm's --ttl). */
  ttlSeconds: number;
  /** Replaces SSH (tests). */
  pool?: ConnectionPool;
  now?: Date;
}

export interface JoinCommand {
  /** The whole `kubeadm join ...` line. Secret. */
  command: string;
  controlPlane: boolean;
  endpoint: string;
  /** The token's public id (safe to show; `kubeadm token list` shows it). */
  tokenId: string;
  /** When the bootstrap token stops working (operator clock, ISO 8601). */
  tokenExpires: string;
  /** When the uploaded certificates are gone (control-plane joins only). */
  certificateKeyExpires?: string;
  caCertHash: string;
  /** The control plane the token was created on. */
  createdOn: string;
}

/** A Go duration as kubeadm's --ttl takes it ("2h", "1h30m", "90s"), in whole seconds; at least 1 s. */
export function parseTtl(text: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  const seconds = m && text ? Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0) : NaN;
  if (!(seconds >= 1)) throw new UsageError(`--ttl must be a duration like 2h, 30m or 90s (at least 1s), got "${text}"`, "a join line that never expires is not offered: pick a TTL");
  return seconds;
}

/** The join line, flags in kubeadm's order of `kubeadm token create --print-join-command`. */
export function joinLine(endpoint: string, token: string, caCertHash: string, certificateKey?: string): string {
  const base = `kubeadm join ${endpoint} --token ${token} --discovery-token-ca-cert-hash ${caCertHash}`;
  return certificateKey ? `${base} --control-plane --certificate-key ${certificateKey}` : base;
}

/** Control planes to ask, the first one first (the one whose init configuration upload-certs reads). */
function candidates(c: Cluster, controlPlane: boolean): Host[] {
  const first = firstControlPlane(c);
  return controlPlane ? [first] : [first, ...controlPlanes(c).filter((h) => h.name !== first.name)];
}

export async function joinCommand(c: Cluster, opts: JoinCommandOptions): Promise<JoinCommand> {
  const controlPlane = opts.controlPlane ?? false;
  const { caCertHash } = await inspectState(c);
  if (!caCertHash) throw new KubehaError(`the state directory ${c.pki.stateDir} holds no cluster CA`, "run `kubeha apply FILE` first: join-command works for a cluster kubeha brought up");
  const token = newBootstrapToken();
  const certificateKey = controlPlane ? newCertificateKey() : undefined;
  const secrets = [token, ...(certificateKey ? [certificateKey] : [])];
  const kc = `--kubeconfig ${PATHS.adminConf}`;
  const pool = opts.pool ?? new ConnectionPool({ connectAttempts: 1, connectTimeoutMs: 5000 });
  const failures: string[] = [];
  try {
    for (const h of candidates(c, controlPlane)) {
      const now = opts.now ?? new Date();
      try {
        const t = await pool.get(h);
        await t.mustRun(`kubeadm token create ${token} --ttl ${opts.ttlSeconds}s --description ${shq("kubeha join-command")} ${kc} >/dev/null`, {
          sudo: true,
          secrets,
          timeoutMs: 60_000,
        });
        if (certificateKey)
          await t.mustRun(`kubeadm init phase upload-certs --upload-certs --config ${PATHS.kubeadmInit} --certificate-key ${certificateKey} --skip-certificate-key-print >/dev/null`, {
            sudo: true,
            secrets,
            timeoutMs: 120_000,
          });
        const endpoint = endpointHostPort(c);
        return {
          command: joinLine(endpoint, token, caCertHash, certificateKey),
          controlPlane,
          endpoint,
          tokenId: tokenId(token),
          tokenExpires: new Date(now.getTime() + opts.ttlSeconds * 1000).toISOString(),
          ...(certificateKey ? { certificateKeyExpires: new Date(now.getTime() + CERTIFICATE_KEY_TTL_SECONDS * 1000).toISOString() } : {}),
          caCertHash,
          createdOn: h.name,
        };
      } catch (err) {
        failures.push(`${h.name}: ${(err instanceof Error ? err.message : String(err)).split("\n")[0]}`);
      }
    }
  } finally {
    if (!opts.pool) await pool.closeAll();
  }
  throw new KubehaError(
    `could not create a bootstrap token on ${controlPlane ? "the first control plane" : "any control plane"} (${failures.join("; ")})`,
    controlPlane
      ? `the certificates are uploaded from ${firstControlPlane(c).name} (it holds the init configuration): check it with \`kubeha status FILE\``
      : "check the control planes with `kubeha status FILE`",
  );
}
