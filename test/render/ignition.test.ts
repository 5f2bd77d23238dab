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
interface IgnConfig {
  ignition: { version: string };
  passwd?: { users: { name: string; sshAuthorizedKeys: string[] }[] };
  storage: { files: IgnFile[]; disks?: unknown[]; filesystems?: unknown[] };
  systemd: { units: { name: string; enabled: boolean; contents: string }[] };
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
        assert.ok(unit?.enabled, `${fb.host}: kubeha-install.service enabled`);
        assert.ok(unit.contents.includes(`\nExecStart=/bin/sh -c '/bin/bash ${PATHS.installScript} && mkdir -p /var/lib/kubeha && touch ${PATHS.installedMarker}'\n`));
        // Not a oneshot: the boot completes while install.sh runs (the lab and status see a booted machine).
        assert.ok(unit.contents.includes("\nType=exec\n") && !unit.contents.includes("oneshot"));
        assert.ok(unit.contents.includes(`ConditionPathExists=!${PATHS.installedMarker}\n`));
        assert.equal(v33.systemd.units.length, (cluster.provisioning.dataDisk ? 2 : 1) + (bundled ? 1 : 0));
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
        if (cluster.provisioning.sshAuthorizedKeys.length) assert.deepEqual(v33.passwd?.users, [{ name: h.ssh.user, sshAuthorizedKeys: cluster.provisioning.sshAuthorizedKeys }]);
        else assert.equal(v33.passwd, undefined);
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
    const fb = firstBoots(cluster, { secrets: FIXTURE_SECRETS })[0]!;
    for (const u of fb.units) writeFileSync(join(dir, u.name), u.contents ?? "");
    mkdirSync(join(dir, cluster.provisioning.dataDisk!.path.slice(1)), { recursive: true });
    const r = run("systemd-analyze", ["verify", ...fb.units.map((u) => join(dir, u.name))]);
    assert.equal(r.code, 0, r.out);
    assert.equal(mountUnitName("/var/mnt/docker"), "var-mnt-docker.mount");
    assert.equal(run("systemd-escape", ["--path", "--suffix=mount", "/var/mnt/my-data.x"]).out.trim(), mountUnitName("/var/mnt/my-data.x"));
    assert.deepEqual(fb.units.map((u) => u.name), ["kubeha-install.service", "var-mnt-docker.mount"]);
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
    passwd?: { users: { name: string; ssh_authorized_keys: string[] }[] };
    storage: { files: { path: string; mode: number; overwrite: boolean; contents: { inline: string } }[]; disks?: unknown[]; filesystems?: unknown[] };
    systemd: { units: { name: string; enabled: boolean; contents: string }[] };
  };
  assert.equal(y.variant, "fcos");
  return {
    ignition: { version },
    ...(y.passwd ? { passwd: { users: y.passwd.users.map((u) => ({ name: u.name, sshAuthorizedKeys: u.ssh_authorized_keys })) } } : {}),
    storage: {
      files: y.storage.files.map((f) => ({ path: f.path, contents: { source: dataUrl(f.contents.inline) }, mode: f.mode, overwrite: f.overwrite })),
    },
    systemd: { units: y.systemd.units.map((u) => ({ contents: u.contents, enabled: u.enabled, name: u.name })) },
  };
}

test("the Butane file holds the same users, files (contents, octal modes), units and disk as the Ignition config; versions 1.3.0/1.4.0/1.5.0", () => {
  const { cluster } = clustersUnderTest().find((x) => x.name === "seed-004-dedicated-lbs-8443")!;
  for (const fb of firstBoots(cluster, { secrets: FIXTURE_SECRETS })) {
    for (const [v, bv] of [["3.2.0", "1.3.0"], ["3.3.0", "1.4.0"], ["3.4.0", "1.5.0"]] as const) {
      const bu = renderButane(fb, v);
      assert.match(bu, new RegExp(`\\nversion: ${bv.replace(/\./g, "\\.")}\\n`));
      assert.match(bu, /\n {6}mode: 0644\n/, "modes are written in octal");
      const ign = JSON.parse(renderIgnition(fb, v)) as IgnConfig & { storage: { disks?: { device: string }[]; filesystems?: { format: string }[] } };
      const fromBu = butaneAsIgnition(bu, v);
      assert.deepEqual(fromBu.passwd, ign.passwd);
      assert.deepEqual(fromBu.storage.files, ign.storage.files);
      assert.deepEqual(fromBu.systemd, ign.systemd);
      const y = parse(bu, { version: "1.1" }) as { storage: { disks: { device: string; wipe_table: boolean }[]; filesystems: { device: string; format: string; label: string }[] } };
      assert.equal(y.storage.disks[0]!.device, ign.storage.disks![0]!.device);
      assert.equal(y.storage.filesystems[0]!.format, "btrfs");
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
