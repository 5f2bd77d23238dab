/** The drill's own etcd client certificate (stacked etcd): a real etcd accepts it for writes and reads. */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { drillEtcdClient } from "../../src/drill/load.ts";
import { readBack, startEtcdWriter } from "../../src/drill/probes.ts";
import { certInfo } from "../../src/pki/x509.ts";
import { startEtcd, testPki, type LocalEtcd } from "./local-etcd.ts";

let etcd: LocalEtcd | undefined;
after(async () => {
  await etcd?.stop();
});

test("a client certificate signed in memory from the etcd CA writes and reads back through mutual TLS", async () => {
  const pki = await testPki();
  etcd = await startEtcd(pki);
  const client = await drillEtcdClient({ cert: pki.ca.cert, key: pki.ca.key });
  const info = certInfo(client.cert);
  assert.deepEqual([...info.extUsages], ["clientAuth"]);
  assert.equal(info.cn, "kubeha-drill");
  const opts = { endpoints: [etcd.endpoint], ca: pki.ca.cert, ...client, prefix: "/kubeha-drill/t", timeoutMs: 2000 };
  const w = startEtcdWriter({ ...opts, intervalMs: 5, maxCount: 10, maxMs: 10_000, t0: performance.now() });
  const writes = await w.done;
  assert.equal(writes.filter((x) => x.acked).length, 10, JSON.stringify(writes.filter((x) => !x.acked)));
  assert.equal((await readBack(opts)).size, 10);
  // A certificate from another CA is refused: the etcd really checks client certificates.
  const other = await testPki();
  const bad = startEtcdWriter({ ...opts, ...(await drillEtcdClient({ cert: other.ca.cert, key: other.ca.key })), intervalMs: 5, maxCount: 1, maxMs: 5000, t0: performance.now() });
  assert.equal((await bad.done)[0]!.acked, false);
});
