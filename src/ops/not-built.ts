/**
 * What kubeha cannot do yet for a `bootstrap: binary` cluster: render and plan work (the host
 * plans are complete), the commands that change hosts are not built, because the stand-in
 * binaries and the end-to-end proof come first. One message, one place.
 */
import type { Cluster } from "../spec/model.ts";
import { EXIT, KubehaError } from "../errors.ts";
import { binaryBootstrap } from "../spec/topology.ts";

/** The refusal for `command` (e.g. "apply") on cluster `c`, or undefined when it may run. */
export function binaryNotBuilt(c: Cluster, command: string): KubehaError | undefined {
  if (!binaryBootstrap(c)) return undefined;
  return new KubehaError(
    `kubeha ${command} does not handle \`bootstrap: binary\` clusters yet: \`kubeha render\` and \`kubeha plan\` work for them, ${command} is not built`,
    "review the units and files with `kubeha render FILE --dir DIR` (docs/binary.md), or use `bootstrap: kubeadm` (the default) to build the cluster today",
    EXIT.invalid,
  );
}
