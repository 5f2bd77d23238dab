/**
 * Ignition configs: a host that configures itself at first boot, with no SSH (Fedora CoreOS,
 * Flatcar, ALT Container OS as in seed 004). Pure and byte-deterministic.
 *
 * No third description of the per-host work: the config carries the host's plan
 * (src/plan/host.ts) as `kubeha render` writes it — every file of the plan under
 * PATHS.installRoot, plus install.sh — and a oneshot unit that runs install.sh at boot until it
 * succeeds once. install.sh places the files with their owners, runs the guarded steps and
 * waits for the API before a join, so hosts booted together order themselves (docs/ignition.md).
 * Ignition itself only writes what must exist before install.sh can run: the hostname, the
 * static address, the SSH user's keys, an optional data disk.
 *
 * The same `FirstBoot` is written twice: as the Ignition config (JSON) here and as a Butane
 * file for people to review (butane.ts).
 */
import type { Cluster, Host } from "../spec/model.ts";
import type { RenderedFile, Secrets } from "./types.ts";
import { PATHS } from "./paths.ts";
import { planHost, planFiles, type StepPhase } from "../plan/host.ts";
import { renderInstallScript } from "./install-script.ts";
import { InternalError } from "../errors.ts";
import { renderButane } from "./butane.ts";
import { renderCrioStorage } from "./crio.ts";
import { isKubernetesNode } from "../spec/topology.ts";

/** The Ignition config spec versions kubeha writes; 3.2.0 is what seed 004's Butane 1.3.0 produces. */
export const IGNITION_VERSIONS = ["3.2.0", "3.3.0", "3.4.0"] as const;
export type IgnitionVersion = (typeof IGNITION_VERSIONS)[number];
export const DEFAULT_IGNITION_VERSION: IgnitionVersion = "3.2.0";
/** The Butane `fcos` spec version that produces each Ignition spec version (coreos.github.io/butane/specs). */
export const BUTANE_VERSION: Record<IgnitionVersion, string> = { "3.2.0": "1.3.0", "3.3.0": "1.4.0", "3.4.0": "1.5.0" };

/** Attempts of the install unit before it stays failed (each one waits up to 11 min for the API). */
export const INSTALL_ATTEMPTS = 20;
export const INSTALL_RETRY_SECONDS = 30;

/** A file Ignition writes, with the reason a reviewer reads in the Butane file. */
export interface BootFile {
  path: string;
  /** Text, or bytes (an offline bundle's binaries): written base64 in both files. */
  content: string | Uint8Array;
  mode: number;
  secret: boolean;
  /** Why it is there (a comment in the Butane file). */
  why: string;
}

export interface BootUnit {
  name: string;
  /** Absent: left as the image has it (a unit another unit pulls in, or one only given a drop-in). */
  enabled?: boolean;
  /** Absent: a unit the image (or a file of this config) provides, only enabled or given drop-ins here. */
  contents?: string;
  /** systemd drop-ins Ignition writes as `<name>.d/<drop-in name>`. */
  dropins?: { name: string; contents: string }[];
  why: string;
}

/** The SSH user as Ignition writes it (spec.provisioning.sshAuthorizedKeys and .user). */
export interface BootUser {
  name: string;
  sshAuthorizedKeys: string[];
  groups: string[];
  /** A crypt(3) hash: a secret, like the keys elsewhere in the config. */
  passwordHash?: string;
}

/** The data disk (spec.provisioning.dataDisk) and the directories Ignition creates on it. */
export interface BootDisk {
  device: string;
  format: string;
  label: string;
  path: string;
  directories: { path: string; mode: number }[];
}

/** An offline bundle's files and units (spec.packages.source: bundle), read by the caller (phases/steps.ts loadBundle). */
export interface BootBundle {
  description?: string;
  files: { path: string; content: Uint8Array; mode: number }[];
  enable: string[];
}

/** One host's first-boot content, before it is written as Ignition JSON or Butane YAML. */
export interface FirstBoot {
  host: string;
  cluster: string;
  users: BootUser[];
  files: BootFile[];
  units: BootUnit[];
  disk?: BootDisk;
}

export interface IgnitionInputs {
  secrets: Secrets;
  /**
   * Certificates and keys for a host. Must give every control plane the shared CAs and
   * service-account keys (pkiFilesForHost's `sharedOnEveryControlPlane`): joins from an Ignition
   * config carry no certificate key.
   */
  pkiFiles?: (host: string) => RenderedFile[];
  /**
   * The offline bundle, when `packages.source` is `bundle`: its files go to their destinations
   * and its units are enabled on every Kubernetes node, as `kubeha apply` installs them
   * (install.sh only checks that they are there).
   */
  bundle?: BootBundle;
}

/** Bytes that are UTF-8 text as a string (readable in the Butane file), others as they are. */
function asText(b: Uint8Array): string | Uint8Array {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(b);
  } catch {
    return b;
  }
}

/** `/var/mnt/data` -> `var-mnt-data.mount` (systemd-escape --path --suffix=mount). */
export function mountUnitName(path: string): string {
  const trimmed = path.replace(/^\/+|\/+$/g, "");
  const esc = [...Buffer.from(trimmed, "utf8")]
    .map((b, i) => {
      const ch = String.fromCharCode(b);
      if (ch === "/") return "-";
      if (/[A-Za-z0-9:_]/.test(ch) || (ch === "." && i > 0)) return ch;
      return "\\x" + b.toString(16).padStart(2, "0");
    })
    .join("");
  return `${esc || "-"}.mount`;
}

function installUnit(c: Cluster): string {
  return [
    "[Unit]",
    `Description=kubeha: this host's part of cluster ${c.name} (install.sh from the Ignition config)`,
    `Documentation=file:${PATHS.installScript}`,
    "Wants=network-online.target",
    "After=network-online.target",
    "# Runs until it succeeds once; the marker then keeps it from running again (remove it to re-run).",
    `ConditionPathExists=!${PATHS.installedMarker}`,
    "# At most StartLimitBurst attempts in all: an infinite interval never resets the count.",
    "StartLimitIntervalSec=infinity",
    `StartLimitBurst=${INSTALL_ATTEMPTS}`,
    "",
    "[Service]",
    // Not a oneshot: a oneshot's start job lasts until install.sh ends (minutes: the joins wait for
    // the API), and the boot is not finished while a job runs (`systemctl is-system-running` says
    // `starting`). This unit is started once its process runs; the boot completes, and a failure
    // shows as a failed unit (system `degraded`).
    "Type=exec",
    // A join waits for the API itself (bounded), so the first control plane may boot last.
    `ExecStart=/bin/sh -c '/bin/bash ${PATHS.installScript} && mkdir -p ${PATHS.installedMarker.replace(/\/[^/]+$/, "")} && touch ${PATHS.installedMarker}'`,
    "Restart=on-failure",
    `RestartSec=${INSTALL_RETRY_SECONDS}`,
    "# One attempt is bounded: its waits for the API take at most 11 min, init or a join 10 min.",
    "RuntimeMaxSec=45min",
    `SyslogIdentifier=kubeha-install`,
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

function networkFile(c: Cluster, h: Host): string {
  const n = c.provisioning.network;
  return [
    `# Static address of ${h.name} (cluster ${c.name}), rendered by kubeha from spec.provisioning.network.`,
    "[Match]",
    `Name=${h.interface}`,
    "",
    "[Network]",
    "DHCP=no",
    `Address=${h.address}/${n.prefixLength}`,
    ...(h.internalAddress !== h.address ? [`Address=${h.internalAddress}/${n.prefixLength}`] : []),
    ...(n.gateway ? [`Gateway=${n.gateway}`] : []),
    ...n.dns.map((d) => `DNS=${d}`),
    "",
  ].join("\n");
}

/** A systemd .mount unit: `unit` lines under [Unit] after the description, then [Mount], then `install` lines under [Install]. */
function mountUnitText(m: { description: string; unit: string[]; what: string; where: string; type: string; options?: string; install?: string[] }): string {
  return [
    "[Unit]",
    `Description=${m.description}`,
    ...m.unit,
    "",
    "[Mount]",
    `What=${m.what}`,
    `Where=${m.where}`,
    `Type=${m.type}`,
    ...(m.options ? [`Options=${m.options}`] : []),
    "",
    ...(m.install ? ["[Install]", ...m.install, ""] : []),
  ].join("\n");
}

function mountUnit(d: NonNullable<Cluster["provisioning"]["dataDisk"]>): string {
  return mountUnitText({
    description: `kubeha data disk ${d.label} at ${d.path}`,
    unit: ["Before=local-fs.target"],
    what: `/dev/disk/by-label/${d.label}`,
    where: d.path,
    type: d.format,
    install: ["RequiredBy=local-fs.target"],
  });
}

/** Where each runtime keeps its storage, and its unit: what a data disk takes over. */
const RUNTIME_STORAGE = {
  "cri-o": { runtime: "CRI-O", service: "crio.service", root: PATHS.crioRoot },
  containerd: { runtime: "containerd", service: "containerd.service", root: PATHS.containerdRoot },
} as const;

/**
 * The runtime's storage on the data disk, as seed 004's fstab line
 * `/var/mnt/docker/containers/ /var/lib/containers/ none bind`: the runtime's root is a bind
 * mount of a directory of the disk (Ignition creates it there), mounted after the disk and before
 * the runtime, and the runtime's unit requires it (a drop-in), so the runtime never starts on the
 * root filesystem's copy. CRI-O also gets its storage driver (renderCrioStorage).
 */
function dataDiskStorage(c: Cluster, h: Host, d: Cluster["provisioning"]["dataDisk"]): { files: BootFile[]; units: BootUnit[]; directories: BootDisk["directories"] } {
  if (!d || !isKubernetesNode(h)) return { files: [], units: [], directories: [] };
  const rt = RUNTIME_STORAGE[c.kubernetes.containerRuntime];
  const source = `${d.path}/${rt.root.replace(/^.*\//, "")}`;
  const bind = mountUnitText({
    description: `kubeha: ${rt.runtime}'s storage (${rt.root}) on the data disk (${source})`,
    unit: ["# After the data disk is mounted, before the runtime starts (its drop-in also requires this mount).", `RequiresMountsFor=${d.path}`, `Before=${rt.service}`],
    what: source,
    where: rt.root,
    type: "none",
    options: "bind",
  });
  const dropin = [
    "[Unit]",
    `# kubeha: ${rt.runtime}'s storage is on the data disk (${d.path}); never start on the root filesystem's ${rt.root}.`,
    `RequiresMountsFor=${rt.root}`,
    "",
  ].join("\n");
  const driver = d.format === "btrfs" ? "btrfs" : "overlay";
  const files: BootFile[] =
    c.kubernetes.containerRuntime === "cri-o"
      ? renderCrioStorage(driver).map((f) => ({
          path: f.path,
          content: f.content,
          mode: f.mode,
          secret: f.secret,
          why: `CRI-O's storage on the ${d.format} data disk: driver ${driver}, as seed 004's 00-btrfs.conf and storage.conf`,
        }))
      : [];
  return {
    files,
    units: [
      { name: mountUnitName(rt.root), contents: bind, why: `bind-mounts ${source} onto ${rt.root}; ${rt.service} requires it` },
      { name: rt.service, dropins: [{ name: PATHS.dataDiskDropInName, contents: dropin }], why: `${rt.service} starts only once its storage on the data disk is mounted` },
    ],
    directories: [{ path: source, mode: 0o711 }],
  };
}

/** The SSH user's sudoers drop-in (seed 004's /etc/sudoers.d/altcos), when asked for. */
function sudoersFile(c: Cluster, user: string): BootFile[] {
  if (!c.provisioning.user.passwordlessSudo) return [];
  return [{ path: `${PATHS.sudoersDir}/${user}`, content: `${user} ALL=NOPASSWD: ALL\n`, mode: 0o440, secret: false, why: `passwordless sudo for ${user} (spec.provisioning.user.passwordlessSudo), as seed 004` }];
}

/** The SSH user, when the config has anything to say about it. */
function bootUsers(c: Cluster, h: Host): BootUser[] {
  const p = c.provisioning;
  if (!p.sshAuthorizedKeys.length && !p.user.groups.length && p.user.passwordHash === undefined) return [];
  return [{ name: h.ssh.user, sshAuthorizedKeys: [...p.sshAuthorizedKeys], groups: [...p.user.groups], ...(p.user.passwordHash !== undefined ? { passwordHash: p.user.passwordHash } : {}) }];
}

/** One entry per unit name: Ignition refuses two (a bundle may enable the unit a drop-in is for). */
function mergeUnits(units: BootUnit[]): BootUnit[] {
  const byName = new Map<string, BootUnit>();
  for (const u of units) {
    const prev = byName.get(u.name);
    if (!prev) {
      byName.set(u.name, u);
      continue;
    }
    if (prev.contents !== undefined && u.contents !== undefined) throw new InternalError(`two first-boot units named ${u.name}`);
    const contents = prev.contents ?? u.contents;
    const enabled = prev.enabled ?? u.enabled;
    const dropins = [...(prev.dropins ?? []), ...(u.dropins ?? [])];
    byName.set(u.name, {
      name: u.name,
      ...(enabled !== undefined ? { enabled } : {}),
      ...(contents !== undefined ? { contents } : {}),
      ...(dropins.length ? { dropins } : {}),
      why: `${prev.why}; ${u.why}`,
    });
  }
  return [...byName.values()];
}

const byPath = <T extends { path: string }>(a: T, b: T) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/** One host's first-boot content: its plan's files and install.sh under PATHS.installRoot, and the unit. */
export function firstBoot(c: Cluster, h: Host, inputs: IgnitionInputs): FirstBoot {
  const steps = planHost(c, h, { secrets: inputs.secrets, sharedCertsPlaced: true, packagesFromImage: true, ...(inputs.pkiFiles ? { pkiFiles: inputs.pkiFiles } : {}) });
  const phaseOf = new Map<string, StepPhase>();
  for (const s of steps) if (s.kind === "files") for (const f of s.files) phaseOf.set(f.path, s.phase);
  const staged: BootFile[] = planFiles(steps).map((f) => ({
    path: PATHS.installRoot + f.path,
    content: f.content,
    mode: f.mode,
    secret: f.secret,
    why: `plan step ${phaseOf.get(f.path)}: install.sh places it at ${f.path}${f.owner ? ` (${f.owner})` : ""}${f.secret ? "; secret" : ""}`,
  }));
  const d = c.provisioning.dataDisk;
  const bundle = c.packages.source === "bundle" && steps.some((s) => s.kind === "bundle") ? inputs.bundle : undefined;
  if (c.packages.source === "bundle" && steps.some((s) => s.kind === "bundle") && !inputs.bundle) {
    throw new InternalError(`host ${h.name}: packages.source is bundle but the bundle's files were not given`);
  }
  const bundleWhy = `offline bundle (packages.source: bundle)${bundle?.description ? `: ${bundle.description}` : ""}`;
  const storage = dataDiskStorage(c, h, d);
  const files: BootFile[] = [
    ...staged,
    ...storage.files,
    ...sudoersFile(c, h.ssh.user),
    ...(bundle?.files ?? []).map((f) => ({ path: f.path, content: asText(f.content), mode: f.mode, secret: false, why: bundleWhy })),
    { path: PATHS.installScript, content: renderInstallScript(c, h, steps), mode: 0o755, secret: false, why: "the host's plan as a script; the install unit runs it" },
    { path: PATHS.etcHostname, content: h.name + "\n", mode: 0o644, secret: false, why: "hostname (also the node name)" },
    { path: PATHS.networkdWired, content: networkFile(c, h), mode: 0o644, secret: false, why: "static address (systemd-networkd), as seed 004's 20-wired.network" },
  ].sort(byPath);
  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f.path)) throw new InternalError(`two first-boot files at ${f.path} for host ${h.name}`);
    seen.add(f.path);
  }
  const units = mergeUnits([
    { name: PATHS.installUnit.replace(/^.*\//, ""), enabled: true, contents: installUnit(c), why: "runs install.sh at boot until it succeeds once (bounded)" },
    ...(d ? [{ name: mountUnitName(d.path), enabled: true, contents: mountUnit(d), why: `mounts the data disk at ${d.path}` }] : []),
    ...storage.units,
    ...(bundle?.enable ?? []).map((name) => ({ name, enabled: true, why: `enabled as \`kubeha apply\` does after installing the ${bundleWhy}` })),
  ]);
  return {
    host: h.name,
    cluster: c.name,
    users: bootUsers(c, h),
    files,
    units,
    ...(d ? { disk: { ...d, directories: storage.directories } } : {}),
  };
}

/**
 * A file's contents as a data URL, as Butane writes them without compression: RFC 2396
 * escaping (`data:,`), or base64 (`data:;base64,`) when that is shorter.
 */
export function dataUrl(content: string | Uint8Array): string {
  if (typeof content !== "string") return "data:;base64," + Buffer.from(content).toString("base64");
  const escaped = "," + encodeURIComponent(content);
  const b64 = ";base64," + Buffer.from(content, "utf8").toString("base64");
  return "data:" + (b64.length < escaped.length ? b64 : escaped);
}

/** The Ignition config object (stable key order). */
export function ignitionConfig(fb: FirstBoot, version: IgnitionVersion = DEFAULT_IGNITION_VERSION): object {
  const d = fb.disk;
  return {
    ignition: { version },
    ...(fb.users.length
      ? {
          passwd: {
            users: fb.users.map((u) => ({
              ...(u.groups.length ? { groups: u.groups } : {}),
              name: u.name,
              ...(u.passwordHash !== undefined ? { passwordHash: u.passwordHash } : {}),
              ...(u.sshAuthorizedKeys.length ? { sshAuthorizedKeys: u.sshAuthorizedKeys } : {}),
            })),
          },
        }
      : {}),
    storage: {
      ...(d
        ? {
            disks: [{ device: d.device, partitions: [{ label: d.label, number: 1 }], wipeTable: true }],
            // With its path, Ignition mounts the filesystem there before it creates the directories on it.
            ...(d.directories.length ? { directories: d.directories.map((x) => ({ mode: x.mode, path: x.path })) } : {}),
            filesystems: [{ device: `/dev/disk/by-partlabel/${d.label}`, format: d.format, label: d.label, ...(d.directories.length ? { path: d.path } : {}), wipeFilesystem: true }],
          }
        : {}),
      files: fb.files.map((f) => ({ path: f.path, contents: { source: dataUrl(f.content) }, mode: f.mode, overwrite: true })),
    },
    systemd: {
      units: fb.units.map((u) => ({
        ...(u.contents !== undefined ? { contents: u.contents } : {}),
        ...(u.dropins ? { dropins: u.dropins.map((x) => ({ contents: x.contents, name: x.name })) } : {}),
        ...(u.enabled !== undefined ? { enabled: u.enabled } : {}),
        name: u.name,
      })),
    },
  };
}

/** The Ignition config as written to HOST.ign: compact JSON, one trailing newline. */
export function renderIgnition(fb: FirstBoot, version: IgnitionVersion = DEFAULT_IGNITION_VERSION): string {
  return JSON.stringify(ignitionConfig(fb, version)) + "\n";
}

/** Every host's first-boot content, in file order. */
export function firstBoots(c: Cluster, inputs: IgnitionInputs): FirstBoot[] {
  return c.hosts.map((h) => firstBoot(c, h, inputs));
}

/** The files `kubeha render --format ignition` writes: HOST.bu and HOST.ign per host (both hold secrets). */
export function ignitionOutputs(c: Cluster, inputs: IgnitionInputs, version: IgnitionVersion = DEFAULT_IGNITION_VERSION): { host: string; name: string; content: string }[] {
  return firstBoots(c, inputs).flatMap((fb) => [
    { host: fb.host, name: `${fb.host}.bu`, content: renderButane(fb, version) },
    { host: fb.host, name: `${fb.host}.ign`, content: renderIgnition(fb, version) },
  ]);
}

export function isIgnitionVersion(v: string): v is IgnitionVersion {
  return (IGNITION_VERSIONS as readonly string[]).includes(v);
}
