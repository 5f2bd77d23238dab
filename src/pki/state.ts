/**
 * The cluster's PKI and secrets, kept in the state directory and reused across runs (kubeadm's
 * "load, check against the CA, reuse" rule): only missing, changed or expiring leaves are issued.
 * Generic over the certificate table in table.ts.
 */
import { createPrivateKey, createPublicKey } from "node:crypto";
import type { Cluster } from "../spec/model.ts";
import type { Secrets } from "../render/types.ts";
import { KubehaError } from "../errors.ts";
import { registerSecret } from "../util/redact.ts";
import { instances, type CertInstance } from "./table.ts";
import { openStateDir, readOptional, stateDirError, withStateLock, writeSecretFile } from "./store.ts";
import { newEncryptionKey, newJoinMaterial, newSecrets, secretsProblems } from "./secrets.ts";
import { binaryBootstrap } from "../spec/topology.ts";
import {
  caCertHash,
  certFingerprint,
  certInfo,
  issueCA,
  issueKeyPair,
  issueLeaf,
  keyMatches,
  profileDiff,
  quickCertInfo,
  signedBy,
  type CertInfo,
  type KeyPairPem,
} from "./x509.ts";

const DAY_MS = 86_400_000;
const SECRETS_FILE = "secrets.json";

export interface EnsureOptions {
  /**
   * Dry run (`kubeha plan`): write nothing, create no directory. Missing certificates and secrets
   * are made in memory only; `StateReport.wouldCreateDir` says apply will create the directory.
   */
  readOnly?: boolean;
  /** Clock for validity checks and new certificates (tests move it). */
  now?: Date;
  /** Re-issue leaves with fewer days left. Default: 30, or a third of the leaf validity when that is shorter. */
  renewBeforeDays?: number;
  /** Ids of leaves to re-issue even when they are valid (`kubeha certs renew`). CAs and key pairs are never forced. */
  force?: ReadonlySet<string>;
}

/** What happened to one certificate; never holds key material. */
export interface CertReport {
  /** `apiserver` or `apiserver/<host>`. */
  id: string;
  /** Table name (`apiserver`). */
  name: string;
  host?: string;
  action: "issued" | "reused";
  /** Why it was issued (missing, expiring, SANs changed, ...) or a warning about a reused CA. */
  reason?: string;
  /** ISO time; absent for key pairs. */
  notAfter?: string;
}

/** What `ensureState` did, for progress output. Contains no secret values. */
export interface StateReport {
  dir: string;
  createdDir: boolean;
  /** Read-only run: the directory does not exist yet (apply will create it with new CAs). */
  wouldCreateDir?: boolean;
  certs: CertReport[];
  secrets: "created" | "reused" | "updated";
}

/**
 * The loaded PKI. Key material and secrets sit in private fields, so printing or
 * JSON-serializing a State shows only the report.
 */
export class State {
  readonly #material: Map<string, KeyPairPem>;
  #secrets: Secrets;

  constructor(
    readonly dir: string,
    readonly report: StateReport,
    material: Map<string, KeyPairPem>,
    secrets: Secrets,
  ) {
    this.#material = material;
    this.#secrets = secrets;
  }

  /** Join material, HAProxy stats password, VRRP auth pass. Secret: never print. */
  get secrets(): Secrets {
    return this.#secrets;
  }

  /** PEMs of one certificate by id (`ca`, `apiserver/<host>`); the key is secret. */
  material(id: string): KeyPairPem {
    const m = this.#material.get(id);
    if (!m) throw new KubehaError(`certificate ${id} is not part of this cluster's PKI`, "check the host name and the cluster's etcd mode");
    return m;
  }

  /** Ids of every certificate held, in table order. */
  ids(): string[] {
    return [...this.#material.keys()];
  }

  /** @internal rotateJoin replaces the join material. */
  replaceSecrets(s: Secrets): void {
    this.#secrets = s;
  }
}

function renewBeforeMs(c: Cluster, opts: EnsureOptions): number {
  const days = opts.renewBeforeDays ?? Math.min(30, c.pki.leafValidityDays / 3);
  return days * DAY_MS;
}

function files(inst: CertInstance) {
  return { crt: `pki/${inst.base}.crt`, key: `pki/${inst.base}.key`, pub: `pki/${inst.base}.pub` };
}

async function load(dir: string, inst: CertInstance): Promise<Partial<KeyPairPem>> {
  const f = files(inst);
  const [cert, key, pub] = await Promise.all([
    readOptional(dir, f.crt),
    readOptional(dir, f.key),
    inst.spec.kind === "key-pair" ? readOptional(dir, f.pub) : Promise.resolve(undefined),
  ]);
  return { ...(cert !== undefined ? { cert } : {}), ...(key !== undefined ? { key } : {}), ...(pub !== undefined ? { pub } : {}) };
}

/** The verdict on one stored certificate. */
export type Verdict =
  | { status: "ok"; info?: CertInfo; warning?: string }
  | { status: "missing" }
  /** A leaf to re-issue. */
  | { status: "renew"; reason: string; info?: CertInfo }
  /** Something kubeha must not silently replace (a CA or the service-account key). */
  | { status: "broken"; reason: string; hint: string; info?: CertInfo };

function safeInfo(cert: string): CertInfo | undefined {
  try {
    return certInfo(cert);
  } catch {
    return undefined;
  }
}

function safe<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch {
    return fallback;
  }
}

const daysLeft = (info: CertInfo, now: Date) => Math.floor((info.notAfter.getTime() - now.getTime()) / DAY_MS);

/** Pure: decides whether stored material can be reused. */
export function evaluate(
  c: Cluster,
  inst: CertInstance,
  have: Partial<KeyPairPem>,
  ca: KeyPairPem | undefined,
  now: Date,
  renewBefore: number,
): Verdict {
  const { spec } = inst;
  if (spec.kind === "key-pair") {
    if (!have.key && !have.pub) return { status: "missing" };
    if (!have.key)
      return {
        status: "broken",
        reason: `${inst.id}: the private key is missing but the public key exists`,
        hint: "restore sa.key from a control plane's /etc/kubernetes/pki/sa.key (a new key would invalidate every service-account token)",
      };
    if (have.pub && !safe(() => keyMatches(have.key!, { pub: have.pub! }), false))
      return {
        status: "broken",
        reason: `${inst.id}: the public key does not belong to the private key`,
        hint: "delete the .pub file; kubeha derives it again from the private key",
      };
    return { status: "ok" };
  }

  if (spec.kind === "ca") {
    if (!have.cert && !have.key) return { status: "missing" };
    const restore = `restore both ${inst.base}.crt and ${inst.base}.key from a backup or a control plane; ` +
      "deleting both creates a new CA, which breaks a running cluster";
    if (!have.cert || !have.key)
      return { status: "broken", reason: `${inst.id}: the CA ${have.cert ? "key" : "certificate"} is missing`, hint: restore };
    const info = safeInfo(have.cert);
    if (!info) return { status: "broken", reason: `${inst.id}: the CA certificate cannot be parsed`, hint: restore };
    if (!safe(() => keyMatches(have.key!, { cert: have.cert! }), false))
      return { status: "broken", reason: `${inst.id}: the CA key does not match the CA certificate`, hint: restore, info };
    if (!info.isCA || !safe(() => signedBy(have.cert!, have.cert!), false))
      return { status: "broken", reason: `${inst.id}: not a self-signed CA certificate`, hint: restore, info };
    if (info.notAfter.getTime() <= now.getTime())
      return {
        status: "broken",
        reason: `${inst.id}: the CA expired on ${info.notAfter.toISOString()}`,
        hint: "kubeha does not rotate CAs yet; a new CA means re-issuing every certificate and kubeconfig of the cluster",
        info,
      };
    if (info.notAfter.getTime() - now.getTime() < renewBefore)
      return { status: "ok", info, warning: `CA expires in ${daysLeft(info, now)} days; kubeha does not rotate CAs` };
    if (info.keyAlgorithm !== c.pki.keyAlgorithm)
      return { status: "ok", info, warning: `CA key is ${info.keyAlgorithm}; kept (CAs are not replaced), new leaves use ${c.pki.keyAlgorithm}` };
    return { status: "ok", info };
  }

  // Leaves are cheap to replace: anything wrong means "issue a new one".
  if (!have.cert && !have.key) return { status: "missing" };
  if (!have.cert) return { status: "renew", reason: "certificate missing" };
  const info = safeInfo(have.cert);
  if (!info) return { status: "renew", reason: "certificate unreadable" };
  if (!have.key) return { status: "renew", reason: "key missing", info };
  if (!safe(() => keyMatches(have.key!, { cert: have.cert! }), false))
    return { status: "renew", reason: "key does not match certificate", info };
  if (!ca?.cert || !safe(() => signedBy(have.cert!, ca.cert!), false))
    return { status: "renew", reason: `not signed by the current ${spec.ca}`, info };
  const diff = profileDiff(info, spec.profile!(c, inst.host));
  if (diff) return { status: "renew", reason: diff, info };
  if (info.keyAlgorithm !== c.pki.keyAlgorithm)
    return { status: "renew", reason: `key is ${info.keyAlgorithm}, spec.pki.keyAlgorithm is ${c.pki.keyAlgorithm}`, info };
  if (info.notAfter.getTime() <= now.getTime()) return { status: "renew", reason: "expired", info };
  if (info.notAfter.getTime() - now.getTime() < renewBefore)
    return { status: "renew", reason: `expires in ${daysLeft(info, now)} days`, info };
  return { status: "ok", info };
}

/**
 * The notAfter of a stored CA or leaf that `evaluate` would reuse without a warning, decided from
 * node:crypto alone (quickCertInfo), so a run that changes nothing never loads the X.509 library.
 * Undefined whenever the quick reading is unsure or anything is off: `evaluate` then decides, with
 * its reasons. Holds every condition of evaluate's plain "ok" for these kinds.
 */
function reusableUntil(c: Cluster, inst: CertInstance, have: Partial<KeyPairPem>, ca: KeyPairPem | undefined, now: Date, renewBefore: number): Date | undefined {
  const { spec } = inst;
  if ((spec.kind !== "ca" && spec.kind !== "leaf") || !have.cert || !have.key) return undefined;
  const info = quickCertInfo(have.cert);
  if (!info || info.keyAlgorithm !== c.pki.keyAlgorithm) return undefined;
  const left = info.notAfter.getTime() - now.getTime();
  if (left <= 0 || left < renewBefore) return undefined;
  if (!safe(() => keyMatches(have.key!, { cert: have.cert! }), false)) return undefined;
  if (spec.kind === "ca") return info.isCA && safe(() => signedBy(have.cert!, have.cert!), false) ? info.notAfter : undefined;
  if (!ca?.cert || !safe(() => signedBy(have.cert!, ca.cert!), false)) return undefined;
  return profileDiff(info, spec.profile!(c, inst.host)) === "" ? info.notAfter : undefined;
}

async function issue(c: Cluster, inst: CertInstance, ca: KeyPairPem | undefined, now: Date): Promise<KeyPairPem> {
  const alg = c.pki.keyAlgorithm;
  const { spec } = inst;
  if (spec.kind === "key-pair") return issueKeyPair(alg);
  const profile = spec.profile!(c, inst.host);
  if (spec.kind === "ca") return issueCA(profile, alg, now, c.pki.caValidityDays);
  if (!ca?.cert) throw new Error(`${inst.id}: CA ${spec.ca} not loaded before its leaves`);
  return issueLeaf(profile, alg, { cert: ca.cert, key: ca.key }, now, c.pki.leafValidityDays);
}

async function saveMaterial(dir: string, inst: CertInstance, m: KeyPairPem): Promise<void> {
  const f = files(inst);
  await writeSecretFile(dir, f.key, m.key);
  if (m.cert) await writeSecretFile(dir, f.crt, m.cert);
  if (m.pub) await writeSecretFile(dir, f.pub, m.pub);
}

function brokenError(v: { reason: string; hint: string }, dir: string): KubehaError {
  return new KubehaError(`PKI in ${dir}: ${v.reason}`, v.hint);
}

async function loadSecrets(dir: string): Promise<Secrets | undefined> {
  const text = await readOptional(dir, SECRETS_FILE);
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new KubehaError(
      `${dir}/${SECRETS_FILE} is not valid JSON`,
      `delete it to generate new secrets (then re-apply so every host gets them), or restore it from a backup`,
    );
  }
  const bad = secretsProblems(parsed);
  if (bad.length > 0)
    throw new KubehaError(
      `${dir}/${SECRETS_FILE} has malformed fields: ${bad.join(", ")}`,
      "run `kubeha certs rotate-join FILE` for join material, or delete the file to generate all secrets again",
    );
  return parsed as Secrets;
}

/** So the exec layer's redaction hides them wherever they end up in a command line or an error. */
function registerSecrets(s: Secrets): void {
  registerSecret(s.join.token, s.join.token.split(".")[1], s.join.certificateKey, s.haproxyStatsPassword, s.vrrpAuthPass, s.encryptionKey);
}

async function writeSecrets(dir: string, s: Secrets): Promise<void> {
  await writeSecretFile(dir, SECRETS_FILE, JSON.stringify(s, null, 2) + "\n");
}

/**
 * Opens or creates the cluster's state directory (0700; refuses looser permissions), loads every
 * certificate in the table for this cluster, issues only the missing, changed or expiring leaves
 * (and missing CAs / key pairs), and loads or creates the secrets. Idempotent: a second run
 * issues nothing and rewrites nothing.
 */
export async function ensureState(c: Cluster, opts: EnsureOptions = {}): Promise<State> {
  const dir = c.pki.stateDir;
  try {
    if (opts.readOnly) {
      const { missing } = await openStateDir(dir, { create: false, allowMissing: true });
      return await ensureLocked(c, opts, false, missing === true);
    }
    const { created } = await openStateDir(dir, { create: true });
    return await withStateLock(dir, () => ensureLocked(c, opts, created));
  } catch (err) {
    throw stateDirError(dir, err);
  }
}

async function ensureLocked(c: Cluster, opts: EnsureOptions, created: boolean, missing = false): Promise<State> {
  const now = opts.now ?? new Date();
  const dir = c.pki.stateDir;
  const save = opts.readOnly ? async () => undefined : saveMaterial;
  const saveSecrets = opts.readOnly ? async () => undefined : writeSecrets;
  const renewBefore = renewBeforeMs(c, opts);
  const all = instances(c);
  const material = new Map<string, KeyPairPem>();
  const reports = new Map<string, CertReport>();

  const handle = async (inst: CertInstance): Promise<void> => {
    const have = await load(dir, inst);
    const ca = inst.spec.ca ? material.get(inst.spec.ca) : undefined;
    const base = { id: inst.id, name: inst.spec.name, ...(inst.host ? { host: inst.host.name } : {}) };
    const until = opts.force?.has(inst.id) ? undefined : reusableUntil(c, inst, have, ca, now, renewBefore);
    if (until) {
      material.set(inst.id, have as KeyPairPem);
      reports.set(inst.id, { ...base, action: "reused", notAfter: until.toISOString() });
      return;
    }
    let v = evaluate(c, inst, have, ca, now, renewBefore);
    if (v.status === "ok" && inst.spec.kind === "leaf" && opts.force?.has(inst.id)) v = { status: "renew", reason: "renewal requested" };
    if (v.status === "broken") throw brokenError(v, dir);
    if (v.status === "ok") {
      let m = have as KeyPairPem;
      if (inst.spec.kind === "key-pair" && !have.pub) {
        // The public half is derivable; re-creating it keeps every issued service-account token valid.
        m = { key: m.key, pub: createPublicKey(createPrivateKey(m.key)).export({ type: "spki", format: "pem" }).toString() };
        await save(dir, inst, m);
      }
      material.set(inst.id, m);
      reports.set(inst.id, {
        ...base,
        action: "reused",
        ...(v.warning ? { reason: v.warning } : {}),
        ...(v.info ? { notAfter: v.info.notAfter.toISOString() } : {}),
      });
      return;
    }
    const m = await issue(c, inst, ca, now);
    await save(dir, inst, m);
    material.set(inst.id, m);
    reports.set(inst.id, {
      ...base,
      action: "issued",
      reason: v.status === "missing" ? "missing" : v.reason,
      ...(m.cert ? { notAfter: certInfo(m.cert).notAfter.toISOString() } : {}),
    });
  };

  // CAs and key pairs first (leaves need them), then every leaf concurrently: key generation
  // runs on libuv's thread pool, so this uses every core.
  await Promise.all(all.filter((i) => i.spec.kind !== "leaf").map(handle));
  await Promise.all(all.filter((i) => i.spec.kind === "leaf").map(handle));

  const caPem = material.get("ca")?.cert;
  if (!caPem) throw new Error("cluster CA missing after issuance");
  const hash = caCertHash(caPem);
  let secrets = await loadSecrets(dir);
  let secretsAction: StateReport["secrets"] = "reused";
  if (!secrets) {
    secrets = newSecrets(hash, c.pki.tokenTtlHours, now);
    secretsAction = "created";
    await saveSecrets(dir, secrets);
  } else if (secrets.join.caCertHash !== hash || secrets.join.tokenTtlHours !== c.pki.tokenTtlHours) {
    secrets = { ...secrets, join: { ...secrets.join, caCertHash: hash, tokenTtlHours: c.pki.tokenTtlHours } };
    secretsAction = "updated";
    await saveSecrets(dir, secrets);
  }
  // Binary mode encrypts Secrets at rest; a state directory from before gains the key once.
  if (binaryBootstrap(c) && !secrets.encryptionKey) {
    secrets = { ...secrets, encryptionKey: newEncryptionKey() };
    if (secretsAction === "reused") secretsAction = "updated";
    await saveSecrets(dir, secrets);
  }

  registerSecrets(secrets);
  const ordered = new Map(all.map((i) => [i.id, material.get(i.id)!] as const));
  return new State(dir, { dir, createdDir: created, ...(missing ? { wouldCreateDir: true } : {}), certs: all.map((i) => reports.get(i.id)!), secrets: secretsAction }, ordered, secrets);
}

/**
 * New bootstrap token and certificate key (new `issuedAt`), persisted; everything else is kept.
 * Apply calls this before joining nodes, so the 24 h token and 2 h kubeadm-certs windows start fresh.
 */
export async function rotateJoin(c: Cluster, opts: EnsureOptions = {}): Promise<State> {
  const now = opts.now ?? new Date();
  const { created } = await openStateDir(c.pki.stateDir, { create: true });
  return withStateLock(c.pki.stateDir, async () => {
    const state = await ensureLocked(c, opts, created);
    const join = newJoinMaterial(state.secrets.join.caCertHash, c.pki.tokenTtlHours, now);
    const secrets = { ...state.secrets, join };
    await writeSecrets(state.dir, secrets);
    registerSecrets(secrets);
    state.replaceSecrets(secrets);
    return state;
  });
}

/** One row of `kubeha certs list`. */
export interface CertStatus {
  id: string;
  name: string;
  host?: string;
  kind: "ca" | "leaf" | "key-pair";
  purpose: string;
  status: "ok" | "expiring" | "expired" | "missing" | "invalid";
  reason?: string;
  info?: CertInfo;
  daysLeft?: number;
  /** SHA-256 of the stored certificate (status compares it with what the hosts hold). */
  sha256?: string;
}

/**
 * Read-only look at the state directory: every certificate of the table with its status, without
 * issuing anything. Refuses a state directory with loose permissions like `ensureState`.
 */
export async function inspectState(
  c: Cluster,
  opts: EnsureOptions & { thresholdDays?: number } = {},
): Promise<{ rows: CertStatus[]; caCertHash?: string }> {
  const now = opts.now ?? new Date();
  const dir = c.pki.stateDir;
  await openStateDir(dir, { create: false });
  const threshold = (opts.thresholdDays ?? 30) * DAY_MS;
  const loaded = new Map<string, Partial<KeyPairPem>>();
  const rows: CertStatus[] = [];
  for (const inst of instances(c)) {
    const have = await load(dir, inst);
    loaded.set(inst.id, have);
    const ca = inst.spec.ca ? loaded.get(inst.spec.ca) : undefined;
    const v = evaluate(c, inst, have, ca?.cert && ca.key ? (ca as KeyPairPem) : undefined, now, threshold);
    const info = "info" in v ? v.info : undefined;
    const base = {
      id: inst.id,
      name: inst.spec.name,
      ...(inst.host ? { host: inst.host.name } : {}),
      kind: inst.spec.kind,
      purpose: inst.spec.purpose,
      ...(info ? { info, daysLeft: daysLeft(info, now) } : {}),
      ...(have.cert ? safe<{ sha256?: string }>(() => ({ sha256: certFingerprint(have.cert!) }), {}) : {}),
    };
    const expired = info && info.notAfter.getTime() <= now.getTime();
    const expiring = info && info.notAfter.getTime() - now.getTime() < threshold;
    if (v.status === "missing") rows.push({ ...base, status: "missing" });
    else if (v.status === "renew" && / missing$/.test(v.reason)) rows.push({ ...base, status: "missing", reason: v.reason });
    else if (expired) rows.push({ ...base, status: "expired" });
    else if (v.status === "ok") rows.push({ ...base, status: expiring ? "expiring" : "ok" });
    else if (expiring && v.status === "renew" && v.reason.startsWith("expires")) rows.push({ ...base, status: "expiring" });
    else rows.push({ ...base, status: "invalid", reason: v.reason });
  }
  const caPem = loaded.get("ca")?.cert;
  const hash = caPem ? safe(() => caCertHash(caPem), undefined) : undefined;
  return { rows, ...(hash ? { caCertHash: hash } : {}) };
}
