/**
 * The lab's base image: a Debian bookworm tree made by debootstrap, holding what a freshly
 * installed server has. Built once per recipe, cached under /var/cache/kubeha/base/<hash>,
 * built in a temporary directory and renamed into place so a killed build leaves no half base.
 */
import { existsSync, promises as fs } from "node:fs";
import path from "node:path";
import { KubehaError } from "../errors.ts";
import { run } from "./host.ts";
import {
  BASE_MASKED_UNITS,
  IGNITION_BASE_DISABLED_UNITS,
  IGNITION_NULL_SELINUX_POLICY,
  PATHS,
  baseRecipe,
  parseMirrors,
  recipeHash,
  renderSourcesList,
  type LabProvision,
  type Mirrors,
} from "./plan.ts";

const COMPLETE = ".kubeha-base-complete";

/** The host's Debian mirrors, read from its apt sources. */
export async function hostMirrors(): Promise<Mirrors> {
  const read = (p: string) => fs.readFile(p, "utf8").catch(() => undefined);
  const m = parseMirrors(await read("/etc/apt/sources.list.d/debian.sources"), await read("/etc/apt/sources.list"));
  if (!m) {
    throw new KubehaError(
      "no Debian mirror found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list",
      "add one, e.g. `deb http://deb.debian.org/debian bookworm main` to /etc/apt/sources.list",
    );
  }
  return m;
}

export interface BaseInfo {
  /** The root filesystem directory (overlay lower layer). */
  rootfs: string;
  hash: string;
  mirrors: Mirrors;
  /** Whether this call built it (false: it was cached). */
  built: boolean;
  seconds: number;
}

/** Path of the cached base for the host's current recipe, built when missing. */
export async function ensureBase(
  opts: {
    progress?: (s: string) => void;
    /** Cache directory. Default /var/cache/kubeha/base (the bench builds a cold one elsewhere). */
    cacheDir?: string;
    /** `ignition`: the base with the packages a container OS image carries (plan.ts IGNITION_BASE_PACKAGES). */
    provision?: LabProvision;
  } = {},
): Promise<BaseInfo> {
  const cache = opts.cacheDir ?? PATHS.baseCache;
  const t0 = Date.now();
  const mirrors = await hostMirrors();
  const recipe = baseRecipe(mirrors, opts.provision);
  const hash = recipeHash(recipe);
  const dir = path.join(cache, hash);
  const rootfs = path.join(dir, "rootfs");
  if (existsSync(path.join(dir, COMPLETE))) {
    return { rootfs, hash, mirrors, built: false, seconds: (Date.now() - t0) / 1000 };
  }
  await fs.mkdir(cache, { recursive: true });
  await removeStaleBuilds(cache);
  const tmp = path.join(cache, `.build-${hash}-${process.pid}`);
  await fs.rm(tmp, { recursive: true, force: true });
  const tmpRoot = path.join(tmp, "rootfs");
  await fs.mkdir(tmpRoot, { recursive: true });
  try {
    opts.progress?.(`Building the Debian bookworm ${recipe.flavour ? `${recipe.flavour} ` : ""}base ${hash} with debootstrap (once; about a minute)`);
    await run(
      "debootstrap",
      ["--variant=minbase", `--include=${recipe.packages.join(",")}`, recipe.suite, tmpRoot, mirrors.debian],
      { what: "debootstrap", timeoutMs: 20 * 60_000 },
    );
    opts.progress?.("Preparing the base (machine-id, host keys, networkd, masked timers)");
    await customize(tmpRoot, mirrors);
    if (recipe.flavour === "ignition") await customizeForIgnition(tmpRoot);
    await fs.writeFile(path.join(tmp, "recipe.json"), JSON.stringify(recipe, null, 2) + "\n");
    await fs.writeFile(path.join(tmp, COMPLETE), hash + "\n");
    try {
      await fs.rename(tmp, dir);
    } catch (e) {
      // Another `lab up` finished the same recipe first: use that one.
      if (!existsSync(path.join(dir, COMPLETE))) throw e;
      await fs.rm(tmp, { recursive: true, force: true });
    }
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  }
  opts.progress?.(`Base ready in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${rootfs}`);
  return { rootfs, hash, mirrors, built: true, seconds: (Date.now() - t0) / 1000 };
}

/** Removes builds left by a killed `lab up` (their PID is gone). */
async function removeStaleBuilds(cache: string): Promise<void> {
  for (const e of await fs.readdir(cache)) {
    const m = /^\.build-[0-9a-f]+-(\d+)$/.exec(e);
    if (!m) continue;
    let running = true;
    try {
      process.kill(Number(m[1]), 0);
    } catch {
      running = false;
    }
    if (!running) await fs.rm(path.join(cache, e), { recursive: true, force: true });
  }
}

async function write(root: string, p: string, content: string, mode = 0o644): Promise<void> {
  const f = path.join(root, p);
  await fs.mkdir(path.dirname(f), { recursive: true });
  await fs.writeFile(f, content, { mode });
  await fs.chmod(f, mode);
}

/** Makes the debootstrap tree behave as a fresh server inside an nspawn machine (lab-notes.md). */
async function customize(root: string, mirrors: Mirrors): Promise<void> {
  const chroot = (...args: string[]) => run("chroot", [root, ...args], { what: `chroot ${args.join(" ")}` });
  await write(root, "etc/apt/sources.list", renderSourcesList(mirrors));
  // Every machine gets its own id (written per machine); dbus reads the same file.
  await write(root, "etc/machine-id", "", 0o444);
  await fs.rm(path.join(root, "var/lib/dbus/machine-id"), { force: true });
  await fs.mkdir(path.join(root, "var/lib/dbus"), { recursive: true });
  await fs.symlink("/etc/machine-id", path.join(root, "var/lib/dbus/machine-id"));
  // debootstrap copies the host's identity; machines get their own.
  await fs.rm(path.join(root, "etc/hostname"), { force: true });
  await write(root, "etc/hosts", "127.0.0.1\tlocalhost\n");
  await write(root, "etc/resolv.conf", "# kubeha lab: no DNS server (the machines have no route out)\n");
  // Host keys made by openssh-server's postinst would be shared by every machine.
  for (const f of await fs.readdir(path.join(root, "etc/ssh"))) {
    if (f.startsWith("ssh_host_")) await fs.rm(path.join(root, "etc/ssh", f));
  }
  // Debian's ssh.service runs `sshd -t` first, which fails without keys: make missing keys first.
  await write(
    root,
    "etc/systemd/system/ssh.service.d/kubeha-lab-hostkeys.conf",
    [
      "# kubeha lab: a machine started without the host keys kubeha wrote makes its own.",
      "[Service]",
      "ExecStartPre=",
      "ExecStartPre=/bin/sh -c 'test -s /etc/ssh/ssh_host_ed25519_key || /usr/bin/ssh-keygen -A'",
      "ExecStartPre=/usr/sbin/sshd -t",
      "",
    ].join("\n"),
  );
  // kubeha writes ed25519 and ecdsa keys per machine and lists them in known_hosts.
  await write(
    root,
    "etc/ssh/sshd_config.d/kubeha-lab-hostkeys.conf",
    "HostKey /etc/ssh/ssh_host_ed25519_key\nHostKey /etc/ssh/ssh_host_ecdsa_key\n",
  );
  await fs.mkdir(path.join(root, "root/.ssh"), { recursive: true, mode: 0o700 });
  await chroot("systemctl", "enable", "systemd-networkd.service");
  await chroot("systemctl", "mask", ...BASE_MASKED_UNITS);
  await chroot("apt-get", "clean");
}

/**
 * The Ignition base: what an image-based system carries for Ignition and for hosts that install
 * nothing (lab-notes.md, docs/ignition.md):
 * - the daemons' packages are there but their units disabled: Debian would start a default
 *   haproxy and a single-node etcd at boot; install.sh enables and starts them once configured;
 * - /etc/selinux/config naming a policy whose file_contexts labels nothing: Debian's Ignition is
 *   built with SELinux relabeling and runs the real `setfiles` with the root's policy at the end of
 *   its files stage (a root without one fails there);
 * - sshd reads Ignition's `~/.ssh/authorized_keys.d/ignition` (Fedora CoreOS does the same with
 *   its ssh-key-dir helper), where Ignition writes `passwd.users[].sshAuthorizedKeys`.
 */
async function customizeForIgnition(root: string): Promise<void> {
  await run("chroot", [root, "systemctl", "disable", ...IGNITION_BASE_DISABLED_UNITS], { what: "chroot systemctl disable" });
  await write(root, "etc/selinux/config", `# kubeha lab: SELinux is not used; Ignition relabels with this policy, which labels nothing.\nSELINUX=disabled\nSELINUXTYPE=${IGNITION_NULL_SELINUX_POLICY}\n`);
  await write(root, `etc/selinux/${IGNITION_NULL_SELINUX_POLICY}/contexts/files/file_contexts`, "/.*\t<<none>>\n");
  await write(
    root,
    "etc/ssh/sshd_config.d/kubeha-lab-ignition-keys.conf",
    "# kubeha lab (Ignition base): the keys Ignition writes for passwd.users[].sshAuthorizedKeys.\nAuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys.d/ignition\n",
  );
}
