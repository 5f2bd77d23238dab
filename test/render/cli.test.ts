/** `kubeha render` end to end: real PKI state dir, files on disk, modes, refusal, determinism. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { command } from "../../src/cli/render.ts";
import { REPO } from "./helpers.ts";

function tree(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tree(join(dir, e.name), base) : [join(dir, e.name).slice(base.length + 1)],
  );
}

test("render writes every host's files, secrets 0600, install.sh 0755, byte-identical on re-render; refuses a non-empty DIR", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kubeha-render-cli-"));
  const quiet = process.stdout.write.bind(process.stdout);
  try {
    const file = join(dir, "cluster.yaml");
    copyFileSync(join(REPO, "examples", "seed-002-colocated-16443.yaml"), file);
    const out = join(dir, "out");
    process.stdout.write = (() => true) as typeof process.stdout.write;
    const umask = process.umask(0o077); // modes are the rendered ones whatever the umask
    try {
      assert.equal(await command.run([file, "--dir", out]), 0);
    } finally {
      process.umask(umask);
    }
    process.stdout.write = quiet;
    const files = tree(out).sort();
    assert.ok(files.includes("server7-master/etc/haproxy/haproxy.cfg"));
    assert.ok(files.includes("server7-master/etc/kubeha/kubeadm/init.yaml"));
    assert.ok(files.includes("server8-node1/etc/kubeha/kubeadm/join.yaml"));
    assert.ok(files.includes("server10-worker/install.sh"));
    assert.ok(files.includes("server7-master/etc/kubernetes/pki/ca.key"), "PKI files from the state directory");
    assert.equal(statSync(join(out, "server7-master/etc/kubeha/kubeadm/init.yaml")).mode & 0o777, 0o600);
    assert.equal(statSync(join(out, "server7-master/etc/kubernetes/pki/ca.key")).mode & 0o777, 0o600);
    assert.equal(statSync(join(out, "server7-master/install.sh")).mode & 0o777, 0o755);
    assert.equal(statSync(join(out, "server7-master/etc/modules-load.d/kubeha.conf")).mode & 0o777, 0o644);
    const before = new Map(files.map((f) => [f, readFileSync(join(out, f), "utf8")]));

    await assert.rejects(command.run([file, "-o", out]), /not empty/, "-o DIR still names the directory");
    process.stdout.write = (() => true) as typeof process.stdout.write;
    assert.equal(await command.run([file, "-o", out, "--force"]), 0);
    process.stdout.write = quiet;
    assert.deepEqual(tree(out).sort(), files);
    for (const [f, content] of before) assert.equal(readFileSync(join(out, f), "utf8"), content, `${f} changed on re-render`);

    const other = join(dir, "other");
    mkdirSync(other);
    writeFileSync(join(other, "keep"), "x");
    await assert.rejects(command.run([file, "-o", other]), /not empty/);
    await assert.rejects(command.run([file]), /missing --dir DIR/);
    await assert.rejects(command.run([file, "-o", "json"]), /looks like an output format/);
    await assert.rejects(command.run([file, "-o", join(dir, "o3"), "--host", "nope"]), /no host named nope/);
  } finally {
    process.stdout.write = quiet;
    rmSync(dir, { recursive: true, force: true });
  }
});
