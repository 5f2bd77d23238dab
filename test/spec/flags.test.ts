/**
 * The recorded flag tables (src/spec/flag-tables.ts) and the checks built on them: per-minor sets
 * derived the documented way, retired flags refused with their replacement at every minor, and the
 * extra-args rule refusing what a component of the chosen minor would refuse.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ADDED, FLAG_PAGES, RETIRED } from "../../src/spec/flag-tables.ts";
import { acceptedFlags, flagProblem, supportedMinors, type Component } from "../../src/spec/flags.ts";
import { parseCluster } from "../../src/spec/read.ts";

const TABLED = Object.keys(FLAG_PAGES) as Component[];

test("the tables cover kube-apiserver and kube-scheduler, each from an old and a newest upstream page", () => {
  assert.deepEqual(TABLED.sort(), ["kube-apiserver", "kube-scheduler"]);
  for (const c of TABLED) {
    const p = FLAG_PAGES[c]!;
    assert.ok(p.old.minor < 29 && p.newest.minor >= 35, `${c}: pages ${p.old.minor} and ${p.newest.minor}`);
    for (const page of [p.old, p.newest]) {
      assert.match(page.source, /^kubernetes\/website content\/en\/docs\/reference\/command-line-tools-reference\/.+\.md \(stored version id \d+\)$/);
      assert.equal(new Set(page.flags).size, page.flags.length, `${c} 1.${page.minor}: duplicate names`);
      assert.deepEqual([...page.flags], [...page.flags].sort(), `${c} 1.${page.minor}: flags out of order (they are copied in the page's order)`);
      for (const f of page.flags) assert.match(f, /^[a-z0-9][a-z0-9-]*$/, `${c}: "${f}"`);
    }
  }
});

test("each minor's set grows with the minor and never holds a flag the newest page lacks", () => {
  for (const c of TABLED) {
    const newest = new Set(FLAG_PAGES[c]!.newest.flags);
    let previous = new Set<string>();
    for (const m of supportedMinors()) {
      const set = acceptedFlags(c, m)!;
      for (const f of set) assert.ok(newest.has(f), `${c} 1.${m}: ${f} is not on the newest page`);
      for (const f of previous) assert.ok(set.has(f), `${c}: ${f} accepted in 1.${m - 1} but not 1.${m}`);
      previous = new Set(set);
    }
    assert.equal(acceptedFlags(c, 36)!.size, newest.size, `${c}: 1.36 takes the newest page's whole set`);
    assert.ok(acceptedFlags(c, 29)!.size < newest.size, `${c}: 1.29 takes fewer flags than the newest page`);
  }
});

test("ADDED names only flags that are new on the newest page, with a minor in the supported range", () => {
  for (const [c, added] of Object.entries(ADDED) as Array<[Component, Record<string, { minor: number; source: string }>]>) {
    const p = FLAG_PAGES[c]!;
    for (const [f, a] of Object.entries(added)) {
      assert.ok(p.newest.flags.includes(f) && !p.old.flags.includes(f), `${c} ${f}`);
      assert.ok(a.minor >= 29 && a.minor <= p.newest.minor && a.source.length > 10, `${c} ${f}`);
    }
  }
});

test("a flag that came later is refused before its minor, with the minor it came in, and accepted from it", () => {
  const p = flagProblem("kube-apiserver", 31, "service-account-signing-endpoint");
  assert.ok(p);
  assert.equal(p.message, "kube-apiserver 1.31 has no --service-account-signing-endpoint: it came in 1.32");
  assert.match(p.hint, /KEP-740/);
  assert.equal(flagProblem("kube-apiserver", 32, "service-account-signing-endpoint"), undefined);
  // One kubeha has no source for: only from the newest page's minor.
  assert.match(flagProblem("kube-apiserver", 34, "storage-initialization-timeout")?.message ?? "", /may not have --storage-initialization-timeout: kubeha records it from the 1\.35 flags only/);
  assert.equal(flagProblem("kube-apiserver", 35, "storage-initialization-timeout"), undefined);
  // On both pages: every minor.
  for (const m of supportedMinors()) assert.equal(flagProblem("kube-apiserver", m, "audit-log-maxage"), undefined);
});

test("every retired flag is refused at every minor, naming what to use instead", () => {
  for (const [c, retired] of Object.entries(RETIRED) as Array<[Component, typeof RETIRED[Component]]>) {
    for (const [f, r] of Object.entries(retired)) {
      for (const m of supportedMinors()) {
        const p = flagProblem(c, m, f);
        assert.ok(p, `${c} 1.${m} --${f} accepted`);
        assert.ok(p.hint.startsWith(`use instead: ${r.replacement}`), p.hint);
      }
    }
  }
  assert.deepEqual(flagProblem("kube-apiserver", 34, "insecure-bind-address"), {
    message: "--insecure-bind-address was removed from kube-apiserver",
    hint: "use instead: nothing: the insecure port is gone; the API listens on --bind-address/--secure-port with TLS only (not on the v1.23 reference page (kube-apiserver id 4242864613) nor the v1.35 one)",
  });
  assert.match(flagProblem("kube-apiserver", 29, "experimental-bootstrap-token-auth")!.hint, /^use instead: --enable-bootstrap-token-auth /);
  assert.match(flagProblem("kubelet", 36, "experimental-bootstrap-kubeconfig")!.hint, /^use instead: --bootstrap-kubeconfig /);
  assert.match(flagProblem("kube-scheduler", 33, "kubeconfig")!.message, /^--kubeconfig is deprecated in kube-scheduler$/);
});

test("unknown flags, exiting flags and seed 001's runtime-config are refused", () => {
  assert.match(flagProblem("kube-apiserver", 34, "audit-log-max-age")!.message, /^kube-apiserver 1\.34 has no flag --audit-log-max-age$/);
  assert.match(flagProblem("kube-scheduler", 34, "help")!.message, /print and exit/);
  const rc = flagProblem("kube-apiserver", 34, "runtime-config", "api/all=true,rbac.authorization.k8s.io/v1alpha1");
  assert.match(rc!.message, /rbac\.authorization\.k8s\.io\/v1alpha1, which no supported API server serves/);
  assert.match(rc!.hint, /rbac\.authorization\.k8s\.io\/v1 /);
  assert.equal(flagProblem("kube-apiserver", 34, "runtime-config", "api/beta=false"), undefined);
  // No table for the kubelet yet: only RETIRED applies.
  assert.equal(flagProblem("kubelet", 34, "node-ip"), undefined);
});

const FILE = (extra: string, version = "1.34.2") => `apiVersion: kubeha.dev/v1alpha1
kind: Cluster
metadata: { name: f }
spec:
  hosts:
    - { name: m1, address: 198.18.0.11, roles: [control-plane, worker] }
  controlPlaneEndpoint: { mode: external, address: 198.18.0.100, hairpin: true }
  kubernetes:
    version: "${version}"
    extraArgs:
${extra}`;

test("extra-args rule: refused flags point at their YAML line with the replacement; good ones pass", () => {
  const text = FILE(`      apiServer:
        audit-log-maxage: "30"
        insecure-bind-address: 0.0.0.0
        secure-port: "7443"
        --event-ttl: 1h
        runtime-config: rbac.authorization.k8s.io/v1alpha1
      scheduler:
        address: 127.0.0.1
`);
  const r = parseCluster(text);
  const got = r.problems.filter((p) => p.rule === "extra-args").map((p) => [p.path, p.line, p.message, p.hint]);
  const line = (s: string) => text.split("\n").findIndex((l) => l.includes(s)) + 1;
  // Reported in file order, each at its own line.
  assert.deepEqual(got.map(([path, l, message]) => [path, l, message]), [
    ["spec.kubernetes.extraArgs.apiServer.insecure-bind-address", line("insecure-bind-address"), "--insecure-bind-address was removed from kube-apiserver"],
    ["spec.kubernetes.extraArgs.apiServer.secure-port", line("secure-port"), "kubeha sets --secure-port of kube-apiserver itself"],
    ['spec.kubernetes.extraArgs.apiServer["--event-ttl"]', line("--event-ttl"), '"--event-ttl": write the flag name without dashes'],
    ["spec.kubernetes.extraArgs.apiServer.runtime-config", line("runtime-config"), "--runtime-config names rbac.authorization.k8s.io/v1alpha1, which no supported API server serves"],
    ["spec.kubernetes.extraArgs.scheduler.address", line("address: 127"), "--address was removed from kube-scheduler"],
  ]);
  assert.deepEqual(got.map((g) => g[3]), [
    flagProblem("kube-apiserver", 34, "insecure-bind-address")!.hint,
    "set spec.kubernetes.apiServerPort",
    'e.g. event-ttl: "..."',
    flagProblem("kube-apiserver", 34, "runtime-config", "rbac.authorization.k8s.io/v1alpha1")!.hint,
    flagProblem("kube-scheduler", 34, "address")!.hint,
  ]);
  assert.match(String(got[0]![3]), /--bind-address\/--secure-port/);
  assert.equal(r.cluster, undefined, "errors block");
  const ok = parseCluster(FILE(`      apiServer: { audit-log-maxage: "30", service-account-signing-endpoint: /run/signer.sock }
`, "1.32.0"));
  assert.deepEqual(ok.problems.filter((p) => p.severity === "error"), []);
  assert.deepEqual(ok.cluster!.kubernetes.extraArgs.apiServer, [["audit-log-maxage", "30"], ["service-account-signing-endpoint", "/run/signer.sock"]]);
  const early = parseCluster(FILE(`      apiServer: { service-account-signing-endpoint: /run/signer.sock }
`, "1.31.4"));
  assert.match(early.problems.find((p) => p.rule === "extra-args")?.message ?? "", /1\.31 has no --service-account-signing-endpoint: it came in 1\.32/);
});
