/**
 * `kubeha apply`: the whole workflow as one readable list of phases (k0sctl's action/apply.go).
 * A dry run (`kubeha plan`) runs the same list with every change recorded instead of made.
 */
import type { Phase } from "./types.ts";
import type { ApplyData } from "./data.ts";
import { connect } from "./connect.ts";
import { gatherFacts } from "./facts.ts";
import { preflightPhase } from "./preflight.ts";
import { prepareOs } from "./os.ts";
import { packagesPhase } from "./packages.ts";
import { runtimePhase } from "./runtime.ts";
import { lbPhase } from "./lb.ts";
import { etcdPhase } from "./etcd.ts";
import { controlPlanePhase, revokeTokenPhase, workersPhase } from "./kube.ts";
import { cniPhase, kubeconfigPhase, verifyPhase } from "./finish.ts";

export const APPLY_PHASES: readonly Phase<ApplyData>[] = [
  connect,
  gatherFacts,
  preflightPhase,
  prepareOs,
  packagesPhase,
  runtimePhase,
  lbPhase,
  etcdPhase,
  controlPlanePhase,
  workersPhase,
  revokeTokenPhase,
  cniPhase,
  kubeconfigPhase,
  verifyPhase,
];
