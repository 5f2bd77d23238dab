/**
 * The offline bundle manifest's per-file `bootstrap` field (docs/bundle.md): a file marked
 * `"bootstrap": "kubeadm"` is installed on kubeadm clusters only (kubeadm's kubelet drop-in would
 * replace the ExecStart kubeha renders in binary mode); unmarked files go everywhere; any other
 * value is refused. The lab's stand-in bundle marks 10-kubeadm.conf so.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleFilesFor, loadBundle, type BundleManifest } from "../../src/phases/steps.ts";
import { KubehaError } from "../../src/errors.ts";

const DROP_IN = "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf";
const manifest = (bootstrap?: unknown): BundleManifest =>
  ({
    kubernetesVersion: "1.34.2",
    files: [
      { src: "bin/kubelet", dest: "/usr/bin/kubelet", mode: "0755" },
      { src: "systemd/10-kubeadm.conf", dest: DROP_IN, mode: "0644", ...(bootstrap === undefined ? {} : { bootstrap }) },
      { src: "bin/kube-proxy", dest: "/usr/bin/kube-proxy", mode: "0755", bootstrap: "binary" },
    ],
  }) as BundleManifest;

test("bundleFilesFor: a file with `bootstrap` is installed only in that mode, the others everywhere", () => {
  const dests = (mode: "kubeadm" | "binary") => bundleFilesFor(manifest("kubeadm"), mode).map((f) => f.dest);
  assert.deepEqual(dests("kubeadm"), ["/usr/bin/kubelet", DROP_IN]);
  assert.deepEqual(dests("binary"), ["/usr/bin/kubelet", "/usr/bin/kube-proxy"]);
  assert.deepEqual(bundleFilesFor(manifest(), "binary").map((f) => f.dest), ["/usr/bin/kubelet", DROP_IN, "/usr/bin/kube-proxy"]);
});

test("bundleFilesFor: an unknown `bootstrap` value is refused with the file named", () => {
  assert.throws(() => bundleFilesFor(manifest("kubeadmm"), "kubeadm"), (e: unknown) => e instanceof KubehaError && /systemd\/10-kubeadm\.conf has "bootstrap": "kubeadmm"; it must be "kubeadm" or "binary"/.test(e.message));
});

test("loadBundle reads the files of the cluster's mode only", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kubeha-bundle-"));
  try {
    mkdirSync(join(dir, "bin"));
    mkdirSync(join(dir, "systemd"));
    for (const f of ["bin/kubelet", "bin/kube-proxy", "systemd/10-kubeadm.conf"]) writeFileSync(join(dir, f), `# ${f}\n`);
    writeFileSync(join(dir, "kubeha-bundle.json"), JSON.stringify(manifest("kubeadm")));
    const kubeadm = await loadBundle(dir, "1.34.2", "kubeadm");
    const binary = await loadBundle(dir, "1.34.2", "binary");
    assert.deepEqual(kubeadm.files.map((f) => [f.path, f.mode, f.content.toString()]), [
      ["/usr/bin/kubelet", 0o755, "# bin/kubelet\n"],
      [DROP_IN, 0o644, "# systemd/10-kubeadm.conf\n"],
    ]);
    assert.deepEqual(binary.files.map((f) => f.path), ["/usr/bin/kubelet", "/usr/bin/kube-proxy"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the lab's stand-in bundle installs kubeadm's kubelet drop-in on kubeadm clusters only", () => {
  const m = JSON.parse(readFileSync(join(import.meta.dirname, "..", "standins", "bundle", "kubeha-bundle.json"), "utf8")) as BundleManifest;
  assert.ok(bundleFilesFor(m, "kubeadm").some((f) => f.dest === DROP_IN));
  assert.ok(!bundleFilesFor(m, "binary").some((f) => f.dest === DROP_IN));
  for (const bin of ["kube-proxy", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kubectl"])
    assert.ok(bundleFilesFor(m, "binary").some((f) => f.dest === `/usr/bin/${bin}`), bin);
});
