/**
 * kubeha as a library: `import { loadCluster, apply, status, drill } from "kubeha"`.
 * The CLI is a thin layer over exactly these functions. docs/library.md shows them in use.
 */

// The cluster file: read, validate (schema + semantic rules, every problem at once), normalize.
export { loadCluster, parseCluster, clusterSchema, formatPath, type ParseResult } from "./spec/read.ts";
export type { NormalizeOptions } from "./spec/normalize.ts";
export type { ClusterFile } from "./spec/file.ts";
export type { Cluster, Host, Role, Ssh, Endpoint, EndpointMode, Kubernetes, Etcd, Packages, Pki } from "./spec/model.ts";
export { hostsWithRole, firstControlPlane, hostByName, endpointHostPort } from "./spec/model.ts";
export { exampleFile, commentedYaml, type ExampleLb } from "./spec/example.ts";

// Rendering (pure): every file each host needs, and its install.sh.
export { renderCluster, renderHostFiles, PATHS, type RenderExtra, type HostRender, type RenderedFile, type Secrets } from "./render/index.ts";

// The PKI and state directory.
export {
  ensureState,
  rotateJoin,
  inspectState,
  pkiFilesForHost,
  kubeconfig,
  caCertHash,
  certInfo,
  tokenId,
  State,
  type EnsureOptions,
  type StateReport,
  type CertReport,
  type CertStatus,
  type CertInfo,
  type KeyAlgorithm,
  type KubeconfigKind,
} from "./pki/index.ts";

// plan / apply, with progress events.
export { apply, DEFAULT_CONCURRENCY, type ApplyOptions, type ApplyResult } from "./apply.ts";
export { APPLY_PHASES } from "./phases/apply.ts";
export { phaseIds } from "./phases/runner.ts";
export { Reporter, record, attachRenderer, formatChanges, type RunEvent, type ErrorInfo, type PhaseInfo, type Change, type OutputMode } from "./report/index.ts";

// Day-2: take hosts out of the running cluster (the guard and the steps are pure).
export { removeNodes, DEFAULT_DRAIN_TIMEOUT_SECONDS, type RemoveOptions, type RemoveResult } from "./ops/node-remove.ts";
export { removalRefusals, planRemoval, type RemovalAction, type RemovalPlan } from "./plan/remove.ts";

// status (read-only health).
export { status, type StatusOptions } from "./status.ts";
export { renderStatus, type StatusReport, type HostStatus, type HaproxyStatus, type EtcdStatus, type ReadyzStatus } from "./probe/status.ts";
export type { HostCertificate } from "./probe/certs.ts";

// The failover drill.
export { drill, drillPassed, type DrillOptions } from "./drill/run.ts";
export { labMachines, commandMachines, type Machines } from "./drill/machines.ts";
export { renderDrillSummary } from "./drill/summary.ts";
export { reportFiles, reportJson } from "./drill/report-html.ts";
export { SCENARIOS, PROFILES, type ScenarioName, type ProfileName, type DrillReport, type ScenarioResult, type ScenarioFigures } from "./drill/types.ts";

// The lab (Linux, root: systemd-nspawn machines). docs/lab.md.
export { labUp, labDown, labLeftovers, labStatus, labInfo, labExec, labSshArgs, labStop, labStart, labPartition, labHeal, type LabInfo, type UpOptions, type LabStatus, type MachineStatus } from "./lab/index.ts";

// Errors: every error a user can cause is a KubehaError with a hint and an exit code.
export { KubehaError, UsageError, ValidationError, StepError, InternalError, formatProblem, type Problem } from "./errors.ts";

export { version } from "./version.ts";
