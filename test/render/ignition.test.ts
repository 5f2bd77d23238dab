/**
 * Ignition configs and Butane files (src/render/ignition.ts, butane.ts): every example and fixture,
 * with a real PKI state directory, passes the real `ignition-validate` (Debian's ignition 2.14);
 * each config carries exactly its host's plan (files, modes) plus install.sh and the install unit;
 * the unit passes `systemd-analyze verify`; control planes get the shared certificates and joins
 * carry no certificate key; the Butane file holds the same content; output is byte-deterministic
 * and pinned by golden files for seed 004.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { parse } from "yaml";
import { FIXTURE_SECRETS, REPO, clustersUnderTest, run } from "./helpers.ts";
import { ensureState, pkiFilesForHost } from "../../src/pki/index.ts";
import { imageCheckScript, planFiles, planHost } from "../../src/plan/host.ts";
import { debianPackages, imagePackages } from "../../src/render/packages.ts";
import { PATHS } from "../../src/render/paths.ts";
import { firstControlPlane, type Cluster } from "../../src/spec/model.ts";
import { firstBoots, ignitionOutputs, renderIgnition, mountUnitName, dataUrl, IGNITION_VERSIONS, type BootBundle, type FirstBoot } from "../../src/render/ignition.ts";
import { renderButane } from "../../src/render/butane.ts";

const GOLDEN = join(REPO, "test", "golden-ignition");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

interface IgnFile {
  path: string;
  mode: number;
  overwrite: boolean;
  contents: { source: string };
}
interface IgnUnit {
  name: string;
  enabled?: boolean;
  contents?: string;
  dropins?: { name: string; contents: string }[];
}
interface IgnConfig {
  ignition: { version: string };
  passwd?: { users: { name: string; sshAuthorizedKeys?: string[]; groups?: string[]; passwordHash?: string }[] };
  storage: { files: IgnFile[]; disks?: unknown[]; filesystems?: { device: string; format: string; label: string; path?: string }[]; directories?: { path: string; mode: number }[] };
  systemd: { units: IgnUnit[] };
}

/** Decodes a data URL the way Ignition does (percent-encoded or base64). */
function decodeDataUrl(u: string): string {
  const m = /^data:([^,]*),(.*)$/s.exec(u);
  assert.ok(m, `not a data URL: ${u.slice(0, 40)}`);
  return m[1]!.endsWith(";base64") ? Buffer.from(m[2]!, "base64").toString("utf8") : decodeURIComponent(m[2]!);
}

function withTmp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "kubeha-ign-"));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

function validate(dir: string, name: string, content: string): void {
  const p = join(dir, name);
  writeFileSync(p, content, { mode: 0o600 });
  const r = run("ignition-validate", [p]);
  assert.equal(r.code, 0, `ignition-validate ${name}: ${r.out}`);
}

const ksm = (m: number) => "0" + m.toString(8);

/** An offline bundle for the clusters with packages.source: bundle: a text file, a binary one, a unit to enable. */
const BUNDLE: BootBundle = {
  description: "test bundle",
  files: [
    { path: "/usr/bin/kubeadm", content: Buffer.from("#!/bin/sh\necho kubeadm\n"), mode: 0o755 },
    { path: "/usr/bin/kubelet", content: Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 0xff, 0x00, 0xc3]), mode: 0o755 },
  ],
  enable: ["kubelet.service"],
};
const bundleFor = (c: Cluster) => (c.packages.source === "bundle" ? { bundle: BUNDLE } : {});

for (const { name, cluster: base } of clustersUnderTest()) {
  test(`${name}: every host's Ignition config (3.2.0, 3.3.0) passes ignition-validate and carries exactly its plan, install.sh and the unit`, () =>
    withTmp(async (dir) => {
      const cluster: Cluster = { ...base, pki: { ...base.pki, stateDir: join(dir, "state") } };
      const state = await ensureState(cluster);
      const pkiFiles = (h: string) => pkiFilesForHost(cluster, state, h, { sharedOnEveryControlPlane: true });
      const boots = firstBoots(cluster, { secrets: state.secrets, pkiFiles, ...bundleFor(cluster) });
      assert.equal(boots.length, cluster.hosts.length);
      for (const fb of boots) {
        const h = cluster.hosts.find((x) => x.name === fb.host)!;
        for (const v of ["3.2.0", "3.3.0"] as const) validate(dir, `${fb.host}-${v}.ign`, renderIgnition(fb, v));
        // Debian's ignition 2.14 knows specs up to 3.3.0; the 3.4.0 config differs from 3.3.0 only in its version.
        const v33 = JSON.parse(renderIgnition(fb, "3.3.0")) as IgnConfig;
        assert.deepEqual(JSON.parse(renderIgnition(fb, "3.4.0")), { ...v33, ignition: { version: "3.4.0" } });

        const steps = planHost(cluster, h, { secrets: state.secrets, pkiFiles, sharedCertsPlaced: true, packagesFromImage: true });
        const want = new Map<string, number>(planFiles(steps).map((f) => [PATHS.installRoot + f.path, f.mode]));
        want.set(PATHS.installScript, 0o755);
        want.set(PATHS.etcHostname, 0o644);
        want.set(PATHS.networkdWired, 0o644);
        const bundled = cluster.packages.source === "bundle" && steps.some((s) => s.kind === "bundle");
        if (bundled) for (const f of BUNDLE.files) want.set(f.path, f.mode);
        // The runtime's storage on the data disk (CRI-O's configuration too), on the hosts that run one.
        const disk = cluster.provisioning.dataDisk;
        const storageMoved = !!disk && h.roles.some((r) => r === "control-plane" || r === "worker");
        if (storageMoved && cluster.kubernetes.containerRuntime === "cri-o") for (const f of [PATHS.crioStorageDropIn, PATHS.containersStorageConf]) want.set(f, 0o644);
        if (cluster.provisioning.user.passwordlessSudo) want.set(`${PATHS.sudoersDir}/${h.ssh.user}`, 0o440);
        const have = new Map(v33.storage.files.map((f) => [f.path, f.mode]));
        assert.deepEqual([...have.entries()].sort(), [...want.entries()].sort(), `${fb.host}: files and modes`);
        for (const f of planFiles(steps)) {
          const g = v33.storage.files.find((x) => x.path === PATHS.installRoot + f.path)!;
          assert.equal(decodeDataUrl(g.contents.source), f.content, `${fb.host}: ${f.path} content`);
          if (f.secret) assert.equal(g.mode, 0o600, `${fb.host}: secret ${f.path} is 0600`);
          assert.equal(g.overwrite, true);
        }
        const script = decodeDataUrl(v33.storage.files.find((x) => x.path === PATHS.installScript)!.contents.source);
        assert.match(script, /^#!\/usr\/bin\/env bash\n/);
        // Packages come with the image: no apt, no package source or key, a check of the image instead.
        assert.doesNotMatch(script, /apt-get|apt-mark|dpkg|apt_install|gpg/, `${fb.host}: install.sh never calls apt`);
        assert.ok(!planFiles(steps).some((f) => f.path.startsWith("/etc/apt/")), `${fb.host}: no apt files`);
        assert.match(script, /\nstep 'check that the image carries [a-z, -]+'\n/, `${fb.host}: checks the image`);
        assert.equal(decodeDataUrl(v33.storage.files.find((x) => x.path === PATHS.etcHostname)!.contents.source), `${h.name}\n`);
        assert.match(decodeDataUrl(v33.storage.files.find((x) => x.path === PATHS.networkdWired)!.contents.source), new RegExp(`\\nName=${h.interface}\\n[^]*\\nAddress=${h.address.replace(/\./g, "\\.")}/${cluster.provisioning.network.prefixLength}\\n`));
        const unit = v33.systemd.units.find((u) => u.name === "kubeha-install.service");
        assert.ok(unit?.enabled && unit.contents, `${fb.host}: kubeha-install.service enabled`);
        assert.ok(unit.contents.includes(`\nExecStart=/bin/sh -c '/bin/bash ${PATHS.installScript} && mkdir -p /var/lib/kubeha && touch ${PATHS.installedMarker}'\n`));
        // Not a oneshot: the boot completes while install.sh runs (the lab and status see a booted machine).
        assert.ok(unit.contents.includes("\nType=exec\n") && !unit.contents.includes("oneshot"));
        assert.ok(unit.contents.includes(`ConditionPathExists=!${PATHS.installedMarker}\n`));
        assert.equal(v33.systemd.units.length, 1 + (disk ? 1 : 0) + (storageMoved ? 2 : 0) + (bundled ? 1 : 0));
        if (bundled) {
          // The bundle's files at their destinations, byte for byte (text percent-encoded, binaries base64); its unit enabled.
          for (const f of BUNDLE.files) {
            const g = v33.storage.files.find((x) => x.path === f.path)!;
            const m = /^data:([^,]*),(.*)$/s.exec(g.contents.source)!;
            const bytes = m[1]!.endsWith(";base64") ? Buffer.from(m[2]!, "base64") : Buffer.from(decodeURIComponent(m[2]!), "utf8");
            assert.deepEqual(bytes, Buffer.from(f.content), `${fb.host}: bundle file ${f.path}`);
          }
          assert.deepEqual(v33.systemd.units.find((u) => u.name === "kubelet.service"), { name: "kubelet.service", enabled: true });
          assert.match(renderButane(fb, "3.3.0"), /path: \/usr\/bin\/kubelet\n\s+mode: 0755\n\s+overwrite: true\n\s+contents:\n\s+source: "?data:;base64,f0VMRv8Aww=="?/);
        }
        const u = cluster.provisioning.user;
        if (cluster.provisioning.sshAuthorizedKeys.length || u.groups.length || u.passwordHash) {
          assert.deepEqual(v33.passwd?.users, [{
            name: h.ssh.user,
            ...(u.groups.length ? { groups: u.groups } : {}),
            ...(u.passwordHash ? { passwordHash: u.passwordHash } : {}),
            ...(cluster.provisioning.sshAuthorizedKeys.length ? { sshAuthorizedKeys: cluster.provisioning.sshAuthorizedKeys } : {}),
          }]);
        } else assert.equal(v33.passwd, undefined);
      }
    }));
}

test("install.sh on an image without one of its packages fails naming the package and the command; with all of them it goes on", () =>
  withTmp(async (dir) => {
    const { cluster } = clustersUnderTest().find((x) => x.name === "seed-004-dedicated-lbs-8443")!;
    for (const h of cluster.hosts) {
      const need = imagePackages(cluster, h);
      assert.deepEqual(need.map((p) => p.pkg), debianPackages(cluster, h).filter((p) => p !== "ca-certificates" && p !== "gpg"), `${h.name}: the same list as apt's`);
      const step = planHost(cluster, h, { secrets: FIXTURE_SECRETS, packagesFromImage: true }).find((s) => s.kind === "run" && s.description.startsWith("check that the image carries"));
      assert.ok(step && step.kind === "run", `${h.name}: an image check step`);
      assert.equal(step.script, imageCheckScript(need));
      // A PATH holding every command but the last one (executables that do nothing).
      const bin = join(dir, h.name);
      mkdirSync(bin);
      for (const p of need.slice(0, -1)) writeFileSync(join(bin, p.command), "#!/bin/sh\n", { mode: 0o755 });
      const lacking = spawnSync("/bin/bash", ["-c", step.script], { encoding: "utf8", env: { PATH: bin }, stdio: ["ignore", "pipe", "pipe"] });
      const last = need[need.length - 1]!;
      assert.equal(lacking.status, 1, lacking.stderr);
      assert.equal(lacking.stderr, `the image lacks package(s): ${last.pkg} (command ${last.command}); a host configured by Ignition installs nothing, its packages come with the image\n`);
      writeFileSync(join(bin, last.command), "#!/bin/sh\n", { mode: 0o755 });
      const full = spawnSync("/bin/bash", ["-c", step.script], { encoding: "utf8", env: { PATH: bin }, stdio: ["ignore", "pipe", "pipe"] });
      assert.equal(full.status, 0, full.stderr);
    }
  }));

test("the shared certificates reach every control plane, and joins carry no certificate key (kubeadm's manual distribution list)", () =>
  withTmp(async (dir) => {
    for (const { name, cluster: base } of clustersUnderTest()) {
      // kubeadm's distribution list; binary mode's placement is test/render/binary.test.ts's.
      if (base.bootstrap === "binary") continue;
      const cluster: Cluster = { ...base, pki: { ...base.pki, stateDir: join(dir, name) } };
      const state = await ensureState(cluster);
      const boots = firstBoots(cluster, { secrets: state.secrets, pkiFiles: (h) => pkiFilesForHost(cluster, state, h, { sharedOnEveryControlPlane: true }), ...bundleFor(cluster) });
      const first = firstControlPlane(cluster).name;
      const shared = ["ca.crt", "ca.key", "sa.key", "sa.pub", "front-proxy-ca.crt", "front-proxy-ca.key", ...(cluster.etcd.mode === "stacked" ? ["etcd/ca.crt", "etcd/ca.key"] : ["etcd/ca.crt", "apiserver-etcd-client.crt", "apiserver-etcd-client.key"])];
      for (const h of cluster.hosts) {
        const fb = boots.find((b) => b.host === h.name)!;
        const paths = new Set(fb.files.map((f) => f.path));
        const cp = h.roles.includes("control-plane");
        for (const s of shared) assert.equal(paths.has(`${PATHS.installRoot}/etc/kubernetes/pki/${s}`), cp, `${name}/${h.name}: ${s}`);
        const joinFile = fb.files.find((f) => f.path === PATHS.installRoot + PATHS.kubeadmJoin);
        const join = joinFile && { content: String(joinFile.content) };
        if (h.name === first) assert.ok(fb.files.some((f) => f.path === PATHS.installRoot + PATHS.kubeadmInit));
        else if (join) {
          assert.ok(!join.content.includes("certificateKey"), `${name}/${h.name}: join.yaml has no certificateKey`);
          assert.ok(!join.content.includes(state.secrets.join.certificateKey));
          if (cp) assert.match(join.content, /controlPlane:/);
        }
      }
    }
  }));

test("the install unit passes systemd-analyze verify; the data disk's mount unit is named as systemd escapes its path", () =>
  withTmp(async (dir) => {
    const { cluster } = clustersUnderTest().find((x) => x.name === "seed-004-dedicated-lbs-8443")!;
    const fb = firstBoots(cluster, { secrets: FIXTURE_SECRETS }).find((b) => b.host === "lb01")!;
    for (const u of fb.units) writeFileSync(join(dir, u.name), u.contents ?? "");
    mkdirSync(join(dir, cluster.provisioning.dataDisk!.path.slice(1)), { recursive: true });
    const r = run("systemd-analyze", ["verify", ...fb.units.map((u) => join(dir, u.name))]);
    assert.equal(r.code, 0, r.out);
    assert.equal(mountUnitName("/var/mnt/docker"), "var-mnt-docker.mount");
    assert.equal(run("systemd-escape", ["--path", "--suffix=mount", "/var/mnt/my-data.x"]).out.trim(), mountUnitName("/var/mnt/my-data.x"));
    // A load balancer runs no container runtime: the disk is mounted, no storage moves onto it.
    assert.deepEqual(fb.units.map((u) => u.name), ["kubeha-install.service", "var-mnt-docker.mount"]);
  }));

/** seed 004 with another runtime, disk format or no disk: the cluster as normalize would give it. */
function seed004(runtime: "cri-o" | "containerd", format: "btrfs" | "ext4" | "xfs" | undefined): Cluster {
  const { cluster } = clustersUnderTest().find((x) => x.name === "seed-004-dedicated-lbs-8443")!;
  const { dataDisk, ...provisioning } = cluster.provisioning;
  return {
    ...cluster,
    kubernetes: { ...cluster.kubernetes, containerRuntime: runtime, criSocket: runtime === "cri-o" ? "unix:///var/run/crio/crio.sock" : "unix:///run/containerd/containerd.sock" },
    provisioning: format ? { ...provisioning, dataDisk: { ...dataDisk!, format } } : provisioning,
  };
}

for (const runtime of ["cri-o", "containerd"] as const) {
  test(`${runtime}: the runtime's storage is on the data disk exactly when one is set: bind mount after the disk and before the runtime, the runtime's drop-in requiring it, the storage driver; valid for ignition-validate and systemd-analyze`, () =>
    withTmp(async (dir) => {
      const svc = runtime === "cri-o" ? "crio.service" : "containerd.service";
      const root = runtime === "cri-o" ? PATHS.crioRoot : PATHS.containerdRoot;
      const bindName = mountUnitName(root);
      for (const format of ["btrfs", "ext4", undefined] as const) {
        const cluster = seed004(runtime, format);
        for (const fb of firstBoots(cluster, { secrets: FIXTURE_SECRETS })) {
          const node = fb.host.startsWith("master") || fb.host.startsWith("worker");
          const what = `${runtime}/${format ?? "no disk"}/${fb.host}`;
          const ign = JSON.parse(renderIgnition(fb, "3.2.0")) as IgnConfig;
          validate(dir, `${fb.host}.ign`, renderIgnition(fb, "3.2.0"));
          const bind = ign.systemd.units.find((u) => u.name === bindName);
          const rt = ign.systemd.units.find((u) => u.name === svc);
          const storageFiles = ign.storage.files.filter((f) => f.path === PATHS.crioStorageDropIn || f.path === PATHS.containersStorageConf);
          if (!format || !node) {
            assert.equal(bind, undefined, `${what}: no bind mount`);
            assert.equal(rt, undefined, `${what}: no runtime drop-in`);
            assert.deepEqual(storageFiles, [], `${what}: no storage configuration`);
            assert.equal(ign.storage.directories, undefined, `${what}: no directories`);
            assert.equal(ign.storage.filesystems?.[0]?.path, undefined, `${what}: the filesystem is not mounted by Ignition`);
            continue;
          }
          const disk = cluster.provisioning.dataDisk!;
          const source = `${disk.path}/${root.split("/").pop()}`;
          // The bind mount: what, where, after the disk's mount, before the runtime.
          assert.ok(bind?.contents, `${what}: bind mount unit`);
          assert.equal(bind.enabled, undefined, `${what}: pulled in by the runtime, not enabled on its own`);
          const lines = bind.contents.split("\n");
          for (const l of [`What=${source}`, `Where=${root}`, "Type=none", "Options=bind", `RequiresMountsFor=${disk.path}`, `Before=${svc}`]) assert.ok(lines.includes(l), `${what}: ${l}`);
          // The runtime's drop-in: it requires (and so is ordered after) its storage's mount.
          assert.deepEqual(rt, { name: svc, dropins: [{ name: PATHS.dataDiskDropInName, contents: rt!.dropins![0]!.contents }] }, `${what}: only a drop-in for ${svc}`);
          assert.ok(rt!.dropins![0]!.contents.split("\n").includes(`RequiresMountsFor=${root}`), `${what}: drop-in requires ${root}`);
          // Ignition mounts the filesystem at its path and creates the source directory on it.
          assert.equal(ign.storage.filesystems?.[0]?.path, disk.path);
          assert.deepEqual(ign.storage.directories, [{ mode: 0o711, path: source }]);
          if (runtime === "cri-o") {
            const driver = format === "btrfs" ? "btrfs" : "overlay";
            const crio = decodeDataUrl(storageFiles.find((f) => f.path === PATHS.crioStorageDropIn)!.contents.source);
            assert.match(crio, new RegExp(`\\n\\[crio\\]\\nroot = "${PATHS.containersGraphRoot}"\\nrunroot = "${PATHS.containersRunRoot}"\\nstorage_driver = "${driver}"\\n`), what);
            const conf = decodeDataUrl(storageFiles.find((f) => f.path === PATHS.containersStorageConf)!.contents.source);
            assert.match(conf, new RegExp(`\\n\\[storage\\]\\ndriver = "${driver}"\\n`), what);
            assert.ok(conf.includes(`graphroot = "${PATHS.containersGraphRoot}"`) && PATHS.containersGraphRoot.startsWith(root + "/"), `${what}: the graph root lies under the bind mount`);
            // After the plan's own drop-in, so its storage settings win.
            assert.ok(PATHS.crioStorageDropIn.split("/").pop()! > PATHS.crioDropIn.split("/").pop()!);
          } else assert.deepEqual(storageFiles, [], `${what}: containerd keeps its configuration (its root is the bind mount)`);

          // systemd reads the three units and the drop-in (a stand-in runtime unit takes the drop-in).
          const udir = join(dir, `units-${runtime}-${format}-${fb.host}`);
          mkdirSync(join(udir, `${svc}.d`), { recursive: true });
          for (const u of fb.units) if (u.contents) writeFileSync(join(udir, u.name), u.contents);
          writeFileSync(join(udir, svc), "[Unit]\nDescription=stand-in for the image's runtime unit\n[Service]\nExecStart=/bin/true\n");
          writeFileSync(join(udir, `${svc}.d`, PATHS.dataDiskDropInName), rt!.dropins![0]!.contents);
          const r = spawnSync("systemd-analyze", ["verify", ...[mountUnitName(disk.path), bindName, svc].map((n) => join(udir, n))], {
            encoding: "utf8",
            env: { ...process.env, SYSTEMD_UNIT_PATH: `${udir}:` },
            timeout: 60_000,
          });
          assert.equal(r.status, 0, `${what}: ${r.stdout}${r.stderr}`);
          // Not even a warning (an unknown key in the drop-in is only a warning, and would be ignored).
          assert.equal(`${r.stdout}${r.stderr}`, "", what);
        }
      }
    }));
}

test("a bundle that enables the runtime's unit and the data disk's drop-in for it make one unit entry (Ignition refuses two)", () =>
  withTmp(async (dir) => {
    const base = seed004("containerd", "btrfs");
    const cluster: Cluster = { ...base, packages: { ...base.packages, source: "bundle", bundle: "/nonexistent/bundle" } };
    const bundle: BootBundle = { ...BUNDLE, enable: ["containerd.service", "kubelet.service"] };
    const fb = firstBoots(cluster, { secrets: FIXTURE_SECRETS, bundle }).find((b) => b.host === "worker01")!;
    const entries = fb.units.filter((u) => u.name === "containerd.service");
    assert.equal(entries.length, 1);
    assert.equal(entries[0]!.enabled, true);
    assert.deepEqual(entries[0]!.dropins?.map((d) => d.name), [PATHS.dataDiskDropInName]);
    validate(dir, "worker01.ign", renderIgnition(fb));
  }));

test("the SSH user as seed 004's users.yml: groups, password hash, /etc/sudoers.d/<user> 0440 that the real visudo accepts; only what the cluster file asks for", () =>
  withTmp(async (dir) => {
    const { cluster } = clustersUnderTest().find((x) => x.name === "seed-004-dedicated-lbs-8443")!;
    const u = cluster.provisioning.user;
    assert.deepEqual(u.groups, ["wheel", "docker"]);
    assert.match(u.passwordHash ?? "", /^\$y\$/);
    for (const fb of firstBoots(cluster, { secrets: FIXTURE_SECRETS })) {
      assert.deepEqual(fb.users, [{ name: "altcos", sshAuthorizedKeys: cluster.provisioning.sshAuthorizedKeys, groups: ["wheel", "docker"], passwordHash: u.passwordHash }]);
      const sudoers = fb.files.find((f) => f.path === `${PATHS.sudoersDir}/altcos`)!;
      assert.equal(sudoers.content, "altcos ALL=NOPASSWD: ALL\n");
      assert.equal(sudoers.mode, 0o440);
      const bu = renderButane(fb);
      assert.ok(bu.includes(`password_hash: ${u.passwordHash}`) || bu.includes(`password_hash: "${u.passwordHash}"`), "the Butane file has the hash");
      assert.match(bu, /groups:\n\s+- wheel\n\s+- docker\n/);
    }
    const p = join(dir, "altcos");
    writeFileSync(p, String(firstBoots(cluster, { secrets: FIXTURE_SECRETS })[0]!.files.find((f) => f.path === `${PATHS.sudoersDir}/altcos`)!.content), { mode: 0o440 });
    const ok = run("visudo", ["-cf", p]);
    assert.equal(ok.code, 0, ok.out);
    // visudo is a real check: it refuses a broken line.
    writeFileSync(p, "altcos ALL=NOPASSWD ALL\n", { mode: 0o440 });
    assert.notEqual(run("visudo", ["-cf", p]).code, 0, "visudo refuses a line without the colon");

    // Nothing of it when the cluster file does not ask: keys only, no sudoers file.
    const plain: Cluster = { ...cluster, provisioning: { ...cluster.provisioning, user: { groups: [], passwordlessSudo: false } } };
    const fb = firstBoots(plain, { secrets: FIXTURE_SECRETS })[0]!;
    assert.deepEqual(fb.users, [{ name: "altcos", sshAuthorizedKeys: cluster.provisioning.sshAuthorizedKeys, groups: [] }]);
    assert.ok(!fb.files.some((f) => f.path.startsWith(PATHS.sudoersDir + "/")));
    assert.deepEqual((JSON.parse(renderIgnition(fb)) as IgnConfig).passwd!.users, [{ name: "altcos", sshAuthorizedKeys: cluster.provisioning.sshAuthorizedKeys }]);
  }));

test("data URLs: percent-encoded like Butane (RFC 2396 unreserved kept), base64 when shorter; both decode to the content", () => {
  assert.equal(dataUrl("master01\n"), "data:,master01%0A");
  assert.equal(dataUrl("a-b_c.d!e~f*g'h(i)j k"), "data:,a-b_c.d!e~f*g'h(i)j%20k");
  const binaryish = "\u00e9\u00e8\u00ea\u00eb".repeat(8);
  assert.match(dataUrl(binaryish), /^data:;base64,/);
  for (const s of ["", "x", "#!/bin/sh\necho \"$1\" 100%\n", binaryish]) assert.equal(decodeDataUrl(dataUrl(s)), s);
});

/** The Butane file read back into Ignition terms (our subset of fcos: inline files, units, users, disk). */
function butaneAsIgnition(bu: string, version: string): IgnConfig {
  const y = parse(bu, { version: "1.1" }) as {
    variant: string;
    version: string;
    passwd?: { users: { name: string; ssh_authorized_keys?: string[]; groups?: string[]; password_hash?: string }[] };
    storage: { files: { path: string; mode: number; overwrite: boolean; contents: { inline: string } }[]; disks?: unknown[]; filesystems?: unknown[]; directories?: { path: string; mode: number }[] };
    systemd: { units: IgnUnit[] };
  };
  assert.equal(y.variant, "fcos");
  return {
    ignition: { version },
    ...(y.passwd
      ? {
          passwd: {
            users: y.passwd.users.map((u) => ({
              ...(u.groups ? { groups: u.groups } : {}),
              name: u.name,
              ...(u.password_hash ? { passwordHash: u.password_hash } : {}),
              ...(u.ssh_authorized_keys ? { sshAuthorizedKeys: u.ssh_authorized_keys } : {}),
            })),
          },
        }
      : {}),
    storage: {
      files: y.storage.files.map((f) => ({ path: f.path, contents: { source: dataUrl(f.contents.inline) }, mode: f.mode, overwrite: f.overwrite })),
      ...(y.storage.directories ? { directories: y.storage.directories.map((d) => ({ mode: d.mode, path: d.path })) } : {}),
    },
    systemd: {
      units: y.systemd.units.map((u) => ({
        ...(u.contents !== undefined ? { contents: u.contents } : {}),
        ...(u.dropins ? { dropins: u.dropins.map((d) => ({ contents: d.contents, name: d.name })) } : {}),
        ...(u.enabled !== undefined ? { enabled: u.enabled } : {}),
        name: u.name,
      })),
    },
  };
}

test("the Butane file holds the same users, files (contents, octal modes), units and disk as the Ignition config; versions 1.3.0/1.4.0/1.5.0", () => {
  const { cluster } = clustersUnderTest().find((x) => x.name === "seed-004-dedicated-lbs-8443")!;
  for (const fb of firstBoots(cluster, { secrets: FIXTURE_SECRETS })) {
    for (const [v, bv] of [["3.2.0", "1.3.0"], ["3.3.0", "1.4.0"], ["3.4.0", "1.5.0"]] as const) {
      const bu = renderButane(fb, v);
      assert.match(bu, new RegExp(`\\nversion: ${bv.replace(/\./g, "\\.")}\\n`));
      assert.match(bu, /\n {6}mode: 0644\n/, "modes are written in octal");
      const ign = JSON.parse(renderIgnition(fb, v)) as IgnConfig & { storage: { disks?: { device: string }[] } };
      const fromBu = butaneAsIgnition(bu, v);
      assert.deepEqual(fromBu.passwd, ign.passwd);
      assert.deepEqual(fromBu.storage.files, ign.storage.files);
      assert.deepEqual(fromBu.storage.directories, ign.storage.directories);
      assert.deepEqual(fromBu.systemd, ign.systemd);
      const y = parse(bu, { version: "1.1" }) as { storage: { disks: { device: string; wipe_table: boolean }[]; filesystems: { device: string; format: string; label: string; path?: string }[] } };
      assert.equal(y.storage.disks[0]!.device, ign.storage.disks![0]!.device);
      assert.equal(y.storage.filesystems[0]!.format, "btrfs");
      assert.equal(y.storage.filesystems[0]!.path, ign.storage.filesystems![0]!.path);
      assert.equal(ign.storage.filesystems![0]!.format, "btrfs");
    }
  }
});

test("seed-004: output is byte-deterministic and matches the golden .bu/.ign files" + (UPDATE ? " (updating)" : ""), () => {
  const { cluster } = clustersUnderTest().find((x) => x.name === "seed-004-dedicated-lbs-8443")!;
  const outs = ignitionOutputs(cluster, { secrets: FIXTURE_SECRETS });
  assert.deepEqual(ignitionOutputs(cluster, { secrets: FIXTURE_SECRETS }), outs);
  const dir = join(GOLDEN, "seed-004-dedicated-lbs-8443");
  if (UPDATE) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const o of outs) writeFileSync(join(dir, o.name), o.content);
  }
  assert.ok(existsSync(dir), "no golden files (UPDATE_GOLDEN=1 to write them, then review)");
  assert.deepEqual(readdirSync(dir).sort(), outs.map((o) => o.name).sort());
  for (const o of outs) assert.equal(readFileSync(join(dir, o.name), "utf8"), o.content, `${o.name} differs from the golden file`);
  assert.deepEqual(IGNITION_VERSIONS, ["3.2.0", "3.3.0", "3.4.0"]);
});

test("a first boot without spec.provisioning: no users, no disk, one unit; a Butane file that says so", () => {
  const { cluster } = clustersUnderTest().find((x) => x.name === "seed-002-colocated-16443")!;
  const fb: FirstBoot = firstBoots(cluster, { secrets: FIXTURE_SECRETS })[0]!;
  assert.deepEqual(fb.users, []);
  assert.equal(fb.disk, undefined);
  const bu = renderButane(fb);
  assert.ok(!bu.includes("passwd:") && !bu.includes("disks:"));
  assert.equal(ksm(fb.files.find((f) => f.path === PATHS.installScript)!.mode), "0755");
});

test("kubeha render --format ignition writes HOST.ign and HOST.bu per host, mode 0600, valid; refuses an unknown version or format", () =>
  withTmp(async (dir) => {
    const { command } = await import("../../src/cli/render.ts");
    const file = join(dir, "cluster.yaml");
    writeFileSync(file, readFileSync(join(REPO, "examples", "seed-004-dedicated-lbs-8443.yaml"), "utf8"));
    const out = join(dir, "out");
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      assert.equal(await command.run([file, "--format", "ignition", "--ignition-version", "3.3.0", "-o", out, "--host", "master02", "--host", "worker01"]), 0);
    } finally {
      process.stdout.write = write;
    }
    assert.deepEqual(readdirSync(out).sort(), ["master02.bu", "master02.ign", "worker01.bu", "worker01.ign"]);
    const { statSync } = await import("node:fs");
    for (const f of readdirSync(out)) assert.equal(statSync(join(out, f)).mode & 0o777, 0o600, f);
    for (const f of ["master02.ign", "worker01.ign"]) {
      assert.equal(run("ignition-validate", [join(out, f)]).code, 0);
      assert.equal((JSON.parse(readFileSync(join(out, f), "utf8")) as IgnConfig).ignition.version, "3.3.0");
    }
    const ign = JSON.parse(readFileSync(join(out, "master02.ign"), "utf8")) as IgnConfig;
    assert.ok(ign.storage.files.some((f) => f.path === `${PATHS.installRoot}/etc/kubernetes/pki/ca.key` && f.mode === 0o600), "the PKI state's shared CA key, 0600");
    await assert.rejects(command.run([file, "--format", "ignition", "--ignition-version", "3.5.0", "-o", join(dir, "o2")]), /unsupported --ignition-version 3\.5\.0/);
    await assert.rejects(command.run([file, "--format", "tarball", "-o", join(dir, "o3")]), /unknown --format tarball/);
  }));
