/** Types shared by every renderer, the PKI and the phases that upload rendered files. */

/** One file a host needs. Renderers are pure and deterministic: same input, byte-identical content. */
export interface RenderedFile {
  /** Absolute path on the host. */
  path: string;
  content: string;
  /** Octal mode, e.g. 0o644; secrets are 0o600. */
  mode: number;
  /** True when the content holds a secret (key, token, password): never printed, never logged. */
  secret: boolean;
  /** systemd units to restart (or reload) when this file changes, in order. */
  restarts?: string[];
  /** `user:group` that owns the file; default `root:root` (e.g. `etcd:etcd` for etcd's keys). */
  owner?: string;
}

/** Material that lets nodes join without scraping `kubeadm init` output. */
export interface JoinMaterial {
  /** Bootstrap token `[a-z0-9]{6}.[a-z0-9]{16}`. */
  token: string;
  /** Hours the token lives after `kubeadm init` creates it. */
  tokenTtlHours: number;
  /** 64 hex characters (32 random bytes): encrypts the kubeadm-certs Secret. */
  certificateKey: string;
  /** `sha256:<hex>` of the cluster CA's DER SubjectPublicKeyInfo. */
  caCertHash: string;
  /** ISO time the token and certificate key were generated (the apply issue re-uploads certs when old). */
  issuedAt: string;
}

/** Every secret a render needs. Generated once and kept in the state directory, so re-renders are identical. */
export interface Secrets {
  join: JoinMaterial;
  /** Password of the HAProxy stats page (user `admin`). */
  haproxyStatsPassword: string;
  /** VRRP auth_pass: 8 characters (keepalived truncates longer ones). */
  vrrpAuthPass: string;
  /**
   * `bootstrap: binary`: base64 of 32 random bytes, the secretbox key that encrypts Secrets at rest
   * (EncryptionConfiguration). Created once and never replaced: the data written with it would
   * become unreadable.
   */
  encryptionKey?: string;
}

/** Everything rendered for one host. */
export interface HostRender {
  host: string;
  files: RenderedFile[];
  /** The readable, idempotent `install.sh` for this host (also present in `files` under /root/kubeha/). */
  installScript: string;
}
