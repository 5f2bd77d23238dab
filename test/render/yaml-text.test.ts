import { test } from "node:test";
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { toYaml } from "../../src/render/yaml-text.ts";

const TRICKY = ["true", "no", "null", "~", "123", "1.30", "0o17", "", " lead", "trail ", "a: b", "- x", "#x", "x #y", "@at", "`tick", "'q'", '"dq"', "{a}", "[a]", "*ref", "&anc", "!tag", "%p", "10.0.0.1", "v1.33.4", "key=value:NoSchedule", "a,b", "?", ":", "é", "kubeha"];

test("toYaml is byte-identical to yaml's stringify for every string the shape cache fills in", () => {
  for (const s of TRICKY) {
    for (const doc of [
      { name: s, list: [s, { name: s, value: s }], n: 1, b: false },
      { kind: "JoinConfiguration", nodeRegistration: { name: "w1", kubeletExtraArgs: [{ name: "node-ip", value: s }], taints: [] } },
      { a: [s], nested: { deeper: [[s, s]] } },
    ]) {
      assert.equal(toYaml(doc), stringify(doc, { lineWidth: 0 }), JSON.stringify(s));
      assert.equal(toYaml(doc), stringify(doc, { lineWidth: 0 }), `${JSON.stringify(s)} from the cache`);
    }
  }
});

test("documents with multi-line strings or a placeholder-like text take the plain path", () => {
  for (const doc of [{ script: "line1\nline2\n" }, { s: "kubehaslot0x" }, { kubehaslot1x: "k" }]) {
    assert.equal(toYaml(doc), stringify(doc, { lineWidth: 0 }));
  }
});
