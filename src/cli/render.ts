/**
 * `kubeha render FILE --dir DIR`: writes every file each host needs under DIR/<host>/<absolute
 * path>, plus DIR/<host>/install.sh. Reads (or creates) the PKI state directory for the
 * cluster's certificates and secrets; everything else is pure rendering.
 */
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { chmod, mkdir, readdir, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Command } from "./main.ts";
import { parseFlags } from "./flags.ts";
import { DATA_FORMATS, PROGRESS_FORMATS } from "./output.ts";
import { UsageError, KubehaError } from "../errors.ts";
import { loadCluster } from "../spec/read.ts";
import { formatProblem } from "../errors.ts";
import { resolveDirForWriting } from "../util/outdir.ts";
import { RENDER_NOTE } from "../render/paths.ts";
import type { Cluster } from "../spec/model.ts";
import { renderCluster, type RenderExtra } from "../render/index.ts";
import type { HostRender, Secrets } from "../render/types.ts";
import { ignitionOutputs, isIgnitionVersion, IGNITION_VERSIONS, DEFAULT_IGNITION_VERSION, type IgnitionVersion } from "../render/ignition.ts";

const HELP = `kubeha render: write every file each host needs, plus a readable install.sh per host.

Usage: kubeha render FILE --dir DIR [--force] [--host NAME]...
       kubeha render FILE --format ignition [--ignition-version V] --dir DIR [--host NAME]...

Writes DIR/<host>/<absolute path> for every file (haproxy.cfg, keepalived.conf, kubeadm
configuration, runtime and package settings, certificates, ...) and DIR/<host>/install.sh, which
does that host's part by hand (run it as root from DIR/<host>/). Files holding secrets (keys,
tokens, passwords) are written mode 0600. Output is deterministic: rendering the same cluster file
with the same state directory again gives byte-identical files. DIR holds the cluster's keys: it is
created mode 0700, with a ${RENDER_NOTE} saying so; treat it like the state directory.

The certificates and secrets come from the cluster's state directory (spec.pki.stateDir, default
.kubeha/<name> beside the cluster file); it is created on first use.

Flags:
      --dir DIR      Output directory (required). Must be empty or absent unless --force.
                     -o DIR / --output DIR work too (as before), except for the output
                     formats of the other commands (table, wide, json, yaml, ...).
      --force        Write into a non-empty DIR (each rendered host's folder is replaced).
      --host NAME    Render only this host (repeatable).
      --format F     \`files\` (default): the tree above. \`ignition\`: DIR/<host>.ign (Ignition config)
                     and DIR/<host>.bu (Butane, for review) per host, for hosts that configure
                     themselves at first boot (docs/ignition.md). Both hold secrets: mode 0600.
      --ignition-version V   Ignition spec of the .ign files: 3.2.0 (default), 3.3.0 or 3.4.0.
  -h, --help         Show this help.

Examples:
  kubeha render examples/seed-002-colocated-16443.yaml --dir out/
  less out/server7-master/etc/haproxy/haproxy.cfg
  kubeha render cluster.yaml --dir out/ --force --host lb01 --host lb02
  scp -r out/lb01 root@lb01:/root/kubeha-render && ssh root@lb01 bash /root/kubeha-render/install.sh
`;

/**
 * Secrets and PKI files for a cluster, from the PKI module's state directory. The one place
 * `render` touches the PKI (and the only effect besides writing DIR).
 */
async function pkiFor(cluster: Cluster, opts: { sharedOnEveryControlPlane?: boolean } = {}): Promise<{ secrets: Secrets; extra: RenderExtra }> {
  const { ensureState, pkiFilesForHost } = await import("../pki/index.ts");
  const state = await ensureState(cluster);
  return { secrets: state.secrets, extra: { pkiFiles: (host) => pkiFilesForHost(cluster, state, host, opts) } };
}

async function isNonEmptyDir(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length > 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    if ((err as NodeJS.ErrnoException).code === "ENOTDIR") {
      throw new UsageError(`${dir} exists and is not a directory`, "choose another output directory with --dir");
    }
    throw err;
  }
}

/**
 * Creates DIR 0700 and puts a note in it: the render holds the cluster's CA keys, join token and
 * passwords, so the folder is as sensitive as the state directory. True when DIR was empty or absent.
 */
async function prepareOutDir(out: string, cluster: Cluster): Promise<boolean> {
  const existed = await isNonEmptyDir(out);
  await mkdir(out, { recursive: true, mode: 0o700 });
  // A folder of the user's with other content (--force) keeps its mode, with a warning if it is open.
  if (!existed) await chmod(out, 0o700);
  else if (((await stat(out)).mode & 0o077) !== 0) process.stderr.write(`warning: ${out} is accessible by other users and now holds private keys; run \`chmod 700 ${out}\`\n`);
  const note = `This folder was written by \`kubeha render\` for cluster ${cluster.name}.

It holds the cluster's private keys (CA keys among them), the bootstrap token and passwords: it is
as sensitive as the state directory ${cluster.pki.stateDir}. Keep it mode 0700, copy each
<host>/ folder only to that host, and delete the folder when you are done.
`;
  await writeFile(join(out, RENDER_NOTE), note, { mode: 0o600 });
  await chmod(join(out, RENDER_NOTE), 0o600);
  return !existed;
}

/**
 * Writes one host's folder, DIR/<host>/. Secret files are created 0600 from the start.
 * Synchronous on purpose: thousands of small files, one after another, cost a third of the time
 * through the promise API. Each directory is made once, parents first (`dirs` holds every
 * ancestor), so no mkdir fails and is retried. `encoded` holds the previous host's bytes by path:
 * most files are the same text on every host of a role, and are then encoded once.
 */
function writeHostFolder(dir: string, r: HostRender, w: { fresh: boolean; umask: number; encoded: Map<string, { text: string; bytes: Buffer }> }): number {
  const base = join(dir, r.host);
  if (!w.fresh) rmSync(base, { recursive: true, force: true });
  const dirs = new Set<string>([base]);
  for (const f of r.files) {
    for (let d = dirname(join(base, f.path)); d.length > base.length && !dirs.has(d); d = dirname(d)) dirs.add(d);
  }
  for (const d of [...dirs].sort()) mkdirSync(d, { mode: 0o755 });
  const put = (rel: string, text: string, mode: number) => {
    let e = w.encoded.get(rel);
    if (e?.text !== text) w.encoded.set(rel, (e = { text, bytes: Buffer.from(text, "utf8") }));
    const target = join(base, rel);
    writeFileSync(target, e.bytes, { mode });
    // The umask only ever removes bits; chmod puts back what it removed (a 077 umask and a 0644 file).
    if (mode & w.umask) chmodSync(target, mode);
  };
  for (const f of r.files) put(f.path, f.content, f.secret ? 0o600 : f.mode);
  put("install.sh", r.installScript, 0o755);
  return r.files.length + 1;
}

/**
 * Writes every host's render under DIR/<host>/ and returns the lines `render` prints, one per host.
 * `fresh`: DIR was empty before this run, so no host folder needs replacing.
 */
export function writeRenders(out: string, renders: readonly HostRender[], opts: { fresh: boolean }): string {
  const w = { fresh: opts.fresh, umask: process.umask(), encoded: new Map<string, { text: string; bytes: Buffer }>() };
  let text = "";
  for (const r of renders) {
    const n = writeHostFolder(out, r, w);
    let secret = 0;
    for (const f of r.files) if (f.secret) secret++;
    text += `${r.host}: ${n} files (${secret} secret, mode 0600) -> ${join(out, r.host)}/\n`;
  }
  return text;
}

async function writeIgnition(out: string, cluster: Cluster, only: string[], version: IgnitionVersion): Promise<number> {
  const { secrets, extra } = await pkiFor(cluster, { sharedOnEveryControlPlane: true });
  const { bootBundle } = await import("../phases/steps.ts");
  const bundle = await bootBundle(cluster);
  const outputs = ignitionOutputs(cluster, { secrets, ...extra, ...(bundle ? { bundle } : {}) }, version).filter((o) => only.length === 0 || only.includes(o.host));
  await mkdir(out, { recursive: true, mode: 0o755 });
  for (const o of outputs) {
    const target = join(out, o.name);
    await writeFile(target, o.content, { mode: 0o600 });
    await chmod(target, 0o600);
    process.stdout.write(`${o.host}: ${target} (secrets inside, mode 0600)\n`);
  }
  process.stdout.write(`rendered Ignition ${version} configs for ${outputs.length / 2} hosts; hand each <host>.ign to that machine at first boot\n`);
  return 0;
}

export const command: Command = {
  name: "render",
  help: HELP,
  async run(args) {
    const { values, positionals } = parseFlags("render", args, {
      dir: { type: "string" },
      output: { type: "string", short: "o" },
      force: { type: "boolean" },
      host: { type: "string", multiple: true },
      format: { type: "string" },
      "ignition-version": { type: "string" },
    });
    const format = values.format ?? "files";
    if (format !== "files" && format !== "ignition") throw new UsageError(`render: unknown --format ${format}`, "use --format files or --format ignition");
    const version = values["ignition-version"] ?? DEFAULT_IGNITION_VERSION;
    if (!isIgnitionVersion(version)) throw new UsageError(`render: unsupported --ignition-version ${version}`, `use one of ${IGNITION_VERSIONS.join(", ")}`);
    const [file, ...extra] = positionals;
    const usage = "usage: kubeha render FILE --dir DIR";
    if (!file) throw new UsageError("render: missing the cluster FILE", usage);
    if (extra.length > 0) throw new UsageError(`render: unexpected argument ${extra[0]}`, usage);
    if (values.dir !== undefined && values.output !== undefined) throw new UsageError("render: give the output directory once, with --dir", usage);
    // -o is the output format everywhere else: `render -o json` is that habit, not a directory.
    if (values.output !== undefined && ([...DATA_FORMATS, ...PROGRESS_FORMATS] as string[]).includes(values.output)) {
      throw new UsageError(`render: -o ${values.output} looks like an output format; render writes files into a directory`, `kubeha render ${file} --dir DIR (or --dir ./${values.output} for a directory of that name)`);
    }
    const dir = values.dir ?? values.output;
    if (!dir) throw new UsageError("render: missing --dir DIR", usage);
    const out = await resolveDirForWriting(dir, "render: output directory", "choose another directory with --dir");
    if (!values.force && (await isNonEmptyDir(out))) {
      throw new UsageError(`render: ${out} is not empty`, "choose an empty directory, or pass --force to replace the hosts' folders in it");
    }
    const { cluster, warnings } = await loadCluster(file);
    for (const w of warnings) process.stderr.write(formatProblem(file, w) + "\n");
    const only = values.host ?? [];
    for (const n of only) {
      if (!cluster.hosts.some((h) => h.name === n)) {
        throw new UsageError(`render: no host named ${n} in ${file}`, `hosts: ${cluster.hosts.map((h) => h.name).join(", ")}`);
      }
    }
    if (format === "ignition") return writeIgnition(out, cluster, only, version);
    const { secrets, extra: pki } = await pkiFor(cluster);
    const renders = renderCluster(cluster, secrets, pki).filter((r) => only.length === 0 || only.includes(r.host));
    if (renders.length === 0) throw new KubehaError("render: nothing to render", "check --host");
    const fresh = await prepareOutDir(out, cluster);
    process.stdout.write(writeRenders(out, renders, { fresh }));
    process.stdout.write(`rendered ${renders.length} host${renders.length === 1 ? "" : "s"}; run each DIR/<host>/install.sh as root on that host\n`);
    return 0;
  },
};
