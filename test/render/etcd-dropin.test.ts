/**
 * External etcd's systemd drop-in: Debian's etcd.service starts after network.target only and
 * restarts only after a signal (`Restart=on-abnormal`), so a member that boots before its address
 * is up exits ("bind: cannot assign requested address") and stays down. The drop-in is checked
 * with the real `systemd-analyze verify` against Debian's unit, and against what that unit says.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { renderCluster } from "../../src/render/index.ts";
import { PATHS } from "../../src/render/paths.ts";
import { runsExternalEtcd } from "../../src/spec/topology.ts";
import { hostByName } from "../../src/spec/model.ts";
import { systemdVerify } from "../helpers/lb-tools.ts";
import { FIXTURE_SECRETS, clustersUnderTest } from "./helpers.ts";

const external = clustersUnderTest().filter(({ cluster }) => cluster.etcd.mode === "external");

test("Debian's etcd.service is what the drop-in corrects: after network.target only, restarted only on a signal", () => {
  const unit = readFileSync("/lib/systemd/system/etcd.service", "utf8");
  assert.match(unit, /^After=network\.target$/m);
  assert.match(unit, /^Restart=on-abnormal$/m);
});

test("every external etcd member gets the drop-in, and only they do; systemd-analyze verify accepts it on Debian's unit", () => {
  assert.ok(external.length >= 1, "clusters under test with external etcd");
  for (const { name, cluster } of clustersUnderTest()) {
    for (const r of renderCluster(cluster, FIXTURE_SECRETS)) {
      const dropIn = r.files.find((f) => f.path === PATHS.etcdDropIn);
      assert.equal(Boolean(dropIn), runsExternalEtcd(cluster, hostByName(cluster, r.host)), `${name}/${r.host}`);
      if (!dropIn) continue;
      assert.match(dropIn.content, /^After=network-online\.target$/m);
      assert.match(dropIn.content, /^Restart=on-failure$/m);
      assert.match(dropIn.content, /^StartLimitIntervalSec=0$/m, "a member that cannot start yet keeps trying");
      assert.deepEqual(dropIn.restarts, ["etcd.service"]);
    }
  }
  const { cluster } = external[0]!;
  const r = renderCluster(cluster, FIXTURE_SECRETS).find((x) => x.files.some((f) => f.path === PATHS.etcdDropIn))!;
  const res = systemdVerify("etcd.service", r.files.find((f) => f.path === PATHS.etcdDropIn)!.content);
  assert.equal(res.code, 0, res.out);
  assert.equal(res.out.trim(), "", res.out);
  const broken = systemdVerify("etcd.service", "[Service]\nRestart=sometimes\n");
  assert.match(broken.out, /Failed to parse service restart specifier|sometimes/, "the check can fail");
});
