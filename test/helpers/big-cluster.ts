/**
 * The generated many-host cluster file of issue 15's scale targets, shared by bench/cli.ts (which
 * times `kubeha validate`/`render` of it) and test/render/scale.test.ts (which pins its render).
 */

/** A valid cluster file: 3 colocated control planes + LBs, the rest workers, addresses in 198.18.0.0/15. */
export function clusterYaml(n: number): string {
  const ip = (i: number) => `198.18.${Math.floor(i / 250)}.${(i % 250) + 1}`;
  const lines = ["apiVersion: kubeha.dev/v1alpha1", "kind: Cluster", "metadata:", `  name: bench${n}`, "spec:", "  ssh: { user: root }", "  hosts:"];
  for (let i = 0; i < n; i++) {
    const cp = i < 3;
    lines.push(`    - { name: ${cp ? "master" : "worker"}${i}, address: ${ip(i + 10)}, roles: [${cp ? "control-plane, lb" : "worker"}]${cp ? ", interface: eth0" : ""} }`);
  }
  lines.push("  controlPlaneEndpoint:", "    mode: haproxy-keepalived", "    vip: 198.18.0.5", "    vipPrefix: 15", "");
  return lines.join("\n");
}
