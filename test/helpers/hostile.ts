/**
 * Hostile and unusual cluster files (issue 15), shared by the YAML tests and the CLI fuzz harness.
 * Each comes with the exit code `kubeha validate` must give and a message it must print.
 */
import { readFileSync } from "node:fs";
import { REPO } from "./cli.ts";

export const BASE = readFileSync(`${REPO}examples/seed-002-colocated-16443.yaml`, "utf8");

/** A valid file with `n` hosts; with `anchor`, every host's ssh settings are one `&ssh` anchor. */
export function bigCluster(n: number, anchor = true): string {
  let s = "apiVersion: kubeha.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: big\nspec:\n  hosts:\n";
  for (let i = 0; i < n; i++) {
    const a = `198.${18 + ((i + 11) >> 16)}.${((i + 11) >> 8) & 255}.${(i + 11) & 255}`;
    const ssh = anchor ? (i === 0 ? "&ssh { user: root, port: 22 }" : "*ssh") : "{ user: root, port: 22 }";
    s += `    - name: node${i}\n      address: ${a}\n      roles: ${i < 3 ? "[control-plane, lb]" : "[worker]"}\n      interface: eth0\n      ssh: ${ssh}\n`;
  }
  return (
    s +
    '  kubernetes: { version: "1.34.2", podSubnet: 10.0.0.0/8, serviceSubnet: 172.16.0.0/12 }\n' +
    "  controlPlaneEndpoint: { mode: haproxy-keepalived, vip: 198.19.255.250, vipPrefix: 15 }\n"
  );
}

function laughs(levels: number): string {
  let s = "spec: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  let prev = "a";
  for (let i = 0; i < levels; i++) {
    const n = `l${i}`;
    s += `${n}: &${n} [${Array(10).fill(`*${prev}`).join(", ")}]\n`;
    prev = n;
  }
  return s;
}

export interface Hostile {
  name: string;
  text: string;
  /** Exit code of `kubeha validate`. */
  code: number;
  /** What its output must say. */
  says: RegExp;
}

export const HOSTILE: Hostile[] = [
  { name: "one &ssh anchor used by 100 hosts", text: bigCluster(100), code: 0, says: /valid \(100 hosts/ },
  { name: "one &ssh anchor used by 1000 hosts", text: bigCluster(1000), code: 0, says: /valid \(1000 hosts/ },
  { name: "billion laughs", text: laughs(9), code: 3, says: /:\d+:\d+ \(root\): aliases expand the file to more than \d+ nodes/ },
  { name: "undefined alias", text: BASE.replace("user: root", "user: *nobody"), code: 3, says: /:9:\d+ \(root\): alias \*nobody refers to no anchor/ },
  { name: "alias inside its own anchor", text: "spec: &s { hosts: [*s] }\n", code: 3, says: /:1:\d+ \(root\): alias \*s is inside the node it refers to/ },
  { name: "10k-deep flow nesting", text: "spec: " + "[".repeat(10_000) + "]".repeat(10_000) + "\n", code: 3, says: /:1:\d+ \(root\): the YAML (nests more than 64 levels deep|is nested too deeply)/ },
  { name: "10k-deep block nesting", text: Array.from({ length: 10_000 }, (_, i) => " ".repeat(i) + `k${i}:`).join("\n") + " x\n", code: 3, says: /:\d+:\d+ \(root\): the YAML (nests more than 64 levels deep|is nested too deeply)/ },
  { name: "duplicate key", text: BASE.replace("kind: Cluster\n", "kind: Cluster\nkind: Cluster\n"), code: 3, says: /:5:1 \(root\): duplicate key "kind" \(first at line 4\)/ },
  { name: "empty file", text: "", code: 3, says: /:1:1 \(root\): the file is empty \(expected a cluster file/ },
  { name: "only comments", text: "# nothing here\n", code: 3, says: /:1:1 \(root\): the file is empty/ },
  { name: "two documents", text: BASE + "---\n" + BASE, code: 3, says: /\(root\): the file holds more than one YAML document/ },
  { name: "!!binary tag", text: BASE.replace("user: root", "user: !!binary cm9vdA=="), code: 3, says: /:9:\d+ \(root\): YAML tag !!binary is not allowed/ },
  { name: "custom tag", text: BASE.replace("user: root", "user: !vault root"), code: 3, says: /YAML tag !vault is not allowed/ },
  { name: "map as a key", text: BASE.replace("user: root", "? [a, b]\n    : root"), code: 3, says: /a map key is a list or map/ },
  { name: "NUL byte in a name", text: BASE.replace("name: seed-002", 'name: "seed\\0-002"'), code: 3, says: /metadata\.name: must match/ },
  { name: "raw NUL byte", text: BASE.replace("name: seed-002", "name: seed\u0000002"), code: 3, says: /metadata\.name/ },
  { name: "__proto__ key", text: BASE.replace("  ssh:\n", "  __proto__: { polluted: true }\n  ssh:\n"), code: 3, says: /unknown field "__proto__"/ },
  { name: "huge number", text: BASE.replace("port: 16443", "port: 1e400"), code: 3, says: /spec\.controlPlaneEndpoint\.port: must be/ },
  { name: "very long string", text: BASE.replace("name: seed-002", `name: ${"x".repeat(1_000_000)}`), code: 3, says: /metadata\.name: must/ },
  { name: "a list instead of a map", text: "- 1\n- 2\n", code: 3, says: /\(root\): must be an object/ },
  { name: "a scalar instead of a map", text: "hello\n", code: 3, says: /\(root\): must be an object/ },
  { name: "binary garbage", text: "\u0000\u0001\u0002\uFFFD\uD800 :: [[{", code: 3, says: /\(root\): / },
  {
    name: "merge keys share a host's settings",
    text: BASE.replace("- { name: server10-worker,", "- &w { name: server10-worker,").replace(
      "roles: [worker] }\n",
      "roles: [worker] }\n    - { <<: *w, name: server11-worker, address: 198.18.2.211 }\n",
    ),
    code: 0,
    says: /valid \(5 hosts: 3 control-plane, 2 worker/,
  },
  {
    name: "merge key with a wrong field names the host",
    text: BASE.replace("  ssh:\n    user: root\n", "  ssh: &ssh\n    user: root\n").replace("{ name: server10-worker,", "{ <<: *ssh, name: server10-worker,"),
    code: 3,
    says: /spec\.hosts\[3\]\.user: unknown field "user"/,
  },
  { name: "merge key of a scalar", text: BASE.replace("{ name: server10-worker,", "{ <<: 5, name: server10-worker,"), code: 3, says: /:\d+:\d+ \(root\): a merge key `<<` needs a map/ },
];
