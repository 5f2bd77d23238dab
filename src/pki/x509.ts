/**
 * The only file that talks to the X.509 library (@peculiar/x509 on Node's WebCrypto) and to
 * node:crypto key objects. Everything above it deals in PEM strings and plain descriptions.
 */
import { createHash, createPrivateKey, createPublicKey, randomBytes, webcrypto, X509Certificate as NodeCert } from "node:crypto";
import { createRequire } from "node:module";
import type * as X509 from "@peculiar/x509";

// @peculiar/x509 (CommonJS) needs a Reflect polyfill installed before it loads. Static imports
// of CommonJS packages may be executed in load order rather than import order, so load both
// explicitly, in sequence. Loaded on first use: it is ~200 modules, and a run that only reuses
// a valid state directory (render, apply) reads its certificates with node:crypto (quickCertInfo).
const require = createRequire(import.meta.url);
let loaded: typeof X509 | undefined;
function lib(): typeof X509 {
  if (!loaded) {
    require("reflect-metadata");
    loaded = require("@peculiar/x509") as typeof X509;
    loaded.cryptoProvider.set(webcrypto as unknown as Crypto);
  }
  return loaded;
}

const subtle = webcrypto.subtle as SubtleCrypto;

export type KeyAlgorithm = "ecdsa-p256" | "rsa-2048";
export type ExtUsage = "serverAuth" | "clientAuth";

/** What a certificate should say: compared field by field with an existing one to decide on reuse. */
export interface CertProfile {
  cn: string;
  /** Subject organizations (groups), in order. */
  o: string[];
  isCA: boolean;
  extUsages: ExtUsage[];
  dns: string[];
  ips: string[];
}

/** A private key with its certificate (or, for the service-account pair, its public key). */
export interface KeyPairPem {
  /** PKCS#8 `PRIVATE KEY` PEM. Secret. */
  key: string;
  /** `CERTIFICATE` PEM; absent for bare key pairs. */
  cert?: string;
  /** SPKI `PUBLIC KEY` PEM; bare key pairs only. */
  pub?: string;
}

/** What a parsed certificate says, for listing and for comparison with a profile. */
export interface CertInfo extends CertProfile {
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  serial: string;
  /** CA path length constraint, when set. */
  pathLength?: number;
  keyAlgorithm: KeyAlgorithm | "other";
}

const DAY_MS = 86_400_000;
/** Backdating absorbs clock skew between the operator machine and the nodes. */
const BACKDATE_MS = 5 * 60_000;

function algorithmParams(alg: KeyAlgorithm): RsaHashedKeyGenParams | EcKeyGenParams {
  return alg === "rsa-2048"
    ? { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }
    : { name: "ECDSA", namedCurve: "P-256" };
}

function importParams(alg: KeyAlgorithm): RsaHashedImportParams | EcKeyImportParams {
  return alg === "rsa-2048" ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } : { name: "ECDSA", namedCurve: "P-256" };
}

function signingAlgorithm(key: CryptoKey): Algorithm | EcdsaParams {
  return key.algorithm.name === "ECDSA" ? { name: "ECDSA", hash: "SHA-256" } as EcdsaParams : { name: "RSASSA-PKCS1-v1_5" };
}

function pem(label: string, der: ArrayBuffer): string {
  const x509 = lib();
  return x509.PemConverter.encode(der, label) + "\n";
}

/** Algorithm of a PEM private key, or "other" for keys kubeha does not generate. */
export function keyAlgorithmOf(keyPem: string): KeyAlgorithm | "other" {
  const k = createPrivateKey(keyPem);
  if (k.asymmetricKeyType === "ec" && k.asymmetricKeyDetails?.namedCurve === "prime256v1") return "ecdsa-p256";
  if (k.asymmetricKeyType === "rsa") return "rsa-2048";
  return "other";
}

async function importSigningKey(keyPem: string): Promise<CryptoKey> {
  const alg = keyAlgorithmOf(keyPem);
  if (alg === "other") throw new Error("unsupported key type (kubeha signs with ECDSA P-256 or RSA keys)");
  const der = createPrivateKey(keyPem).export({ type: "pkcs8", format: "der" });
  return subtle.importKey("pkcs8", der, importParams(alg), false, ["sign"]);
}

async function generate(alg: KeyAlgorithm): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(algorithmParams(alg), true, ["sign", "verify"])) as CryptoKeyPair;
}

/** Random positive 63-bit serial, as kubeadm does. */
function serial(): string {
  const b = randomBytes(8);
  b[0] = b[0]! & 0x7f || 0x01;
  return b.toString("hex");
}

function subjectName(p: CertProfile): X509.JsonName {
  // Go's pkix.Name order (O before CN), so `openssl x509 -subject` reads like kubeadm's certs.
  return [...p.o.map((o) => ({ O: [o] })), { CN: [p.cn] }];
}

function extensions(p: CertProfile, pathLength0: boolean): X509.Extension[] {
  const x509 = lib();
  const ext: X509.Extension[] = [];
  if (p.isCA) {
    ext.push(new x509.BasicConstraintsExtension(true, pathLength0 ? 0 : undefined, true));
    ext.push(
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.keyCertSign,
        true,
      ),
    );
  } else {
    ext.push(new x509.BasicConstraintsExtension(false, undefined, true));
    // kubeadm sets keyEncipherment even on ECDSA leaves; clients ignore it there.
    ext.push(new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true));
  }
  if (p.extUsages.length > 0) {
    ext.push(new x509.ExtendedKeyUsageExtension(p.extUsages.map((u) => x509.ExtendedKeyUsage[u]), false));
  }
  const names: X509.JsonGeneralName[] = [
    ...p.dns.map((value) => ({ type: "dns" as const, value })),
    ...p.ips.map((value) => ({ type: "ip" as const, value })),
  ];
  if (names.length > 0) ext.push(new x509.SubjectAlternativeNameExtension(names, false));
  return ext;
}

/** Issues a self-signed CA certificate with a fresh key. CAs sign only leaves: path length 0. */
export async function issueCA(p: CertProfile, alg: KeyAlgorithm, now: Date, days: number): Promise<KeyPairPem> {
  const x509 = lib();
  const keys = await generate(alg);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: subjectName(p),
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + days * DAY_MS),
    keys,
    signingAlgorithm: signingAlgorithm(keys.privateKey),
    extensions: [
      ...extensions(p, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    key: pem("PRIVATE KEY", await subtle.exportKey("pkcs8", keys.privateKey)),
    cert: cert.toString("pem") + "\n",
  };
}

/** Issues a leaf certificate signed by `ca`. Its notAfter never passes the CA's. */
export async function issueLeaf(
  p: CertProfile,
  alg: KeyAlgorithm,
  ca: { cert: string; key: string },
  now: Date,
  days: number,
): Promise<KeyPairPem> {
  const x509 = lib();
  const caCert = new x509.X509Certificate(ca.cert);
  const [keys, caKey] = await Promise.all([generate(alg), importSigningKey(ca.key)]);
  const notAfter = new Date(Math.min(now.getTime() + days * DAY_MS, caCert.notAfter.getTime()));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: subjectName(p),
    issuer: caCert.subjectName,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter,
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: signingAlgorithm(caKey),
    extensions: [
      ...extensions(p, false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
    ],
  });
  return {
    key: pem("PRIVATE KEY", await subtle.exportKey("pkcs8", keys.privateKey)),
    cert: cert.toString("pem") + "\n",
  };
}

/** A bare key pair (the service-account signing key). */
export async function issueKeyPair(alg: KeyAlgorithm): Promise<KeyPairPem> {
  const keys = await generate(alg);
  return {
    key: pem("PRIVATE KEY", await subtle.exportKey("pkcs8", keys.privateKey)),
    pub: pem("PUBLIC KEY", await subtle.exportKey("spki", keys.publicKey)),
  };
}

function spkiOfKey(keyPem: string): Buffer {
  return createPublicKey(createPrivateKey(keyPem)).export({ type: "spki", format: "der" });
}

function spkiOfCert(certPem: string): Buffer {
  return new NodeCert(certPem).publicKey.export({ type: "spki", format: "der" });
}

/** True when the private key belongs to the certificate (or to the PEM public key). */
export function keyMatches(keyPem: string, certOrPub: { cert?: string; pub?: string }): boolean {
  const mine = spkiOfKey(keyPem);
  const theirs = certOrPub.cert
    ? spkiOfCert(certOrPub.cert)
    : createPublicKey(certOrPub.pub ?? "").export({ type: "spki", format: "der" });
  return mine.equals(theirs);
}

/** True when `certPem` was issued and signed by `caPem`. */
export function signedBy(certPem: string, caPem: string): boolean {
  const c = new NodeCert(certPem);
  const ca = new NodeCert(caPem);
  return c.checkIssued(ca) && c.verify(ca.publicKey);
}

/**
 * The discovery hash kubeadm pins: `sha256:` + hex SHA-256 of the CA certificate's DER
 * SubjectPublicKeyInfo (not of the certificate itself).
 */
export function caCertHash(caPem: string): string {
  return "sha256:" + createHash("sha256").update(spkiOfCert(caPem)).digest("hex");
}

/** Everything kubeha reads back from a certificate. */
/** SHA-256 of the certificate's DER, lowercase hex: identifies one certificate (first of a PEM bundle). */
export function certFingerprint(certPem: string): string {
  return new NodeCert(certPem).fingerprint256.replace(/:/g, "").toLowerCase();
}

export function certInfo(certPem: string): CertInfo {
  const x509 = lib();
  const c = new x509.X509Certificate(certPem);
  const bc = c.getExtension(x509.BasicConstraintsExtension);
  const eku = c.getExtension(x509.ExtendedKeyUsageExtension);
  const san = c.getExtension(x509.SubjectAlternativeNameExtension);
  const names = san?.names.items ?? [];
  const ekuNames = new Map<string, ExtUsage>([
    [x509.ExtendedKeyUsage.serverAuth, "serverAuth"],
    [x509.ExtendedKeyUsage.clientAuth, "clientAuth"],
  ]);
  const pubAlg = c.publicKey.algorithm as { name: string; namedCurve?: string; modulusLength?: number };
  return {
    subject: c.subject,
    issuer: c.issuer,
    cn: c.subjectName.getField("CN")[0] ?? "",
    o: c.subjectName.getField("O"),
    isCA: bc?.ca ?? false,
    ...(bc?.pathLength !== undefined ? { pathLength: bc.pathLength } : {}),
    extUsages: (eku?.usages ?? []).map((u) => ekuNames.get(String(u))).filter((u): u is ExtUsage => !!u),
    dns: names.filter((n) => n.type === "dns").map((n) => n.value),
    ips: names.filter((n) => n.type === "ip").map((n) => n.value),
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    serial: c.serialNumber,
    keyAlgorithm:
      pubAlg.name === "ECDSA" && pubAlg.namedCurve === "P-256"
        ? "ecdsa-p256"
        : pubAlg.name.startsWith("RSA") && pubAlg.modulusLength === 2048
          ? "rsa-2048"
          : "other",
  };
}

/** What quickCertInfo reads: the fields reuse decisions compare. */
export type QuickCertInfo = CertProfile & Pick<CertInfo, "notAfter" | "keyAlgorithm">;

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const EKU_OIDS = new Map<string, ExtUsage>([
  ["1.3.6.1.5.5.7.3.1", "serverAuth"],
  ["1.3.6.1.5.5.7.3.2", "clientAuth"],
]);

/**
 * certInfo's profile fields, notAfter and key algorithm read with node:crypto alone (no X.509
 * library to load), for certificates in the forms kubeha issues: plain CN/O values, DNS names
 * and IPv4 addresses as SANs, an EC P-256 or RSA key. Undefined when anything is in another form
 * (an escaped name, an IPv6 or URI SAN, another key type): certInfo then decides. Equal to
 * certInfo's fields whenever defined (test/pki/x509-quick.test.ts).
 */
export function quickCertInfo(certPem: string): QuickCertInfo | undefined {
  let c: NodeCert;
  try {
    c = new NodeCert(certPem);
  } catch {
    return undefined;
  }
  const t = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4}) GMT$/.exec(c.validTo);
  const month = t ? MONTHS.indexOf(t[1]!) : -1;
  if (!t || month < 0) return undefined;
  const notAfter = new Date(Date.UTC(Number(t[6]), month, Number(t[2]), Number(t[3]), Number(t[4]), Number(t[5])));
  const cn: string[] = [];
  const o: string[] = [];
  for (const line of c.subject.split("\n")) {
    const m = /^([A-Za-z]+)=([^\\"+,<>;=]*)$/.exec(line);
    if (!m || m[2] !== m[2]!.trim() || m[2]!.startsWith("#")) return undefined;
    if (m[1] === "CN") cn.push(m[2]!);
    else if (m[1] === "O") o.push(m[2]!);
  }
  const dns: string[] = [];
  const ips: string[] = [];
  for (const entry of c.subjectAltName ? c.subjectAltName.split(", ") : []) {
    const d = /^DNS:([A-Za-z0-9.*_-]+)$/.exec(entry);
    const ip = /^IP Address:((?:\d{1,3}\.){3}\d{1,3})$/.exec(entry);
    if (d) dns.push(d[1]!);
    else if (ip) ips.push(ip[1]!);
    else return undefined;
  }
  const key = c.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  const keyAlgorithm =
    key.asymmetricKeyType === "ec" && details.namedCurve === "prime256v1" ? "ecdsa-p256" : key.asymmetricKeyType === "rsa" && details.modulusLength === 2048 ? "rsa-2048" : undefined;
  if (!keyAlgorithm) return undefined;
  const usages = (c.keyUsage ?? []).map((u) => EKU_OIDS.get(u)).filter((u): u is ExtUsage => !!u);
  return { cn: cn[0] ?? "", o, isCA: c.ca, extUsages: usages, dns, ips, notAfter, keyAlgorithm };
}

/** Differences between what a certificate says and what it should say ("" when none). */
export function profileDiff(have: CertProfile, want: CertProfile): string {
  const set = (a: string[]) => [...new Set(a)].sort().join(",");
  const diffs: string[] = [];
  if (have.cn !== want.cn) diffs.push(`CN ${have.cn} != ${want.cn}`);
  if (have.o.join(",") !== want.o.join(",")) diffs.push(`O [${have.o.join(",")}] != [${want.o.join(",")}]`);
  if (have.isCA !== want.isCA) diffs.push(`CA flag ${have.isCA} != ${want.isCA}`);
  if (set(have.extUsages) !== set(want.extUsages)) diffs.push("extended key usages changed");
  if (set(have.dns) !== set(want.dns)) diffs.push(`DNS SANs [${set(have.dns)}] != [${set(want.dns)}]`);
  if (set(have.ips) !== set(want.ips)) diffs.push(`IP SANs [${set(have.ips)}] != [${set(want.ips)}]`);
  return diffs.join("; ");
}
