/**
 * The reset plan comes from each host's own plan: every file a files step places, every unit it
 * starts, `kubeadm reset` exactly where kubeadm runs, the VIP where keepalived runs, and with
 * --purge-packages the plan's packages (never the common tools). Its script runs each pending
 * action once (a second run finds nothing), a dry run changes nothing, a failure stops it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clustersUnderTest, FIXTURE_SECRETS } from "../render/helpers.ts";
import { planFiles, planHost } from "../../src/plan/host.ts";
import { dpkgHas, KEPT_PACKAGES, planReset, resetPackages, resetScript, resetUnits, type ResetAction } from "../../src/plan/reset.ts";
import { resetWarnings } from "../../src/ops/reset.ts";
import { binaryBootstrap, isKubernetesNode, runsKeepalived } from "../../src/spec/topology.ts";
import { joinLine, parseTtl } from "../../src/ops/join-command.ts";
import { PATHS } from "../../src/render/paths.ts";

const descriptions = (as: readonly ResetAction[]) => as.map((a) => a.description);

for (const { name, cluster } of clustersUnderTest()) {
  test(`${name}: each host's reset undoes what its plan does`, () => {
    for (const h of cluster.hosts) {
      const steps = planHost(cluster, h, { secrets: FIXTURE_SECRETS });
      const keep = planReset(cluster, h, steps, { purgePackages: false });
      const d = descriptions(keep);
      for (const f of planFiles(steps)) {
        const a = keep.find((x) => x.description === `remove ${f.path}`);
        assert.ok(a, `${h.name}: no action removes ${f.path}`);
        assert.match(a.pending, /! dpkg -S /, `${h.name}: without --purge-packages a package's file is kept (${f.path})`);
      }
      for (const u of resetUnits(h, steps)) assert.ok(d.includes(`stop and disable ${u}`), `${h.name}: ${u}`);
      for (const s of steps) if (s.kind === "files") for (const u of s.ensure) assert.ok(d.includes(`stop and disable ${u.replace(/\.service$/, "")}`), `${h.name}: ensure ${u}`);
      const kubeadm = steps.some((s) => s.kind === "run" && /^kubeadm (init|join)/.test(s.description));
      assert.equal(d.includes("kubeadm reset -f"), kubeadm, `${h.name}: kubeadm reset where kubeadm ran`);
      if (kubeadm) assert.equal(d[0], "kubeadm reset -f", "kubeadm goes first (it stops the kubelet and its static pods)");
      assert.equal(isKubernetesNode(h), d.includes("stop and disable kubelet"));
      // binary mode: no kubeadm reset, so reset empties what the kubelet made (TLS bootstrap), once it stopped.
      const kubeletState = d.findIndex((x) => x.startsWith("delete the kubelet's state in "));
      assert.equal(kubeletState >= 0, binaryBootstrap(cluster) && isKubernetesNode(h), `${h.name}: the kubelet's state`);
      if (kubeletState >= 0) assert.ok(kubeletState > d.indexOf("stop and disable kubelet"), `${h.name}: after the kubelet stopped`);
      assert.equal(d.some((x) => x.startsWith("release the VIP ")), runsKeepalived(cluster, h), `${h.name}: VIP`);
      assert.ok(d.includes(`remove kubeha's block from ${PATHS.etcHosts}`));
      assert.ok(!d.some((x) => x.startsWith("apt-get purge")), "no purge without --purge-packages");
      // Files go after the units are stopped; directories last, deepest first.
      const lastStop = d.map((x) => x.startsWith("stop and disable")).lastIndexOf(true);
      const firstRemove = d.findIndex((x) => x.startsWith("remove /"));
      assert.ok(lastStop < firstRemove, `${h.name}: units stop before their files go`);
      const dirs = d.filter((x) => x.startsWith("remove the directory "));
      assert.deepEqual(d.slice(-dirs.length), dirs);
      const depth = dirs.map((x) => x.split(" ")[3]!.split("/").length);
      assert.deepEqual(depth, [...depth].sort((a, b) => b - a));

      const purge = planReset(cluster, h, steps, { purgePackages: true, bundleFiles: ["/usr/bin/kubeadm"] });
      const p = descriptions(purge).find((x) => x.startsWith("apt-get purge "));
      const pkgs = resetPackages(steps);
      assert.equal(p, pkgs.length ? `apt-get purge what kubeha installed of ${pkgs.join(" ")}` : undefined);
      if (pkgs.length) {
        const a = purge.find((x) => x.description === p)!;
        assert.match(a.script, new RegExp(`grep -qxF "\\$p" ${PATHS.installedPackages}`), "only what the host's record says kubeha installed");
        assert.ok(descriptions(purge).includes(`remove ${PATHS.installedPackages}`));
      }
      for (const k of KEPT_PACKAGES) assert.ok(!pkgs.includes(k), `${k} is never purged`);
      for (const s of steps) if (s.kind === "packages") for (const x of s.packages) assert.ok(pkgs.includes(x) || KEPT_PACKAGES.includes(x), x);
      assert.equal(descriptions(purge).includes("remove /usr/bin/kubeadm (offline bundle)"), steps.some((s) => s.kind === "bundle"));
      const purgeAt = descriptions(purge).indexOf(p ?? "");
      for (const a of purge.filter((x) => x.description.startsWith("remove /") && !x.description.endsWith("(offline bundle)") && x.description !== `remove ${PATHS.installedPackages}`)) {
        // A file of a package that stays (there before kubeha) stays; one of a purged package is gone by then.
        assert.match(a.pending, /! dpkg -S /, a.description);
        if (pkgs.length) {
          assert.ok(purge.indexOf(a) > purgeAt, `${a.description} comes after the purge`);
          assert.match(a.dryRunPending ?? "", new RegExp(PATHS.installedPackages), `${a.description}: the dry run counts files of packages kubeha installed`);
        }
      }
    }
  });
}

test("a partial reset warns about hosts the others still need; a whole-cluster or worker-only one does not", () => {
  const c = clustersUnderTest().find((x) => x.cluster.hosts.some((h) => h.roles.includes("worker")) && x.cluster.hosts.some((h) => runsKeepalived(x.cluster, h)))!.cluster;
  const cp = c.hosts.find((h) => h.roles.includes("control-plane"))!;
  const worker = c.hosts.find((h) => h.roles.includes("worker") && !h.roles.includes("control-plane"))!;
  assert.match(resetWarnings(c, [cp]).join("\n"), new RegExp(`^${cp.name} is a control plane.*still use`));
  assert.deepEqual(resetWarnings(c, [worker]), []);
  assert.deepEqual(resetWarnings(c, c.hosts), []);
});

function sh(script: string): { code: number; stdout: string } {
  const r = spawnSync("sh", ["-c", script], { encoding: "utf8" });
  return { code: r.status ?? -1, stdout: r.stdout };
}

test("the reset script runs pending actions once, a dry run only reports them, a failure stops it", () => {
  const dir = mkdtempSync(join(tmpdir(), "kubeha-reset-"));
  try {
    const a = join(dir, "a");
    const b = join(dir, "b");
    writeFileSync(a, "x");
    const actions: ResetAction[] = [
      { description: "remove a", pending: `[ -e ${a} ]`, script: `rm ${a}` },
      { description: "remove b", pending: `[ -e ${b} ]`, script: `rm ${b}` },
      { description: "exit-looking test", pending: "exit 1", script: "false" },
    ];
    assert.deepEqual(sh(resetScript(actions, true)), { code: 0, stdout: "@@pending 0\n" });
    assert.ok(existsSync(a), "the dry run changed nothing");
    assert.deepEqual(sh(resetScript(actions, false)), { code: 0, stdout: "@@pending 0\n@@done 0\n" });
    assert.ok(!existsSync(a));
    assert.deepEqual(sh(resetScript(actions, false)), { code: 0, stdout: "" }, "a second run has nothing to do");
    writeFileSync(a, "x");
    writeFileSync(b, "x");
    const failing: ResetAction[] = [{ description: "fail", pending: "true", script: "false\necho not reached" }, ...actions];
    const r = sh(resetScript(failing, false));
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "@@pending 0\n@@failed 0 1\n");
    assert.ok(existsSync(a) && existsSync(b), "nothing after the failure ran");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("join-command: kubeadm's --ttl format, and the join line's shape", () => {
  assert.equal(parseTtl("2h"), 7200);
  assert.equal(parseTtl("1h30m"), 5400);
  assert.equal(parseTtl("10s"), 10);
  for (const bad of ["", "0", "0s", "2d", "h", "-1h", "1.5h"]) assert.throws(() => parseTtl(bad), /--ttl must be a duration/, bad);
  const t = "abcdef.0123456789abcdef";
  const h = "sha256:" + "0a".repeat(32);
  assert.equal(joinLine("10.0.0.100:6443", t, h), `kubeadm join 10.0.0.100:6443 --token ${t} --discovery-token-ca-cert-hash ${h}`);
  assert.equal(joinLine("10.0.0.100:6443", t, h, "ab".repeat(32)), `kubeadm join 10.0.0.100:6443 --token ${t} --discovery-token-ca-cert-hash ${h} --control-plane --certificate-key ${"ab".repeat(32)}`);
});

test("dpkg's two meanings: a package removed with its configuration left is known (a purge acts on it), not installed (its runtime's data is orphaned)", () => {
  const dir = mkdtempSync(join(tmpdir(), "kubeha-dpkg-"));
  try {
    // dpkg-query -W as dpkg answers it: the status line of a package it knows; nothing and exit 1 for one it never heard of.
    const status: Record<string, string> = {
      full: "install ok installed",
      configleft: "deinstall ok config-files",
      purged: "unknown ok not-installed",
      halfway: "install ok half-configured",
    };
    const fake = join(dir, "dpkg-query");
    writeFileSync(fake, `#!/bin/sh\ncase "$3" in\n${Object.entries(status).map(([p, s]) => `  ${p}) echo '${s}' ;;\n`).join("")}  *) echo "dpkg-query: no packages found matching $3" >&2; exit 1 ;;\nesac\n`);
    chmodSync(fake, 0o755);
    const holds = (word: string, meaning: "known" | "installed") =>
      spawnSync("sh", ["-c", `${dpkgHas(word, meaning)} && echo yes || echo no`], { encoding: "utf8", env: { PATH: `${dir}:/usr/bin:/bin` } }).stdout.trim() === "yes";
    const table = ["full", "configleft", "purged", "halfway", "never"].map((p) => [p, holds(p, "known"), holds(p, "installed")]);
    assert.deepEqual(table, [
      ["full", true, true],
      ["configleft", true, false],
      ["purged", false, false],
      ["halfway", true, false],
      ["never", false, false],
    ]);
    // The word is a shell word: the purge's loop passes "$p".
    assert.equal(spawnSync("sh", ["-c", `p=configleft; ${dpkgHas('"$p"', "known")} && echo yes`], { encoding: "utf8", env: { PATH: `${dir}:/usr/bin:/bin` } }).stdout, "yes\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("reset asks dpkg through dpkgHas: the purge counts what dpkg knows, the runtime's data goes once it is not installed", () => {
  for (const { cluster } of clustersUnderTest()) {
    for (const h of cluster.hosts) {
      const steps = planHost(cluster, h, { secrets: FIXTURE_SECRETS });
      const acts = planReset(cluster, h, steps, { purgePackages: true });
      const purge = acts.find((a) => a.description.startsWith("apt-get purge "));
      if (purge) assert.ok(purge.pending.includes(dpkgHas('"$p"', "known")), `${h.name}: ${purge.pending}`);
      for (const a of acts.filter((x) => x.description.startsWith("delete the container runtime's data"))) {
        const pkg = a.description.endsWith(` ${PATHS.crioRoot}`) ? "cri-o" : "containerd";
        assert.ok(a.pending.includes(`! ${dpkgHas(pkg, "installed")}`), `${h.name}: ${a.pending}`);
      }
    }
  }
});
