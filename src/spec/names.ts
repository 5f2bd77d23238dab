/**
 * Syntax of the values kubeha writes into configuration files and commands (pure): Linux
 * interface names, image registry references, Kubernetes label keys/values and taints. Each
 * check returns undefined when the value is fine, else what is wrong, in the words of the
 * component that would refuse it.
 */

/** Linux accepts 1-15 bytes without `/`, `:` or whitespace; kubeha also refuses shell and config metacharacters. */
const INTERFACE = /^[A-Za-z0-9_.-]{1,15}$/;

export function interfaceProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > 15) return `interface names are 1 to 15 characters (Linux IFNAMSIZ), "${name}" has ${name.length}`;
  if (name === "." || name === "..") return `"${name}" is not an interface name`;
  if (!INTERFACE.test(name)) return `"${name}" is not an interface name: use letters, digits, '-', '_' and '.' only (no '/', ':', whitespace or shell characters)`;
  return undefined;
}

// The distribution reference grammar (github.com/distribution/reference): domain[:port] then
// lower-case path components separated by `/`.
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]{1,5})?`;
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const REPOSITORY = new RegExp(`^${DOMAIN}(?:/${PATH_COMPONENT})*$`);

export function imageRepositoryProblem(repo: string): string | undefined {
  if (repo.length > 255) return "an image repository is at most 255 characters";
  if (!REPOSITORY.test(repo)) {
    return `"${repo}" is not a registry reference: host[:port][/path], path components in lower case letters, digits and '.', '_', '-' (no tag, quotes or spaces)`;
  }
  return undefined;
}

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A qualified name: `[prefix/]name` (label and taint keys). */
export function qualifiedNameProblem(key: string): string | undefined {
  const slash = key.indexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined) {
    if (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))
      return `the prefix of "${key}" must be a DNS subdomain (lower case, at most 253 characters)`;
  }
  if (name.length === 0 || name.length > 63) return `the name part of "${key}" must be 1 to 63 characters`;
  if (!NAME.test(name)) return `the name part of "${key}" must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit`;
  return undefined;
}

export function labelValueProblem(value: string): string | undefined {
  if (value === "") return undefined;
  if (value.length > 63) return `label values are at most 63 characters ("${value.slice(0, 20)}..." has ${value.length})`;
  if (!NAME.test(value)) return `"${value}" is not a label value: letters, digits, '-', '_' or '.', starting and ending with a letter or digit (or empty)`;
  return undefined;
}

/** kubelet's `--node-labels` allow-list for the kubernetes.io / k8s.io namespaces (pkg/kubelet/apis). */
export const KUBELET_LABELS: readonly string[] = [
  "beta.kubernetes.io/arch",
  "beta.kubernetes.io/instance-type",
  "beta.kubernetes.io/os",
  "failure-domain.beta.kubernetes.io/region",
  "failure-domain.beta.kubernetes.io/zone",
  "kubernetes.io/arch",
  "kubernetes.io/hostname",
  "kubernetes.io/os",
  "node.kubernetes.io/instance-type",
  "topology.kubernetes.io/region",
  "topology.kubernetes.io/zone",
];
export const KUBELET_LABEL_NAMESPACES: readonly string[] = ["kubelet.kubernetes.io", "node.kubernetes.io"];

/** What kubelet says when it refuses a node label in the kubernetes.io / k8s.io namespaces, or undefined. */
export function kubeletLabelProblem(key: string): string | undefined {
  const slash = key.indexOf("/");
  if (slash < 0) return undefined;
  const ns = key.slice(0, slash);
  const reserved = ["kubernetes.io", "k8s.io"].some((r) => ns === r || ns.endsWith(`.${r}`));
  if (!reserved || KUBELET_LABELS.includes(key)) return undefined;
  if (KUBELET_LABEL_NAMESPACES.some((a) => ns === a || ns.endsWith(`.${a}`))) return undefined;
  return `unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels: [${key}]: kubelet refuses them (allowed: the ${KUBELET_LABEL_NAMESPACES.join(", ")} prefixes and ${KUBELET_LABELS.join(", ")})`;
}

export const TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"] as const;

/** `key[=value]:Effect`, as kubeadm's nodeRegistration.taints and `kubectl taint` take it. */
export function taintProblem(t: string): string | undefined {
  const colon = t.lastIndexOf(":");
  if (colon < 0) return `"${t}" has no effect: write key[=value]:NoSchedule, :PreferNoSchedule or :NoExecute`;
  const effect = t.slice(colon + 1);
  if (!(TAINT_EFFECTS as readonly string[]).includes(effect)) return `unknown taint effect "${effect}": use ${TAINT_EFFECTS.join(", ")}`;
  const kv = t.slice(0, colon);
  const eq = kv.indexOf("=");
  const key = eq >= 0 ? kv.slice(0, eq) : kv;
  const keyProblem = qualifiedNameProblem(key);
  if (keyProblem) return `taint key: ${keyProblem}`;
  if (eq >= 0) {
    const valueProblem = labelValueProblem(kv.slice(eq + 1));
    if (valueProblem) return `taint value: ${valueProblem}`;
  }
  return undefined;
}

/**
 * User and group names as Debian's useradd accepts them by default (NAME_REGEX), at most 32
 * characters, and with no `.`: sudo skips files in /etc/sudoers.d whose name holds one.
 */
export const UNIX_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/**
 * A crypt(3) hash in the `$id$...` form /etc/shadow takes: MD5 (`$1$`), bcrypt (`$2b$`...),
 * SHA-256/512 (`$5$`, `$6$`, with an optional `rounds=N$`), scrypt (`$7$`), yescrypt (`$y$`,
 * `$gy$`). The alphabet is crypt's (`./0-9A-Za-z`) plus `$`, `=` and `,` of the parameters; a
 * `:` or a newline would break /etc/shadow.
 */
export const CRYPT_HASH = /^\$(1|2[abxy]|5|6|7|y|gy)\$[./0-9A-Za-z$=,]{8,}$/;
