/** The state directory: reuse across runs, selective re-issue, permissions, rotation, no leaks in State. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { inspect } from "node:util";
import { hostname } from "node:os";
import { ensureState, rotateJoin, inspectState, certInfo } from "../../src/pki/index.ts";
import { parseCluster } from "../../src/spec/read.ts";
import { KubehaError } from "../../src/errors.ts";
import { clusterYaml, tmpCluster } from "./fixtures.ts";
import { secretsInStateDir, findLeaks } from "../helpers/secrets.ts";

async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (p: string): Promise<void> => {
    for (const e of await readdir(p, { withFileTypes: true })) {
      const q = join(p, e.name);
      if (e.isDirectory()) await walk(q);
      else out.set(q.slice(dir.length + 1), await readFile(q, "utf8"));
    }
  };
  await walk(dir);
  return out;
}

function changed(a: Map<string, string>, b: Map<string, string>): string[] {
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  return keys.filter((k) => a.get(k) !== b.get(k));
}

const DAY = 86_400_000;

test("first run creates 0700 dir and 0600 files; a second run issues nothing and rewrites nothing", async () => {
  const fx = await tmpCluster();
  try {
    const s1 = await ensureState(fx.cluster);
    const dir = fx.cluster.pki.stateDir;
    assert.equal(dir, join(fx.dir, ".kubeha", "pkitest"));
    assert.ok(s1.report.createdDir);
    assert.ok(s1.report.certs.every((c) => c.action === "issued"));
    assert.equal(s1.report.secrets, "created");
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    const snap1 = await snapshot(dir);
    assert.ok(snap1.size > 30);
    for (const f of snap1.keys()) assert.equal((await stat(join(dir, f))).mode & 0o777, 0o600, f);
    const mtimes = await Promise.all([...snap1.keys()].map(async (f) => (await stat(join(dir, f))).mtimeMs));

    const s2 = await ensureState(fx.cluster);
    assert.equal(s2.report.createdDir, false);
    assert.deepEqual(s2.report.certs.filter((c) => c.action !== "reused"), []);
    assert.equal(s2.report.secrets, "reused");
    assert.deepEqual(changed(snap1, await snapshot(dir)), []);
    assert.deepEqual(await Promise.all([...snap1.keys()].map(async (f) => (await stat(join(dir, f))).mtimeMs)), mtimes);
    assert.deepEqual(s2.secrets, s1.secrets);
  } finally {
    await fx.cleanup();
  }
});

test("deleting one leaf (or only its key) re-issues only that leaf", async () => {
  const fx = await tmpCluster();
  try {
    await ensureState(fx.cluster);
    const dir = fx.cluster.pki.stateDir;
    const before = await snapshot(dir);
    await rm(join(dir, "pki/hosts/cp2/apiserver.crt"));
    const s = await ensureState(fx.cluster);
    assert.deepEqual(s.report.certs.filter((c) => c.action === "issued").map((c) => `${c.id}: ${c.reason}`), ["apiserver/cp2: certificate missing"]);
    assert.deepEqual(changed(before, await snapshot(dir)), ["pki/hosts/cp2/apiserver.crt", "pki/hosts/cp2/apiserver.key"]);

    const mid = await snapshot(dir);
    await rm(join(dir, "pki/admin.key"));
    const s2 = await ensureState(fx.cluster);
    assert.deepEqual(s2.report.certs.filter((c) => c.action === "issued").map((c) => c.id), ["admin"]);
    assert.deepEqual(changed(mid, await snapshot(dir)), ["pki/admin.crt", "pki/admin.key"]);
  } finally {
    await fx.cleanup();
  }
});

test("a state dir with mode 0755 (or a key file with 0644) is refused with a chmod hint, and nothing is issued", async () => {
  const fx = await tmpCluster();
  try {
    await ensureState(fx.cluster);
    const dir = fx.cluster.pki.stateDir;
    const before = await snapshot(dir);
    await chmod(dir, 0o755);
    const err = await ensureState(fx.cluster).then(
      () => assert.fail("ensureState accepted a 0755 state dir"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof KubehaError);
    assert.match(err.message, /state directory .* is accessible by other users: \. \(mode 0755\)/);
    assert.equal(err.hint, `run \`chmod -R go-rwx ${dir}\` (and replace any symlink with the real file), then try again`);
    await assert.rejects(inspectState(fx.cluster), /mode 0755/);

    await chmod(dir, 0o700);
    await chmod(join(dir, "pki/ca.key"), 0o644);
    await assert.rejects(ensureState(fx.cluster), /pki\/ca\.key \(mode 0644\)/);
    await chmod(join(dir, "pki/ca.key"), 0o600);
    assert.deepEqual(changed(before, await snapshot(dir)), []);
    assert.ok((await ensureState(fx.cluster)).report.certs.every((c) => c.action === "reused"));
  } finally {
    await fx.cleanup();
  }
});

test("changed SANs re-issue exactly the certificates they appear in; the CA and secrets stay", async () => {
  const fx = await tmpCluster();
  try {
    const s1 = await ensureState(fx.cluster);
    const withSan = parseCluster(clusterYaml({ certSANs: ["new.kubeha.test"] }), { sourcePath: fx.file }).cluster!;
    const s2 = await ensureState(withSan);
    const issued = s2.report.certs.filter((c) => c.action === "issued");
    assert.deepEqual(issued.map((c) => c.id), ["apiserver/cp1", "apiserver/cp2", "apiserver/cp3"]);
    assert.match(issued[0]!.reason!, /DNS SANs .* != .*new\.kubeha\.test/);
    assert.equal(s2.material("ca").cert, s1.material("ca").cert);
    assert.deepEqual(s2.secrets, s1.secrets);
  } finally {
    await fx.cleanup();
  }
});

test("expiring leaves are re-issued, CAs kept; a leaf signed by a replaced CA is re-issued", async () => {
  const fx = await tmpCluster({ leafDays: 90 });
  try {
    const now = new Date();
    const s1 = await ensureState(fx.cluster, { now });
    // Renewal window for 90-day leaves: 30 days.
    const s2 = await ensureState(fx.cluster, { now: new Date(now.getTime() + 59 * DAY) });
    assert.ok(s2.report.certs.every((c) => c.action === "reused"));
    const s3 = await ensureState(fx.cluster, { now: new Date(now.getTime() + 61 * DAY) });
    const issued = s3.report.certs.filter((c) => c.action === "issued");
    assert.deepEqual(issued.map((c) => c.id).sort(), s1.report.certs.filter((c) => c.notAfter && !["ca", "front-proxy-ca", "etcd-ca"].includes(c.id)).map((c) => c.id).sort());
    assert.ok(issued.every((c) => /^expires in 2\d days$/.test(c.reason ?? "")), JSON.stringify(issued.map((c) => c.reason)));
    assert.equal(s3.material("ca").cert, s1.material("ca").cert);

    // Replace the etcd CA entirely (both files gone): everything it signed is re-issued, nothing else.
    const dir = fx.cluster.pki.stateDir;
    await rm(join(dir, "pki/etcd-ca.crt"));
    await rm(join(dir, "pki/etcd-ca.key"));
    const s4 = await ensureState(fx.cluster, { now: new Date(now.getTime() + 61 * DAY) });
    assert.deepEqual(
      s4.report.certs.filter((c) => c.action === "issued").map((c) => `${c.id}: ${c.reason}`),
      [
        "etcd-ca: missing",
        ...["e1", "e2", "e3"].map((h) => `etcd-server/${h}: not signed by the current etcd-ca`),
        ...["e1", "e2", "e3"].map((h) => `etcd-peer/${h}: not signed by the current etcd-ca`),
        "etcd-healthcheck-client: not signed by the current etcd-ca",
        "apiserver-etcd-client: not signed by the current etcd-ca",
      ],
    );
  } finally {
    await fx.cleanup();
  }
});

test("a CA with its key missing is an error, never silently replaced", async () => {
  const fx = await tmpCluster();
  try {
    await ensureState(fx.cluster);
    const dir = fx.cluster.pki.stateDir;
    await rm(join(dir, "pki/ca.key"));
    await assert.rejects(ensureState(fx.cluster), (e: unknown) => {
      assert.ok(e instanceof KubehaError);
      assert.match(e.message, /ca: the CA key is missing/);
      assert.match(e.hint ?? "", /restore both ca\.crt and ca\.key/);
      return true;
    });
    // Nothing was written in place of the CA.
    assert.equal(await readFile(join(dir, "pki/ca.key"), "utf8").catch(() => "absent"), "absent");
  } finally {
    await fx.cleanup();
  }
});

test("a missing sa.pub is derived from sa.key (service-account tokens stay valid)", async () => {
  const fx = await tmpCluster();
  try {
    const s1 = await ensureState(fx.cluster);
    await rm(join(fx.cluster.pki.stateDir, "pki/sa.pub"));
    const s2 = await ensureState(fx.cluster);
    assert.equal(s2.material("sa").key, s1.material("sa").key);
    assert.equal(s2.material("sa").pub, s1.material("sa").pub);
    assert.equal((await stat(join(fx.cluster.pki.stateDir, "pki/sa.pub"))).mode & 0o777, 0o600);
  } finally {
    await fx.cleanup();
  }
});

test("rotateJoin: new token, certificate key and issuedAt; CA hash and passwords kept; persisted", async () => {
  const fx = await tmpCluster();
  try {
    const s1 = await ensureState(fx.cluster);
    const later = new Date(Date.now() + 3 * 3_600_000);
    const s2 = await rotateJoin(fx.cluster, { now: later });
    assert.notEqual(s2.secrets.join.token, s1.secrets.join.token);
    assert.notEqual(s2.secrets.join.certificateKey, s1.secrets.join.certificateKey);
    assert.equal(s2.secrets.join.issuedAt, later.toISOString());
    assert.equal(s2.secrets.join.caCertHash, s1.secrets.join.caCertHash);
    assert.equal(s2.secrets.vrrpAuthPass, s1.secrets.vrrpAuthPass);
    assert.equal(s2.secrets.haproxyStatsPassword, s1.secrets.haproxyStatsPassword);
    const s3 = await ensureState(fx.cluster);
    assert.deepEqual(s3.secrets, s2.secrets);
  } finally {
    await fx.cleanup();
  }
});

test("a malformed secrets.json is refused naming the field, not the value", async () => {
  const fx = await tmpCluster();
  try {
    await ensureState(fx.cluster);
    const p = join(fx.cluster.pki.stateDir, "secrets.json");
    const s = JSON.parse(await readFile(p, "utf8"));
    s.join.token = "NOT-A-TOKEN-" + s.join.certificateKey;
    await writeFile(p, JSON.stringify(s), { mode: 0o600 });
    await assert.rejects(ensureState(fx.cluster), (e: unknown) => {
      assert.ok(e instanceof KubehaError);
      assert.match(e.message, /malformed fields: join\.token$/);
      assert.ok(!e.message.includes(s.join.certificateKey) && !(e.hint ?? "").includes(s.join.certificateKey));
      return true;
    });
  } finally {
    await fx.cleanup();
  }
});

test("printing or serializing a State shows no key, token or password", async () => {
  const fx = await tmpCluster();
  try {
    const s = await ensureState(fx.cluster);
    const secrets = await secretsInStateDir(fx.cluster.pki.stateDir);
    assert.ok(secrets.length > 40);
    const shown = inspect(s, { depth: 10 }) + JSON.stringify(s) + String(s);
    assert.deepEqual(findLeaks(shown, secrets), []);
    // The scanner itself finds what it should.
    assert.equal(findLeaks(`x ${s.secrets.join.certificateKey} y`, secrets).length, 1);
    assert.ok(findLeaks(s.material("ca").key, secrets).length >= 1);
  } finally {
    await fx.cleanup();
  }
});

test("switching keyAlgorithm re-issues every leaf with the new algorithm and keeps the CAs (with a warning)", async () => {
  const fx = await tmpCluster({ keyAlgorithm: "ecdsa-p256", etcd: "stacked" });
  try {
    const s1 = await ensureState(fx.cluster);
    const rsa = parseCluster(clusterYaml({ keyAlgorithm: "rsa-2048", etcd: "stacked" }), { sourcePath: fx.file }).cluster!;
    const s2 = await ensureState(rsa);
    const leaves = s2.report.certs.filter((c) => !["ca", "front-proxy-ca", "etcd-ca", "sa"].includes(c.id));
    assert.ok(leaves.length >= 7);
    for (const l of leaves) {
      assert.equal(l.action, "issued", l.id);
      assert.equal(l.reason, "key is ecdsa-p256, spec.pki.keyAlgorithm is rsa-2048", l.id);
      assert.equal(certInfo(s2.material(l.id).cert!).keyAlgorithm, "rsa-2048", l.id);
    }
    const ca = s2.report.certs.find((c) => c.id === "ca")!;
    assert.equal(ca.action, "reused");
    assert.match(ca.reason ?? "", /CA key is ecdsa-p256; kept/);
    assert.equal(s2.material("ca").cert, s1.material("ca").cert);
    assert.ok((await ensureState(rsa)).report.certs.every((c) => c.action === "reused"));
  } finally {
    await fx.cleanup();
  }
});

test("a state dir locked by a live kubeha process is refused; a stale lock is taken over", async () => {
  const fx = await tmpCluster({ etcd: "stacked" });
  try {
    await ensureState(fx.cluster);
    const lock = join(fx.cluster.pki.stateDir, ".lock");
    // This test process is alive: the lock looks held.
    await writeFile(lock, `${process.pid} ${hostname()}\n`, { mode: 0o600 });
    await assert.rejects(ensureState(fx.cluster), (e: unknown) => {
      assert.ok(e instanceof KubehaError);
      assert.match(e.message, new RegExp(`in use by another kubeha process \\(pid ${process.pid} on `));
      assert.match(e.hint ?? "", /delete .*\.lock/);
      return true;
    });
    // A PID that cannot exist (above pid_max): stale, taken over, and removed afterwards.
    await writeFile(lock, `4194305 ${hostname()}\n`, { mode: 0o600 });
    assert.ok((await ensureState(fx.cluster)).report.certs.every((c) => c.action === "reused"));
    await assert.rejects(stat(lock), /ENOENT/);
    // Concurrent runs in one process: one wins, the other is told to wait; nothing is corrupted.
    const results = await Promise.allSettled([ensureState(fx.cluster), ensureState(fx.cluster)]);
    assert.ok(results.some((r) => r.status === "fulfilled"));
    assert.ok((await ensureState(fx.cluster)).report.certs.every((c) => c.action === "reused"));
  } finally {
    await fx.cleanup();
  }
});
