/** kubeconfig files signed by the cluster CA (pure, deterministic). */
import { toYaml } from "../util/yaml.ts";
import type { Cluster } from "../spec/model.ts";
import { KubehaError } from "../errors.ts";
import type { State } from "./state.ts";

export type KubeconfigKind = "admin" | "super-admin" | "controller-manager" | "scheduler";

/** User name in the kubeconfig = the client certificate's CN (kubeadm's names). */
const USERS: Record<KubeconfigKind, string> = {
  admin: "kubernetes-admin",
  "super-admin": "kubernetes-super-admin",
  "controller-manager": "system:kube-controller-manager",
  scheduler: "system:kube-scheduler",
};

/** File name kubeadm uses under /etc/kubernetes for each kind. */
export const KUBECONFIG_FILES: Record<KubeconfigKind, string> = {
  admin: "admin.conf",
  "super-admin": "super-admin.conf",
  "controller-manager": "controller-manager.conf",
  scheduler: "scheduler.conf",
};

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

/**
 * A kubeconfig for `kind` pointing at `server` (`https://host:port`, or `host:port`).
 * Embeds the client key: the result is a secret (write 0600, never print).
 */
export function kubeconfig(c: Cluster, state: State, kind: KubeconfigKind, server: string): string {
  if (!(kind in USERS)) throw new KubehaError(`unknown kubeconfig kind ${kind}`, `use one of ${Object.keys(USERS).join(", ")}`);
  const ids = state.ids();
  if (!ids.includes(kind))
    throw new KubehaError(`${KUBECONFIG_FILES[kind]} is not part of this cluster`, "super-admin.conf exists for Kubernetes 1.29 and later");
  const ca = state.material("ca").cert ?? "";
  const client = state.material(kind);
  const user = USERS[kind];
  const url = /^https?:\/\//.test(server) ? server : `https://${server}`;
  return toYaml({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: c.name, cluster: { "certificate-authority-data": b64(ca), server: url } }],
    contexts: [{ name: `${user}@${c.name}`, context: { cluster: c.name, user } }],
    "current-context": `${user}@${c.name}`,
    preferences: {},
    users: [{ name: user, user: { "client-certificate-data": b64(client.cert ?? ""), "client-key-data": b64(client.key) } }],
  });
}
