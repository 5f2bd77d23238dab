/**
 * External etcd (`etcd.mode: external`): Debian's etcd-server on the `etcd` hosts, configured
 * through /etc/default/etcd (the unit reads it as an EnvironmentFile and runs as user etcd).
 * TLS everywhere with kubeha's own etcd PKI; client and peer certificates are required.
 * Clients dial the member's own address only, so the server certificate needs just that IP
 * SAN (lab: peer certificates must carry the member's own IP).
 */
import type { Cluster, Host } from "../spec/model.ts";
import { hostByName } from "../spec/model.ts";
import type { RenderedFile } from "./types.ts";
import { PATHS } from "./paths.ts";
import { file, header } from "./file.ts";
import { runsExternalEtcd } from "../spec/topology.ts";

/** `https://ip:clientPort` of every member, in file order: what the API servers dial. */
export function etcdClientUrls(c: Cluster): string[] {
  return c.etcd.members.map((n) => `https://${hostByName(c, n).internalAddress}:${c.etcd.clientPort}`);
}

/** `name=https://ip:peerPort,...` for every member, in file order. */
export function initialCluster(c: Cluster): string {
  return c.etcd.members
    .map((n) => `${n}=https://${hostByName(c, n).internalAddress}:${c.etcd.peerPort}`)
    .join(",");
}

/**
 * The member's environment file. `initial` is what the member's first start uses: by default a
 * new cluster of every configured member; apply passes `existing` and the list `etcdctl member add`
 * printed for a member joining a running cluster (see src/plan/etcd.ts).
 */
export function renderEtcd(c: Cluster, h: Host, initial: { state: "new" | "existing"; cluster: string } = { state: "new", cluster: initialCluster(c) }): RenderedFile[] {
  if (!runsExternalEtcd(c, h)) return [];
  const ip = h.internalAddress;
  const env: Array<[string, string]> = [
    ["ETCD_NAME", h.name],
    ["ETCD_DATA_DIR", c.etcd.dataDir],
    ["ETCD_LISTEN_PEER_URLS", `https://${ip}:${c.etcd.peerPort}`],
    ["ETCD_LISTEN_CLIENT_URLS", `https://${ip}:${c.etcd.clientPort}`],
    ["ETCD_INITIAL_ADVERTISE_PEER_URLS", `https://${ip}:${c.etcd.peerPort}`],
    ["ETCD_ADVERTISE_CLIENT_URLS", `https://${ip}:${c.etcd.clientPort}`],
    ["ETCD_INITIAL_CLUSTER", initial.cluster],
    // Only read when the data directory is empty (first start); later starts ignore it.
    ["ETCD_INITIAL_CLUSTER_STATE", initial.state],
    ["ETCD_INITIAL_CLUSTER_TOKEN", `${c.name}-etcd`],
    ["ETCD_TRUSTED_CA_FILE", PATHS.etcdCa],
    ["ETCD_CERT_FILE", PATHS.etcdServerCert],
    ["ETCD_KEY_FILE", PATHS.etcdServerKey],
    ["ETCD_CLIENT_CERT_AUTH", "true"],
    ["ETCD_PEER_TRUSTED_CA_FILE", PATHS.etcdCa],
    ["ETCD_PEER_CERT_FILE", PATHS.etcdPeerCert],
    ["ETCD_PEER_KEY_FILE", PATHS.etcdPeerKey],
    ["ETCD_PEER_CLIENT_CERT_AUTH", "true"],
  ];
  const content = header("#", `etcd member ${h.name} of cluster ${c.name} (read by etcd.service).`) +
    env.map(([k, v]) => `${k}="${v}"`).join("\n");
  return [file(PATHS.etcdDefaults, content, { restarts: ["etcd.service"] }), renderEtcdDropIn()];
}

/**
 * etcd.service drop-in. Debian's unit orders etcd after network.target only and restarts it only
 * after a signal (`Restart=on-abnormal`): a member whose address is not up yet when the machine
 * boots exits with "bind: cannot assign requested address" and stays down for good, so a rebooted
 * control plane silently loses its member. Start it once the network is online, and restart it
 * after any failure, without a start limit (a member that cannot start yet must keep trying).
 */
export function renderEtcdDropIn(): RenderedFile {
  const content = [
    header("#", "Start etcd once the network is online and bring it back after any failure.").trimEnd(),
    "[Unit]",
    "Wants=network-online.target",
    "After=network-online.target",
    "StartLimitIntervalSec=0",
    "",
    "[Service]",
    "Restart=on-failure",
    "RestartSec=2s",
  ].join("\n");
  return file(PATHS.etcdDropIn, content, { restarts: ["etcd.service"] });
}
