/**
 * Join material and the other generated secrets (§2 of the kubeadm reference): created by
 * kubeha in advance so nothing is ever scraped from `kubeadm init` output.
 */
import { randomBytes, randomInt } from "node:crypto";
import type { JoinMaterial, Secrets } from "../render/types.ts";

const ALNUM = "0123456789abcdefghijklmnopqrstuvwxyz";
const MIXED = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

function pick(n: number, alphabet = ALNUM): string {
  return Array.from({ length: n }, () => alphabet[randomInt(alphabet.length)]).join("");
}

/** kubeadm's bootstrap token format: public id `.` secret. */
export const TOKEN_RE = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
export const CERTIFICATE_KEY_RE = /^[0-9a-f]{64}$/;
export const CA_HASH_RE = /^sha256:[0-9a-f]{64}$/;

export function newBootstrapToken(): string {
  return `${pick(6)}.${pick(16)}`;
}

/** 32 random bytes, hex: the AES-256 key that encrypts the kubeadm-certs Secret. */
export function newCertificateKey(): string {
  return randomBytes(32).toString("hex");
}

/** 32 random bytes, base64: a secretbox key for EncryptionConfiguration (binary mode). */
export function newEncryptionKey(): string {
  return randomBytes(32).toString("base64");
}

/** True when `k` is base64 of exactly 32 bytes (what the API server's secretbox provider takes). */
export function isEncryptionKey(k: unknown): boolean {
  return typeof k === "string" && /^[A-Za-z0-9+/]{43}=$/.test(k) && Buffer.from(k, "base64").length === 32;
}

/** The public half of a bootstrap token (safe to print; `kubeadm token list` shows it). */
export function tokenId(token: string): string {
  return token.split(".")[0] ?? "";
}

export function newJoinMaterial(caCertHash: string, tokenTtlHours: number, now: Date): JoinMaterial {
  return {
    token: newBootstrapToken(),
    tokenTtlHours,
    certificateKey: newCertificateKey(),
    caCertHash,
    issuedAt: now.toISOString(),
  };
}

export function newSecrets(caCertHash: string, tokenTtlHours: number, now: Date): Secrets {
  return {
    join: newJoinMaterial(caCertHash, tokenTtlHours, now),
    haproxyStatsPassword: pick(24, MIXED),
    // keepalived silently truncates auth_pass to 8 characters; generate exactly 8.
    vrrpAuthPass: pick(8, MIXED),
  };
}

/** Names of the fields that are malformed (never their values). */
export function secretsProblems(s: unknown): string[] {
  const o = (s ?? {}) as Partial<Secrets> & { join?: Partial<JoinMaterial> };
  const j: Partial<JoinMaterial> = o.join ?? {};
  const bad: string[] = [];
  if (typeof j.token !== "string" || !TOKEN_RE.test(j.token)) bad.push("join.token");
  if (typeof j.certificateKey !== "string" || !CERTIFICATE_KEY_RE.test(j.certificateKey)) bad.push("join.certificateKey");
  if (typeof j.issuedAt !== "string" || Number.isNaN(Date.parse(j.issuedAt))) bad.push("join.issuedAt");
  if (typeof o.haproxyStatsPassword !== "string" || o.haproxyStatsPassword.length < 16) bad.push("haproxyStatsPassword");
  if (typeof o.vrrpAuthPass !== "string" || o.vrrpAuthPass.length !== 8) bad.push("vrrpAuthPass");
  if (o.encryptionKey !== undefined && !isEncryptionKey(o.encryptionKey)) bad.push("encryptionKey");
  return bad;
}
