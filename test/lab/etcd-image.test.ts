/** The real etcd a stacked-etcd lab ships in its bundle copy as the etcd static pod's image (src/lab/etcd-image.ts). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ETCD_IMAGE_DEST, HOST_ETCD, etcdVersion, shipRealEtcd } from "../../src/lab/etcd-image.ts";
import { KubehaError } from "../../src/errors.ts";

test("shipRealEtcd: the operator machine's etcd goes into the bundle copy, listed once, recorded as real", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kubeha-etcd-image-"));
  try {
    mkdirSync(join(dir, "bin"));
    writeFileSync(join(dir, "kubeha-bundle.json"), JSON.stringify({ kubernetesVersion: "1.34.2", description: "STAND-INS", files: [{ src: "bin/kubeadm", dest: "/usr/bin/kubeadm", mode: "0755" }], real: {} }));
    const v = await shipRealEtcd(dir);
    assert.match(v, /^3\.\d+\.\d+/);
    await shipRealEtcd(dir); // twice: still one entry
    const m = JSON.parse(readFileSync(join(dir, "kubeha-bundle.json"), "utf8")) as { files: Array<{ src: string; dest: string; mode: string }>; real: Record<string, string>; description: string };
    assert.deepEqual(m.files.filter((f) => f.dest === ETCD_IMAGE_DEST), [{ src: "bin/etcd-real", dest: ETCD_IMAGE_DEST, mode: "0755" }]);
    assert.match(m.real[ETCD_IMAGE_DEST]!, new RegExp(`^etcd ${v.replace(/\./g, "\\.")} \\(real, ${HOST_ETCD} on the operator machine`));
    assert.match(m.description, /etcd is REAL/);
    assert.equal(statSync(join(dir, "bin/etcd-real")).size, statSync(HOST_ETCD).size);
    assert.equal(statSync(join(dir, "bin/etcd-real")).mode & 0o777, 0o755);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("no runnable etcd: refused with what to install", async () => {
  await assert.rejects(etcdVersion("/nonexistent/etcd"), (e: unknown) => e instanceof KubehaError && /no runnable etcd at \/nonexistent\/etcd/.test(e.message) && /etcd-server/.test(e.hint ?? ""));
});
