/** What `certs renew` chooses (pure), its refusals, and the CA expiry warning of `certs check`. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ensureState, inspectState } from "../../src/pki/index.ts";
import { caExpiryWarnings, chooseRenewal, kubeadmOwned, CA_WARNING_DAYS } from "../../src/pki/renew.ts";
import { UsageError } from "../../src/errors.ts";
import { tmpCluster } from "./fixtures.ts";

const DAY = 86_400_000;

test("--all: every leaf kubeha owns plus kubeadm's own certificates; stacked etcd adds kubeadm's etcd certificates", async () => {
  for (const etcd of ["external", "stacked"] as const) {
    const fx = await tmpCluster({ etcd });
    try {
      await ensureState(fx.cluster);
      const { rows } = await inspectState(fx.cluster);
      const all = chooseRenewal(fx.cluster, rows, { mode: "all" });
      assert.ok(!all.kubeha.some((id) => ["ca", "etcd-ca", "front-proxy-ca", "sa"].includes(id)), "no CA, no key pair");
      assert.ok(all.kubeha.includes("apiserver/cp1") && all.kubeha.includes("admin") && all.kubeha.includes("scheduler"));
      assert.equal(all.kubeha.includes("etcd-server/e1"), etcd === "external");
      assert.deepEqual(all.kubeadm, kubeadmOwned(fx.cluster));
      assert.deepEqual(
        all.kubeadm,
        etcd === "external"
          ? ["apiserver-kubelet-client", "front-proxy-client"]
          : ["apiserver-kubelet-client", "front-proxy-client", "apiserver-etcd-client", "etcd-healthcheck-client", "etcd-peer", "etcd-server"],
      );
    } finally {
      await fx.cleanup();
    }
  }
});

test("by expiry: only the leaves inside the threshold; by name: table names, NAME/HOST ids and kubeadm's names", async () => {
  const fx = await tmpCluster({ etcd: "external", leafDays: 365 });
  try {
    await ensureState(fx.cluster);
    const now = new Date();
    const soon = await inspectState(fx.cluster, { now: new Date(now.getTime() + 340 * DAY), thresholdDays: 30 });
    const due = chooseRenewal(fx.cluster, soon.rows, { mode: "expiring", thresholdDays: 30 });
    assert.ok(due.kubeha.length > 10 && due.kubeha.every((id) => !id.includes("ca")), due.kubeha.join(","));
    assert.deepEqual(due.kubeadm, [], "kubeadm's certificates are renewed by name or with --all");
    const fresh = await inspectState(fx.cluster, { thresholdDays: 30 });
    assert.deepEqual(chooseRenewal(fx.cluster, fresh.rows, { mode: "expiring", thresholdDays: 30 }).kubeha, []);

    const named = chooseRenewal(fx.cluster, fresh.rows, { mode: "names", names: ["apiserver", "etcd-peer/e2", "front-proxy-client"] });
    assert.deepEqual(named.kubeha, ["apiserver/cp1", "apiserver/cp2", "apiserver/cp3", "etcd-peer/e2"]);
    assert.deepEqual(named.kubeadm, ["front-proxy-client"]);
  } finally {
    await fx.cleanup();
  }
});

test("unknown names, CAs and the service-account key are refused with what can be renewed", async () => {
  const fx = await tmpCluster({ etcd: "stacked" });
  try {
    await ensureState(fx.cluster);
    const { rows } = await inspectState(fx.cluster);
    const refuse = (name: string, re: RegExp) =>
      assert.throws(() => chooseRenewal(fx.cluster, rows, { mode: "names", names: [name] }), (e: unknown) => {
        assert.ok(e instanceof UsageError);
        assert.match(e.message, re);
        assert.match(e.hint ?? "", /can be renewed: apiserver, .*admin.*etcd-server/);
        return true;
      });
    refuse("etcd-ca", /etcd-ca is a CA: kubeha does not rotate it \(CA rotation is out of scope\)/);
    refuse("sa", /service-account key pair/);
    refuse("apiserver/nohost", /apiserver\/nohost is not a certificate of cluster pkitest/);
    // Stacked: etcd-server is kubeadm's (on the control planes), not kubeha's.
    assert.deepEqual(chooseRenewal(fx.cluster, rows, { mode: "names", names: ["etcd-server"] }), { kubeha: [], kubeadm: ["etcd-server"] });
  } finally {
    await fx.cleanup();
  }
});

test("certs check warns a year before a CA expires, and says kubeha does not rotate CAs", async () => {
  const fx = await tmpCluster();
  try {
    await ensureState(fx.cluster);
    const { rows } = await inspectState(fx.cluster);
    const caEnd = rows.find((r) => r.id === "ca")!.info!.notAfter.getTime();
    assert.deepEqual(caExpiryWarnings(rows, new Date(caEnd - (CA_WARNING_DAYS + 1) * DAY)), [], "more than a year left: quiet");
    const w = caExpiryWarnings(rows, new Date(caEnd - 200 * DAY));
    assert.equal(w.length, 3, w.join("\n"));
    assert.match(w[0]!, /^CA ca expires in 200 days \(\d{4}-\d\d-\d\d\): kubeha does not rotate CAs \(out of scope\)/);
    assert.match(caExpiryWarnings(rows, new Date(caEnd + DAY))[0]!, /CA ca expired on .*out of scope/);
  } finally {
    await fx.cleanup();
  }
});

test("a forced renewal re-issues exactly the chosen leaves and reuses everything else", async () => {
  const fx = await tmpCluster();
  try {
    const s1 = await ensureState(fx.cluster);
    const s2 = await ensureState(fx.cluster, { force: new Set(["apiserver/cp2", "admin", "ca"]) });
    const issued = s2.report.certs.filter((c) => c.action === "issued").map((c) => `${c.id} ${c.reason}`);
    assert.deepEqual(issued, ["apiserver/cp2 renewal requested", "admin renewal requested"], "CAs are never forced");
    assert.notEqual(s2.material("apiserver/cp2").cert, s1.material("apiserver/cp2").cert);
    assert.equal(s2.material("apiserver/cp1").cert, s1.material("apiserver/cp1").cert);
    assert.equal(s2.material("ca").cert, s1.material("ca").cert);
  } finally {
    await fx.cleanup();
  }
});
