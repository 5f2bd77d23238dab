/**
 * YAML for files Kubernetes components read. kubeadm, the kubelet, client-go and kube-vip decode
 * YAML with YAML 1.1 rules (go-yaml v2 via sigs.k8s.io/yaml), where `no`, `on`, `y`, `0b101`,
 * `1e3`, `0x1F` or `12:30` are booleans or numbers. Writing with the 1.1 schema quotes every such
 * string, so a host named `no` stays a string. Every renderer of Kubernetes YAML goes through here.
 */
import { stringify } from "yaml";

/** One YAML document (no directives, no line folding). */
export function toYaml(doc: unknown): string {
  // No anchors: Kubernetes objects that share a sub-object (a probe, labels) are written out each time.
  return stringify(doc, { version: "1.1", lineWidth: 0, aliasDuplicateObjects: false });
}

/** Several documents separated by `---`. */
export function toYamlStream(docs: readonly unknown[]): string {
  return docs.map(toYaml).join("---\n");
}
