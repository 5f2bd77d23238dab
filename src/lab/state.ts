/**
 * Runtime state of a running lab, in /run/kubeha/lab/<name>/state.json. `lab down` uses it
 * when it is there and falls back to the naming conventions (cgroup `kubeha-lab-<name>`,
 * bridge `kh-<name>`, /var/lib/kubeha/lab/<name>) when it is missing or corrupt.
 */
import { promises as fs, readFileSync } from "node:fs";
import path from "node:path";
import type { MachineRole } from "./plan.ts";
import { LAB_CGROUP_PREFIX, PATHS } from "./plan.ts";

export interface MachineState {
  name: string;
  role: MachineRole;
  address: string;
  /** systemd-nspawn machine name. */
  unit: string;
  /** The overlay mount nspawn boots from. */
  root: string;
  upper: string;
  work: string;
  /** PID of the launcher shell (parent of systemd-nspawn); absent when stopped. */
  launcherPid?: number;
}

export interface LabState {
  version: 1;
  name: string;
  subnet: string;
  bridge: string;
  bridgeAddress: string;
  vip: string;
  proxyUrl: string;
  /** How the machines were provisioned (absent: `ssh`, as before this field). */
  provision?: "ssh" | "ignition";
  /** Where cluster.yaml, keys and known_hosts were written. */
  dir: string;
  cgroup: string;
  baseRootfs: string;
  machines: MachineState[];
  proxyPid?: number;
  /** Machine pairs cut off from each other by `lab partition`. */
  partitions: Array<[string, string]>;
  /** Original rp_filter of host0 per machine, restored by `lab heal`. */
  rpFilter: Record<string, string>;
}

export const stateFile = (name: string) => path.join(PATHS.run, name, "state.json");

/** The state of lab `name`, or undefined when missing or unreadable. */
export async function readState(name: string): Promise<LabState | undefined> {
  return parseState(name, await fs.readFile(stateFile(name), "utf8").catch(() => ""));
}

/** readState without yielding: for the one step that must happen the moment it is asked (labStop's plug). */
export function readStateSync(name: string): LabState | undefined {
  let text = "";
  try {
    text = readFileSync(stateFile(name), "utf8");
  } catch {
    // no state: undefined below
  }
  return parseState(name, text);
}

function parseState(name: string, text: string): LabState | undefined {
  try {
    const s = JSON.parse(text) as LabState;
    if (s.version !== 1 || s.name !== name || !Array.isArray(s.machines)) return undefined;
    return s;
  } catch {
    return undefined;
  }
}

/** Writes the state atomically (a reader never sees half a file). */
export async function writeState(s: LabState): Promise<void> {
  const f = stateFile(s.name);
  await fs.mkdir(path.dirname(f), { recursive: true });
  const tmp = `${f}.${process.pid}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(s, null, 2) + "\n");
  await fs.rename(tmp, f);
}

/** Names of labs that have runtime state or machine directories on this host. */
export async function knownLabs(): Promise<string[]> {
  const names = new Set<string>();
  for (const d of [PATHS.run, PATHS.machines]) {
    for (const e of await fs.readdir(d).catch(() => [] as string[])) names.add(e);
  }
  for (const r of PATHS.cgroupRoots) {
    for (const e of await fs.readdir(r).catch(() => [] as string[])) {
      if (e.startsWith(LAB_CGROUP_PREFIX) && e.length > LAB_CGROUP_PREFIX.length) names.add(e.slice(LAB_CGROUP_PREFIX.length));
    }
  }
  return [...names].sort();
}
