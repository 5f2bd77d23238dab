/**
 * The stand-ins' version comes from the bundle they are installed from (lib/VERSION, installed
 * beside their library), as a real bundle's binaries are of one version: a copy of the bundle with
 * another VERSION is the bundle of that version. The apiserver stand-in reports the version kubeadm
 * gave it (--standin-version, from the cluster's kubernetesVersion), as a real one its image's.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUNDLE, runBin } from "./helpers.ts";

const manifest = JSON.parse(readFileSync(join(BUNDLE, "kubeha-bundle.json"), "utf8")) as { kubernetesVersion: string; files: Array<{ src: string; dest: string }> };

function copyWithVersion(text: string): { dir: string; run: (bin: string, args: string[]) => ReturnType<typeof spawnSync> } {
  const dir = mkdtempSync(join(tmpdir(), "kubeha-standin-version-"));
  cpSync(BUNDLE, dir, { recursive: true });
  writeFileSync(join(dir, "lib/VERSION"), text);
  const run = (bin: string, args: string[]) => spawnSync("python3", [join(dir, "bin", bin), ...args], { encoding: "utf8", timeout: 30_000, env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } });
  return { dir, run };
}

test("lib/VERSION is the manifest's kubernetesVersion and is installed beside the stand-ins' library", () => {
  const v = readFileSync(join(BUNDLE, "lib/VERSION"), "utf8").split("\n").filter((l) => l && !l.startsWith("#"));
  assert.deepEqual(v, [manifest.kubernetesVersion]);
  assert.ok(manifest.files.some((f) => f.src === "lib/VERSION" && f.dest === "/usr/lib/kubeha-standins/VERSION"));
  assert.equal(runBin("kubeadm", ["version", "-o", "short"]).stdout.trim(), `v${manifest.kubernetesVersion}-standin`);
});

test("a copy of the bundle with another VERSION is that version: kubeadm and kubelet report it", () => {
  const { dir, run } = copyWithVersion("# STAND-IN version file\n1.35.0\n");
  try {
    assert.equal(String(run("kubeadm", ["version", "-o", "short"]).stdout).trim(), "v1.35.0-standin");
    assert.match(String(run("kubelet", ["--version"]).stdout), /^Kubernetes v1\.35\.0-standin \(kubelet stand-in/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a VERSION that is not 1.MINOR.PATCH stops every stand-in with the file named", () => {
  const { dir, run } = copyWithVersion("1.35\n");
  try {
    const r = run("kubeadm", ["version"]);
    assert.notEqual(r.status, 0);
    assert.match(String(r.stderr), /\[stand-in\] error: .*lib\/VERSION must hold a version 1\.MINOR\.PATCH, not '1\.35'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("kube-apiserver stand-in: --standin-version must be a version (kubeadm passes the cluster's)", () => {
  const r = runBin("kube-apiserver-standin", ["--standin-version=latest", "--advertise-address=127.0.0.1", "--tls-cert-file=/x", "--tls-private-key-file=/x", "--client-ca-file=/x", "--standin-ca-key-file=/x", "--standin-node-name=n", "--standin-store-file=/tmp/x"]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--standin-version must be 1\.MINOR\.PATCH, not 'latest'/);
});

test("kubeadm upgrade: the stand-in's usage errors (version required, no prompt)", () => {
  const none = runBin("kubeadm", ["upgrade", "apply", "-y"]);
  assert.notEqual(none.status, 0);
  assert.match(none.stderr, /missing one or more required arguments\. Required arguments: \[version\]/);
  const prompt = runBin("kubeadm", ["upgrade", "apply", "v1.35.0"]);
  assert.match(prompt.stderr, /does not prompt: run `kubeadm upgrade apply VERSION -y`/);
  const other = runBin("kubeadm", ["upgrade", "diff"]);
  assert.match(other.stderr, /implements `upgrade plan \[version\]`, `upgrade apply VERSION` and `upgrade node`/);
});
