/**
 * `kubeha lab up --provision ignition`: each machine's Ignition config (what `kubeha render
 * --format ignition` writes) is applied to its never-booted root by the real Ignition — Debian's
 * ignition 2.14, the binary of its dracut module — running the `fetch-offline` and `files` stages
 * against the root as it runs them against /sysroot in the initramfs. Nothing is installed over
 * SSH afterwards: the machines come up into the cluster by themselves (kubeha-install.service).
 */
import { existsSync, promises as fs } from "node:fs";
import path from "node:path";
import { KubehaError } from "../errors.ts";
import { run } from "./host.ts";
import type { MachineState } from "./state.ts";

/** Debian's Ignition (package `ignition`): the initramfs binary of its dracut module. */
export const IGNITION_BIN = "/usr/lib/dracut/modules.d/30ignition/ignition";
/** Where Ignition records the units it enables; systemd applies it on the first boot. */
const IGNITION_PRESET = "etc/systemd/system-preset/20-ignition.preset";

/** The Ignition configs of a lab's cluster file, one per host, written 0600 under `dir`. Returns host -> config path. */
export async function renderLabIgnition(clusterFile: string, dir: string): Promise<Map<string, string>> {
  const { loadCluster } = await import("../spec/read.ts");
  const { ensureState, pkiFilesForHost } = await import("../pki/index.ts");
  const { bootBundle } = await import("../phases/steps.ts");
  const { firstBoots, renderIgnition } = await import("../render/ignition.ts");
  const { cluster } = await loadCluster(clusterFile);
  const state = await ensureState(cluster);
  const bundle = await bootBundle(cluster);
  const boots = firstBoots(cluster, {
    secrets: state.secrets,
    pkiFiles: (h) => pkiFilesForHost(cluster, state, h, { sharedOnEveryControlPlane: true }),
    ...(bundle ? { bundle } : {}),
  });
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const out = new Map<string, string>();
  for (const fb of boots) {
    const p = path.join(dir, `${fb.host}.ign`);
    await fs.writeFile(p, renderIgnition(fb), { mode: 0o600 });
    await fs.chmod(p, 0o600);
    out.set(fb.host, p);
  }
  return out;
}

/** Only Ignition's error lines: its log holds the whole config, secrets included. */
function errorLines(log: string): string {
  return log
    .split("\n")
    .filter((l) => /^(CRITICAL|ERROR)\s/.test(l) || / (CRITICAL|ERROR) /.test(l))
    .map((l) => l.slice(0, 300))
    .slice(-6)
    .join("\n    ");
}

/**
 * Runs the real Ignition's `fetch-offline` and `files` stages with `config` against the machine's
 * root, then applies the presets Ignition wrote (what systemd does on a first boot) to the units it
 * names. `work` receives Ignition's cache and state files (0700: the cache holds the config).
 */
export async function applyIgnition(m: MachineState, config: string, work: string): Promise<void> {
  if (!existsSync(IGNITION_BIN)) {
    throw new KubehaError(`the real Ignition is not installed (${IGNITION_BIN})`, "install Debian's package: `apt-get install -y ignition`");
  }
  await fs.mkdir(work, { recursive: true, mode: 0o700 });
  const common = ["-platform", "file", "-config-cache", path.join(work, "config-cache.json"), "-state-file", path.join(work, "state"), "-log-to-stdout"];
  const env = { ...process.env, IGNITION_CONFIG_FILE: config };
  for (const stage of [["-stage", "fetch-offline", "-neednet", path.join(work, "neednet")], ["-stage", "files", "-root", m.root]]) {
    const r = await run(IGNITION_BIN, [...common, ...stage], { check: false, env, timeoutMs: 180_000 });
    if (r.code !== 0) {
      throw new KubehaError(
        `Ignition's ${stage[1]} stage failed for machine ${m.name} (exit ${r.code})${errorLines(r.stdout + r.stderr) ? `:\n    ${errorLines(r.stdout + r.stderr)}` : ""}`,
        `config: ${config}; run it by hand: IGNITION_CONFIG_FILE=${config} ${IGNITION_BIN} ${[...common, ...stage].join(" ")}`,
      );
    }
  }
  await fs.rm(path.join(work, "config-cache.json"), { force: true });
  const preset = await fs.readFile(path.join(m.root, IGNITION_PRESET), "utf8").catch(() => "");
  const units = preset.split("\n").flatMap((l) => /^enable\s+(\S+)$/.exec(l.trim())?.[1] ?? []);
  // systemd applies presets on a first boot only (machine-id missing or "uninitialized"); the lab
  // gives each machine its id before booting, so the lab applies the preset Ignition wrote to
  // exactly the units it names, as that first boot would.
  if (units.length) await run("systemctl", ["--root", m.root, "preset", ...units], { what: `systemctl --root preset for ${m.name}` });
}
