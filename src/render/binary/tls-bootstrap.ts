/**
 * `bootstrap: binary`: the objects kubelet TLS bootstrapping needs, which kubeadm creates itself
 * (kubeadm-reference.md §7.6): the bootstrap token as a Secret in kube-system, the RBAC bindings
 * that let token holders ask for a node client certificate and let the controller-manager's
 * csrapproving controller approve it (and every renewal), plus the bindings kubeadm makes for
 * admin.conf and for the API server's kubelet client. Pure; one YAML stream applied from the
 * first control plane. Secret: it holds the token.
 */
import type { Cluster } from "../../spec/model.ts";
import type { RenderedFile, Secrets } from "../types.ts";
import { PATHS } from "../paths.ts";
import { file, header } from "../file.ts";
import { toYamlStream } from "../../util/yaml.ts";
import { TOKEN_RE } from "../../pki/secrets.ts";
import { InternalError } from "../../errors.ts";

/** The group bootstrap tokens put their holders in (kubeadm's, so its RBAC names and docs apply). */
export const BOOTSTRAP_GROUP = "system:bootstrappers:kubeadm:default-node-token";
/** kubeadm ≥ 1.29's admin group (admin.conf), bound to cluster-admin (see src/pki/table.ts). */
export const CLUSTER_ADMINS_GROUP = "kubeadm:cluster-admins";

type Doc = Record<string, unknown>;

function binding(name: string, role: string, subject: { kind: "Group" | "User"; name: string }): Doc {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
    subjects: [{ apiGroup: "rbac.authorization.k8s.io", ...subject }],
  };
}

/** When the token stops working: the join material's issue time plus its TTL (`kubeha certs rotate-join` renews both). */
export function tokenExpiration(s: Secrets): string {
  const t = Date.parse(s.join.issuedAt) + s.join.tokenTtlHours * 3_600_000;
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function tlsBootstrapObjects(c: Cluster, s: Secrets): Doc[] {
  const m = TOKEN_RE.exec(s.join.token);
  if (!m) throw new InternalError("the bootstrap token in the secrets is malformed (secretsProblems should have caught it)");
  const [, id, secret] = m as unknown as [string, string, string];
  return [
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: `bootstrap-token-${id}`, namespace: "kube-system" },
      type: "bootstrap.kubernetes.io/token",
      stringData: {
        description: `kubeha TLS bootstrap token for cluster ${c.name}`,
        "token-id": id,
        "token-secret": secret,
        expiration: tokenExpiration(s),
        "usage-bootstrap-authentication": "true",
        "usage-bootstrap-signing": "true",
        "auth-extra-groups": BOOTSTRAP_GROUP,
      },
    },
    // Token holders may create CSRs...
    binding("kubeadm:kubelet-bootstrap", "system:node-bootstrapper", { kind: "Group", name: BOOTSTRAP_GROUP }),
    // ...their node client CSRs are approved...
    binding("kubeadm:node-autoapprove-bootstrap", "system:certificates.k8s.io:certificatesigningrequests:nodeclient", { kind: "Group", name: BOOTSTRAP_GROUP }),
    // ...and so is each node's renewal of its own client certificate.
    binding("kubeadm:node-autoapprove-certificate-rotation", "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", { kind: "Group", name: "system:nodes" }),
    binding("kubeadm:cluster-admins", "cluster-admin", { kind: "Group", name: CLUSTER_ADMINS_GROUP }),
    // logs, exec and port-forward: the kubelets ask the API whether this user may.
    binding("kubeha:apiserver-kubelet-client", "system:kubelet-api-admin", { kind: "User", name: "kube-apiserver-kubelet-client" }),
  ];
}

export function renderTlsBootstrap(c: Cluster, s: Secrets): RenderedFile[] {
  const top = header("#", `TLS bootstrap objects of cluster ${c.name}: bootstrap token Secret and RBAC bindings. Holds the token.`);
  return [file(PATHS.tlsBootstrapManifest, top + toYamlStream(tlsBootstrapObjects(c, s)), { secret: true })];
}
