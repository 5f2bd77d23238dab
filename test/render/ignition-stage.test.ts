/**
 * The real Ignition (Debian's ignition 2.14, the binary of its dracut module) runs its
 * `fetch-offline` and `files` stages with a kubeha config against a directory, as it does against
 * /sysroot in the initramfs, and the tree it writes is checked: every file with its content and
 * mode, the units, their drop-ins and presets, the SSH user (keys, groups, password hash, sudoers).
 *
 * The root it writes into is a minimal Debian-like root: root in passwd/shadow/group, the
 * /etc/.pwd.lock every Debian root has (useradd/usermod leave it; SELinux relabeling lstat()s it),
 * and /etc/selinux/config naming a policy whose file_contexts labels nothing (`<<none>>`): this
 * Ignition is built with SELinux relabeling, and relabels with the real `setfiles`
 * (policycoreutils) against the root's own policy. Needs root (useradd --root, chown).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { clustersUnderTest } from "./helpers.ts";
import { ensureState, pkiFilesForHost } from "../../src/pki/index.ts";
import { firstBoots, renderIgnition } from "../../src/render/ignition.ts";
import { PATHS } from "../../src/render/paths.ts";
import type { Cluster } from "../../src/spec/model.ts";

const IGNITION = "/usr/lib/dracut/modules.d/30ignition/ignition";

function debianLikeRoot(root: string): void {
  mkdirSync(join(root, "etc/selinux/kubeha-none/contexts/files"), { recursive: true });
  mkdirSync(join(root, "root"), { recursive: true, mode: 0o700 });
  mkdirSync(join(root, "home"), { mode: 0o755 });
  writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n");
  // The groups seed 004's user joins, as its image carries them (Ignition adds users to groups, it does not create them).
  writeFileSync(join(root, "etc/group"), "root:x:0:\nwheel:x:10:\ndocker:x:998:\n");
  writeFileSync(join(root, "etc/shadow"), "root:*:19000:0:99999:7:::\n", { mode: 0o640 });
  writeFileSync(join(root, "etc/gshadow"), "root:*::\nwheel:!::\ndocker:!::\n", { mode: 0o640 });
  writeFileSync(join(root, "etc/.pwd.lock"), "", { mode: 0o600 });
  writeFileSync(join(root, "etc/selinux/config"), "SELINUX=disabled\nSELINUXTYPE=kubeha-none\n");
  writeFileSync(join(root, "etc/selinux/kubeha-none/contexts/files/file_contexts"), "/.*\t<<none>>\n");
}

function ignition(dir: string, cfg: string, args: string[]): { code: number; log: string } {
  const r = spawnSync(IGNITION, ["-platform", "file", "-config-cache", join(dir, "cache.json"), "-state-file", join(dir, "state"), "-neednet", join(dir, "neednet"), "-log-to-stdout", ...args], {
    encoding: "utf8",
    env: { ...process.env, IGNITION_CONFIG_FILE: cfg },
    timeout: 120_000,
  });
  if (r.error) throw r.error;
  // The log holds the whole config (keys included): only its error lines are shown on failure.
  const log = `${r.stdout}${r.stderr}`;
  return { code: r.status ?? -1, log };
}

const errors = (log: string) => log.split("\n").filter((l) => l.startsWith("CRITICAL") || l.startsWith("ERROR")).map((l) => l.slice(0, 600)).join("\n");

test("the real Ignition files stage writes a control plane's config into a root: files, modes, units, presets, SSH keys", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kubeha-ign-stage-"));
  // Ignition writes a user's SSH keys as that user: the path down to the root must be traversable,
  // as /sysroot is in the initramfs (mkdtemp makes 0700). The config stays 0600, the PKI state 0700.
  chmodSync(dir, 0o755);
  try {
    const { cluster: base } = clustersUnderTest().find((x) => x.name === "seed-004-dedicated-lbs-8443")!;
    const cluster: Cluster = { ...base, pki: { ...base.pki, stateDir: join(dir, "state-dir") } };
    const state = await ensureState(cluster);
    const fb = firstBoots(cluster, { secrets: state.secrets, pkiFiles: (h) => pkiFilesForHost(cluster, state, h, { sharedOnEveryControlPlane: true }) }).find((b) => b.host === "master02")!;
    const cfg = join(dir, "master02.ign");
    writeFileSync(cfg, renderIgnition(fb, "3.3.0"), { mode: 0o600 });
    const root = join(dir, "root");
    debianLikeRoot(root);

    const fetch = ignition(dir, cfg, ["-stage", "fetch-offline"]);
    assert.equal(fetch.code, 0, errors(fetch.log));
    const files = ignition(dir, cfg, ["-stage", "files", "-root", root]);
    assert.equal(files.code, 0, errors(files.log));
    assert.match(files.log, /relabeling \d+ patterns/, "the relabeling step ran (setfiles against the root's policy)");

    assert.ok(fb.files.length > 20);
    for (const f of fb.files) {
      const p = join(root, f.path);
      assert.ok(existsSync(p), `${f.path} written`);
      assert.equal(readFileSync(p, "utf8"), f.content, `${f.path} content`);
      assert.equal(statSync(p).mode & 0o7777, f.mode, `${f.path} mode`);
      assert.equal(statSync(p).uid, 0);
    }
    assert.ok(fb.files.some((f) => f.path.endsWith("/etc/kubernetes/pki/ca.key") && f.mode === 0o600), "a CA key among them, 0600");
    for (const u of fb.units) if (u.contents !== undefined) assert.equal(readFileSync(join(root, "etc/systemd/system", u.name), "utf8"), u.contents);
    assert.ok(!existsSync(join(root, "etc/systemd/system/crio.service")), "the image's CRI-O unit is left alone (only a drop-in)");
    const preset = readFileSync(join(root, "etc/systemd/system-preset/20-ignition.preset"), "utf8");
    assert.match(preset, /^enable kubeha-install\.service$/m);
    assert.match(preset, /^enable var-mnt-docker\.mount$/m);
    for (const u of fb.units) {
      for (const d of u.dropins ?? []) assert.equal(readFileSync(join(root, "etc/systemd/system", `${u.name}.d`, d.name), "utf8"), d.contents, `${u.name} drop-in`);
    }
    assert.ok(fb.units.some((u) => u.name === "crio.service" && u.dropins?.length), "CRI-O's data-disk drop-in among them");
    assert.doesNotMatch(preset, /var-lib-containers\.mount|crio\.service/, "the bind mount and the runtime are not enabled by the config (the drop-in pulls the mount in)");
    // The runtime's storage directory on the data disk (here the root itself: no disk, no mount stage).
    for (const d of fb.disk!.directories) assert.equal(statSync(join(root, d.path)).mode & 0o7777, d.mode, d.path);

    // Seed 004's user: created with its groups, password hash and keys; the sudoers drop-in 0440 that visudo accepts.
    const user = "altcos";
    assert.match(readFileSync(join(root, "etc/passwd"), "utf8"), new RegExp(`^${user}:x:\\d+:\\d+:`, "m"));
    const group = readFileSync(join(root, "etc/group"), "utf8");
    for (const g of cluster.provisioning.user.groups) assert.match(group, new RegExp(`^${g}:x:\\d+:${user}$`, "m"), `${user} in ${g}`);
    const shadow = readFileSync(join(root, "etc/shadow"), "utf8").split("\n").find((l) => l.startsWith(`${user}:`));
    assert.equal(shadow?.split(":")[1], cluster.provisioning.user.passwordHash, "the password hash in /etc/shadow");
    const keys = readFileSync(join(root, `home/${user}/.ssh/authorized_keys.d/ignition`), "utf8");
    for (const k of cluster.provisioning.sshAuthorizedKeys) assert.ok(keys.includes(k), "the SSH user's key");
    const sudoers = join(root, PATHS.sudoersDir, user);
    assert.equal(statSync(sudoers).mode & 0o7777, 0o440);
    assert.equal(readFileSync(sudoers, "utf8"), `${user} ALL=NOPASSWD: ALL\n`);
    const visudo = spawnSync("visudo", ["-cf", sudoers], { encoding: "utf8", timeout: 30_000 });
    assert.equal(visudo.status, 0, visudo.stdout + visudo.stderr);
    assert.equal(readFileSync(join(root, PATHS.etcHostname), "utf8"), "master02\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
