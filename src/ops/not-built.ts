/**
 * What kubeha cannot do yet for a `bootstrap: binary` cluster: render, plan, apply, status, drill
 * and reset work; the day-2 commands that take a control plane apart or swap its binaries
 * (upgrade, node remove) are not built for kubeha's own units yet. One message, one place.
 */
import type { Cluster } from "../spec/model.ts";
import { EXIT, KubehaError } from "../errors.ts";
import { binaryBootstrap } from "../spec/topology.ts";

/** The refusal for `command` (e.g. "apply") on cluster `c`, or undefined when it may run. */
export function binaryNotBuilt(c: Cluster, command: string): KubehaError | undefined {
  if (!binaryBootstrap(c)) return undefined;
  return new KubehaError(
    `kubeha ${command} does not handle \`bootstrap: binary\` clusters yet: render, plan, apply, status, drill and reset work for them, ${command} is not built`,
    `see docs/binary.md; until it is, do by hand what ${command} would (stop the units, \`etcdctl member remove\`, replace the binaries from the bundle) and re-run \`kubeha apply\``,
    EXIT.invalid,
  );
}
