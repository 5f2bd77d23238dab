/**
 * quickCertInfo (node:crypto) against certInfo (@peculiar/x509) on every certificate kubeha
 * issues, for both key algorithms and with extra DNS/IP SANs; forms it does not read for sure
 * (IPv6 SANs) give undefined. And a second ensureState on a valid state directory reuses
 * everything with the same report without loading the X.509 library (a child process: the
 * library is loaded once per process).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ensureState } from "../../src/pki/state.ts";
import { certInfo, issueCA, issueLeaf, quickCertInfo } from "../../src/pki/x509.ts";
import { tmpCluster } from "./fixtures.ts";

const REPO = join(import.meta.dirname, "..", "..");

for (const keyAlgorithm of ["ecdsa-p256", "rsa-2048"] as const) {
  test(`quickCertInfo equals certInfo's fields on every issued certificate (${keyAlgorithm})`, async () => {
    const fx = await tmpCluster({ keyAlgorithm, certSANs: ["api.example.test", "198.51.100.7"] });
    try {
      const state = await ensureState(fx.cluster);
      let n = 0;
      for (const id of state.ids()) {
        const cert = state.material(id).cert;
        if (!cert) continue;
        const full = certInfo(cert);
        const quick = quickCertInfo(cert);
        assert.ok(quick, `${id}: quickCertInfo read nothing`);
        const { cn, o, isCA, extUsages, dns, ips, notAfter, keyAlgorithm: alg } = full;
        assert.deepEqual(quick, { cn, o: [...o], isCA, extUsages: [...extUsages], dns: [...dns], ips: [...ips], notAfter, keyAlgorithm: alg }, id);
        n++;
      }
      assert.ok(n >= 10, `only ${n} certificates compared`);
    } finally {
      await fx.cleanup();
    }
  });
}

test("quickCertInfo declines an IPv6 SAN (certInfo decides) and text that is not a certificate", async () => {
  const now = new Date();
  const ca = await issueCA({ cn: "quick-ca", o: [], isCA: true, extUsages: [], dns: [], ips: [] }, "ecdsa-p256", now, 10);
  const leaf = await issueLeaf({ cn: "v6", o: ["g1", "g2"], isCA: false, extUsages: ["serverAuth"], dns: ["a.test"], ips: ["fd00::1"] }, "ecdsa-p256", { cert: ca.cert!, key: ca.key }, now, 5);
  assert.equal(quickCertInfo(leaf.cert!), undefined);
  assert.deepEqual(certInfo(leaf.cert!).o, ["g1", "g2"]);
  assert.equal(quickCertInfo("not a certificate"), undefined);
  assert.equal(quickCertInfo(ca.cert!)?.isCA, true);
});

test("ensureState on a valid state directory: everything reused, the same report, no X.509 library loaded", async () => {
  const fx = await tmpCluster({ etcd: "external" });
  try {
    const first = await ensureState(fx.cluster);
    const before = await readFile(join(fx.cluster.pki.stateDir, "pki", "ca.crt"), "utf8");
    const script = `
      import { parseCluster } from "./src/spec/read.ts";
      import { ensureState } from "./src/pki/state.ts";
      import { readFileSync } from "node:fs";
      import { createRequire } from "node:module";
      const file = ${JSON.stringify(fx.file)};
      const c = parseCluster(readFileSync(file, "utf8"), { sourcePath: file }).cluster;
      const s = await ensureState(c);
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes("@peculiar"));
      process.stdout.write(JSON.stringify({ report: s.report, loaded: loaded.length }));
    `;
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: REPO, encoding: "utf8", timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { report: typeof first.report; loaded: number };
    assert.equal(out.loaded, 0, "the X.509 library was loaded");
    assert.ok(out.report.certs.every((x) => x.action === "reused"), JSON.stringify(out.report.certs));
    assert.deepEqual(out.report.certs, first.report.certs.map((x) => ({ ...x, action: "reused", ...(x.action === "issued" ? { reason: undefined } : {}) })).map((x) => JSON.parse(JSON.stringify(x))));
    assert.equal(await readFile(join(fx.cluster.pki.stateDir, "pki", "ca.crt"), "utf8"), before);
  } finally {
    await fx.cleanup();
  }
});
