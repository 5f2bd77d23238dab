/** kubeha's PKI: the certificate table, the state directory, join material, files per host, kubeconfigs. */
export { ensureState, rotateJoin, inspectState, State, type EnsureOptions, type StateReport, type CertReport, type CertStatus } from "./state.ts";
export { kubeconfigsFor, pkiFilesForHost, placedOn } from "./files.ts";
export { kubeconfig, kubeconfigServer, KUBECONFIG_PLACEMENTS, type KubeconfigKind } from "./kubeconfig.ts";
export { caCertHash, certFingerprint, certInfo, type CertInfo, type KeyAlgorithm } from "./x509.ts";
export { CERTS, PLACEMENTS, instances, apiserverSans, type CertSpec, type CertInstance, type Placement } from "./table.ts";
export { TOKEN_RE, CERTIFICATE_KEY_RE, CA_HASH_RE, tokenId, newBootstrapToken, newCertificateKey } from "./secrets.ts";
