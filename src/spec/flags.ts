/**
 * Whether a component of a given minor takes a flag, from the recorded tables (flag-tables.ts).
 * Pure. Used by the `extra-args` rule (a flag the binary would refuse, or one that is going away,
 * is refused before anything is rendered) and by the renderers' own tests.
 */
import { ADDED, FLAG_PAGES, RETIRED, RETIRED_API_VERSIONS, type Component } from "./flag-tables.ts";
import { SUPPORTED_MINORS } from "./normalize.ts";

export type { Component };

/** Flags that make a component print something and exit instead of serving. */
const EXITS = new Set(["help", "h", "version", "write-config-to"]);

const cache = new Map<string, ReadonlySet<string>>();

/**
 * The flag names (without dashes) `component` accepts in `1.<minor>` by kubeha's records, or
 * undefined when kubeha records no flag set for the component.
 */
export function acceptedFlags(component: Component, minor: number): ReadonlySet<string> | undefined {
  const pages = FLAG_PAGES[component];
  if (!pages) return undefined;
  const key = `${component}@${minor}`;
  let set = cache.get(key);
  if (!set) {
    const old = new Set(pages.old.flags);
    const added = ADDED[component] ?? {};
    set = new Set(pages.newest.flags.filter((f) => old.has(f) || minor >= (added[f]?.minor ?? pages.newest.minor)));
    cache.set(key, set);
  }
  return set;
}

/** Where a component's recorded flag set comes from, for messages and docs. */
export function flagSource(component: Component): string | undefined {
  const p = FLAG_PAGES[component];
  return p && `v1.${p.newest.minor}: ${p.newest.source}; v1.${p.old.minor}: ${p.old.source}`;
}

export interface FlagProblem {
  message: string;
  hint: string;
}

/**
 * Why `component` 1.<minor> must not be given `--name[=value]`, or undefined when it may.
 * `name` is without leading dashes.
 */
export function flagProblem(component: Component, minor: number, name: string, value?: string): FlagProblem | undefined {
  const v = `${component} 1.${minor}`;
  const retired = RETIRED[component][name];
  if (retired)
    return {
      message: `--${name} ${retired.status === "removed" ? "was removed from" : "is deprecated in"} ${component}`,
      hint: `use instead: ${retired.replacement} (${retired.source})`,
    };
  if (EXITS.has(name)) return { message: `--${name} makes ${component} print and exit instead of serving`, hint: "remove it" };
  const accepted = acceptedFlags(component, minor);
  if (accepted && !accepted.has(name)) {
    const pages = FLAG_PAGES[component]!;
    const added = ADDED[component]?.[name];
    if (added) return { message: `${v} has no --${name}: it came in 1.${added.minor}`, hint: `use Kubernetes 1.${added.minor} or newer (${added.source})` };
    if (pages.newest.flags.includes(name))
      return {
        message: `${v} may not have --${name}: kubeha records it from the 1.${pages.newest.minor} flags only`,
        hint: `use Kubernetes 1.${pages.newest.minor} or newer for it, or leave it out (recorded from ${pages.newest.source})`,
      };
    return { message: `${v} has no flag --${name}`, hint: `check the name against \`${component} --help\` of 1.${minor} (kubeha's record: ${flagSource(component)})` };
  }
  if (component === "kube-apiserver" && name === "runtime-config" && value !== undefined) {
    for (const part of value.split(",")) {
      const api = part.split("=")[0]!.trim();
      const instead = RETIRED_API_VERSIONS[api];
      if (instead) return { message: `--runtime-config names ${api}, which no supported API server serves`, hint: `use instead: ${instead}` };
    }
  }
  return undefined;
}

/**
 * Flags kubeha sets itself from the cluster file, and the field to change instead: an extra
 * argument would silently fight the rest of the configuration (or turn off leader election, which
 * HA needs).
 */
export const OWNED: Partial<Record<Component, Record<string, string>>> = {
  "kube-apiserver": {
    "advertise-address": "spec.hosts[].internalAddress",
    "secure-port": "spec.kubernetes.apiServerPort",
    "service-cluster-ip-range": "spec.kubernetes.serviceSubnet",
    "etcd-servers": "spec.etcd and the hosts with the etcd role",
    "etcd-cafile": "nothing: kubeha's PKI provides the etcd client certificate",
    "etcd-certfile": "nothing: kubeha's PKI provides the etcd client certificate",
    "etcd-keyfile": "nothing: kubeha's PKI provides the etcd client certificate",
  },
  "kube-scheduler": {
    "leader-elect": "nothing: every control plane runs a scheduler, and only leader election keeps one of them active",
  },
};

/** Every supported minor, oldest first (the flag tables are checked for each). */
export function supportedMinors(): number[] {
  const out: number[] = [];
  for (let m = SUPPORTED_MINORS.min; m <= SUPPORTED_MINORS.max; m++) out.push(m);
  return out;
}
