/** `kubeha init` never prints a file its own validate rejects, at any size its flags allow. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { kubehaInProcess } from "../helpers/cli.ts";
import { parseCluster } from "../../src/spec/read.ts";
import { exampleAddresses } from "../../src/spec/example.ts";

test("init --masters 2 is refused with the rule's reason (exit 2), not written", async () => {
  const r = await kubehaInProcess(["init", "--masters", "2"]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /these flags describe a cluster that `kubeha validate` rejects: spec\.hosts: 2 control planes with stacked etcd have no fault tolerance/);
  assert.match(r.stderr, /hint: use 3 control planes/);
});

for (const lb of ["dedicated", "colocated", "kube-vip", "single", "external"]) {
  test(`init --lb ${lb} --masters 99 --workers 100 --lbs 100: unique, valid addresses that validate`, async () => {
    const r = await kubehaInProcess(["init", "--lb", lb, "--masters", "99", "--workers", "100", "--lbs", "100"]);
    assert.equal(r.code, 0, r.stderr);
    const p = parseCluster(r.stdout);
    assert.deepEqual(p.problems.filter((x) => x.severity === "error"), []);
    const addrs = p.cluster!.hosts.map((h) => h.address);
    assert.equal(new Set(addrs).size, addrs.length);
    for (const a of addrs) assert.match(a, /^198\.18\.[01]\.(\d+)$/), assert.ok(!/\.(0|255|256)$/.test(a), a);
    assert.ok(!addrs.includes("198.18.0.100"), "no host on the VIP");
  });
}

test("example addresses skip .0, .255 and the VIP, cross into the next /24, and stop at the end of IPv4", () => {
  const it = exampleAddresses("198.18.0", "198.18.0.100");
  const got = Array.from({ length: 250 }, () => it.next().value as string);
  assert.equal(got[0], "198.18.0.11");
  assert.ok(!got.includes("198.18.0.100") && !got.includes("198.18.0.255") && !got.includes("198.18.1.0"));
  assert.ok(got.includes("198.18.1.1"));
  const end = exampleAddresses("255.255.255", "255.255.255.100");
  assert.throws(() => { for (let i = 0; i < 300; i++) end.next(); }, /run past 255\.255\.255\.254/);
});

test("init --subnet at the end of IPv4 with more hosts than fit is a usage error", async () => {
  const r = await kubehaInProcess(["init", "--subnet", "255.255.255", "--lb", "dedicated", "--lbs", "100", "--workers", "100", "--masters", "99"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--subnet 255\.255\.255: the example addresses run past 255\.255\.255\.254/);
});
