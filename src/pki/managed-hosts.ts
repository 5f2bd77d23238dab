/**
 * The hosts kubeha has applied the cluster to, kept in the state directory (`managed-hosts.json`,
 * 0600): after a host is deleted from the cluster file, `plan` and `apply` still know it was part of
 * the cluster and point at `kubeha node remove` instead of leaving it half in (an etcd member, an
 * HAProxy backend, a Node). Each entry is the host as the file described it then, so `node remove`
 * can act on a host that is no longer in the file.
 */
import { join } from "node:path";
import type { Cluster, Host } from "../spec/model.ts";
import { readOptional, writeSecretFile } from "./store.ts";
import { KubehaError } from "../errors.ts";

export const MANAGED_HOSTS_FILE = "managed-hosts.json";

/** A managed host as recorded: the normalized host without derived fields. */
export type ManagedHost = Omit<Host, "lbIndex">;

interface ManagedHostsDoc {
  hosts: ManagedHost[];
}

const strip = ({ lbIndex: _lbIndex, ...h }: Host): ManagedHost => h;

/** The recorded hosts; none when the cluster was never applied from this state directory. */
export async function readManagedHosts(stateDir: string): Promise<ManagedHost[]> {
  const text = await readOptional(stateDir, MANAGED_HOSTS_FILE);
  if (text === undefined) return [];
  try {
    const doc = JSON.parse(text) as ManagedHostsDoc;
    if (!Array.isArray(doc.hosts) || doc.hosts.some((h) => typeof h?.name !== "string" || !Array.isArray(h.roles))) throw new Error("no hosts list");
    return doc.hosts;
  } catch (err) {
    throw new KubehaError(
      `${join(stateDir, MANAGED_HOSTS_FILE)} is not kubeha's list of managed hosts: ${(err as Error).message}`,
      "delete it; the next successful apply writes it again (hosts removed from the file before then are not remembered)",
    );
  }
}

/** Pure: the recorded hosts after an apply of `c`: every host of the file, plus the ones recorded before and still not removed. */
export function mergeManaged(recorded: readonly ManagedHost[], c: Cluster): ManagedHost[] {
  const now = c.hosts.map(strip);
  const names = new Set(now.map((h) => h.name));
  return [...now, ...recorded.filter((h) => !names.has(h.name))];
}

/** Pure: hosts kubeha managed before that the file no longer has. */
export function formerHosts(recorded: readonly ManagedHost[], c: Cluster): ManagedHost[] {
  const names = new Set(c.hosts.map((h) => h.name));
  return recorded.filter((h) => !names.has(h.name));
}

/** The notice `plan` and `apply` give for a host that left the file but not the cluster. */
export function formerHostNotice(h: ManagedHost, file = "FILE"): string {
  return `${h.name} (${h.address}, ${h.roles.join(", ")}) was managed before, no longer in the file — run \`kubeha node remove ${file} ${h.name}\` to take it out of the cluster (apply does not do it silently)`;
}

export async function writeManagedHosts(stateDir: string, hosts: readonly ManagedHost[]): Promise<void> {
  await writeSecretFile(stateDir, MANAGED_HOSTS_FILE, JSON.stringify({ hosts: [...hosts] } satisfies ManagedHostsDoc, null, 2) + "\n");
}
