/**
 * The drill's comparison profiles: for every profile and every LB host of each HAProxy +
 * keepalived example/fixture cluster, the real `haproxy -c` and `keepalived -t` accept the files,
 * the seed-specific settings are there, the hosts' VIP/interface/router id/ports/backends are
 * kubeha's, scripts are not writable by others, and the "kubeha" profile is byte for byte the
 * golden render.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { usesKeepalived } from "../../src/spec/topology.ts";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FIXTURE_SECRETS, REPO, clustersUnderTest, run } from "../render/helpers.ts";
import { haproxyCheck, keepalivedCheck } from "../helpers/lb-tools.ts";
import { CHECK_APISERVER_PATH, lbProfile, profileAdvertSeconds, profileSummary, renderLbProfile, vipSettleMs } from "../../src/drill/profiles.ts";
import { PROFILES, type ProfileName } from "../../src/drill/types.ts";
import { renderHaproxy } from "../../src/render/haproxy.ts";
import { renderKeepalived } from "../../src/render/keepalived.ts";
import { PATHS } from "../../src/render/paths.ts";
import { hostsWithRole, type Cluster, type Host } from "../../src/spec/model.ts";
import { KubehaError } from "../../src/errors.ts";
import type { RenderedFile } from "../../src/render/types.ts";

const SEEDS = PROFILES.filter((p) => p !== "kubeha");
const all = clustersUnderTest();
const lbClusters = all.filter((x) => x.cluster.endpoint.mode === "haproxy-keepalived");

/** Every LB path any profile may write: a host's LB state is exactly the files of the active profile among these. */
const LB_PATHS = [
  PATHS.haproxyCfg,
  PATHS.haproxyDropIn,
  PATHS.keepalivedConf,
  PATHS.keepalivedCheckScript,
  PATHS.keepalivedNotifyScript,
  PATHS.keepalivedDropIn,
  CHECK_APISERVER_PATH,
];

function get(files: RenderedFile[], path: string): string {
  const f = files.find((x) => x.path === path);
  assert.ok(f, `no ${path} among ${files.map((x) => x.path).join(", ")}`);
  return f.content;
}

/** Non-comment lines, trimmed (keepalived comments start with ! or #). */
function directives(content: string): string[] {
  return content
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#") && !l.startsWith("!"));
}

function one(content: string, re: RegExp, what: string): string {
  const hits = directives(content).map((l) => re.exec(l)).filter((m): m is RegExpExecArray => m !== null);
  assert.equal(hits.length, 1, `expected exactly one ${what}, found ${hits.length}:\n${content}`);
  return hits[0]![1]!;
}

/** The entries of a keepalived `name { ... }` block, sorted ([] when there is none). */
function block(conf: string, name: string): string[] {
  const m = new RegExp(`${name} \\{\\n([^}]*)\\}`).exec(conf);
  return m ? directives(m[1]!).sort() : [];
}

function servers(cfg: string): string[] {
  return directives(cfg)
    .filter((l) => l.startsWith("server "))
    .map((l) => l.split(/\s+/).slice(1, 3).join(" "))
    .sort();
}

const expectedPriority = (p: ProfileName, h: Host) =>
  p === "seed-002" ? (h.lbIndex === 0 ? 100 : 90) : h.lbIndex === 0 ? 101 : 100;

test("the examples under test include a colocated and a dedicated-LB cluster", () => {
  const names = lbClusters.map((x) => x.name);
  assert.ok(names.includes("seed-002-colocated-16443"), names.join(", "));
  assert.ok(names.includes("seed-004-dedicated-lbs-8443"), names.join(", "));
  const dedicated = lbClusters.find((x) => x.name === "seed-004-dedicated-lbs-8443")!.cluster;
  assert.ok(hostsWithRole(dedicated, "lb").every((h) => !h.roles.includes("control-plane")));
});

for (const { name, cluster } of lbClusters) {
  for (const h of hostsWithRole(cluster, "lb")) {
    const kubeha = [...renderHaproxy(cluster, h, FIXTURE_SECRETS), ...renderKeepalived(cluster, h, FIXTURE_SECRETS)];
    const kubehaKa = get(kubeha, PATHS.keepalivedConf);
    const kubehaHp = get(kubeha, PATHS.haproxyCfg);

    test(`${name}/${h.name} kubeha: equals kubeha's own render and the golden files byte for byte`, () => {
      const r = lbProfile(cluster, h, "kubeha", FIXTURE_SECRETS);
      assert.deepEqual(r.files, kubeha);
      assert.deepEqual(renderLbProfile(cluster, h, "kubeha", FIXTURE_SECRETS), kubeha);
      const golden = join(REPO, "test", "golden", name, h.name);
      const onDisk = LB_PATHS.filter((p) => existsSync(join(golden, p)));
      assert.deepEqual(onDisk.sort(), r.files.map((f) => f.path).sort(), `LB files in ${golden}`);
      for (const f of r.files) assert.equal(f.content, readFileSync(join(golden, f.path), "utf8"), f.path);
      assert.deepEqual(r.remove, [CHECK_APISERVER_PATH], "kubeha removes the seeds' check script");
      assert.deepEqual(r.packages, []);
    });

    for (const profile of SEEDS) {
      const r = lbProfile(cluster, h, profile, FIXTURE_SECRETS);
      const hp = get(r.files, PATHS.haproxyCfg);
      const ka = get(r.files, PATHS.keepalivedConf);
      const tag = `${name}/${h.name} ${profile}`;

      test(`${tag}: haproxy -c accepts haproxy.cfg (only the seed's own forwardfor warnings)`, () => {
        const res = haproxyCheck(hp);
        assert.equal(res.code, 0, res.out);
        assert.doesNotMatch(res.out, /ALERT/, res.out);
        const warnings = res.out.split("\n").filter((l) => l.includes("WARNING"));
        assert.equal(warnings.length, 2, res.out);
        for (const w of warnings) assert.match(w, /'option forwardfor' ignored for (frontend|backend) .* requires HTTP mode/);
      });

      test(`${tag}: keepalived -t accepts keepalived.conf with its scripts in place`, () => {
        const res = keepalivedCheck(r.files, h.interface);
        assert.equal(res.code, 0, res.out);
        assert.doesNotMatch(res.out, /WARNING|Disabling|Unknown|Ignoring|SECURITY/i, res.out);
      });

      test(`${tag}: same VIP, interface, router id, VRRP transport, frontend port and backends as kubeha`, () => {
        assert.equal(one(ka, /^interface (\S+)$/, "interface"), one(kubehaKa, /^interface (\S+)$/, "interface"));
        assert.equal(one(ka, /^interface (\S+)$/, "interface"), h.interface);
        assert.ok(usesKeepalived(cluster));
        assert.equal(one(ka, /^virtual_router_id (\d+)$/, "router id"), String(cluster.endpoint.keepalived.routerId));
        assert.equal(one(kubehaKa, /^virtual_router_id (\d+)$/, "router id"), String(cluster.endpoint.keepalived.routerId));
        const vips = (c: string) => block(c, "virtual_ipaddress").map((l) => l.split(/[/ ]/)[0]);
        assert.deepEqual(vips(ka), [cluster.endpoint.address]);
        assert.deepEqual(vips(kubehaKa), [cluster.endpoint.address]);
        assert.deepEqual(block(ka, "unicast_peer"), block(kubehaKa, "unicast_peer"));
        // The drill waits a master-down interval for the VIP to settle: the interval it reads is the one rendered.
        assert.equal(Number(one(kubehaKa, /^advert_int (\S+)$/, "advert_int")), profileAdvertSeconds(cluster, "kubeha"));
        assert.equal(ka.includes("unicast_src_ip"), cluster.endpoint.keepalived.unicast);
        const bind = (c: string) => one(c, /^bind (\*:\d+)$/, "frontend bind");
        assert.equal(bind(hp), bind(kubehaHp));
        assert.equal(bind(hp), `*:${cluster.endpoint.port}`);
        assert.deepEqual(servers(hp), servers(kubehaHp));
        assert.equal(servers(hp).length, hostsWithRole(cluster, "control-plane").length);
      });

      test(`${tag}: the seed's checks, timing and priorities`, () => {
        const kd = directives(ka);
        const hd = directives(hp);
        assert.equal(one(ka, /^priority (\d+)$/, "priority"), String(expectedPriority(profile, h)));
        assert.equal(one(ka, /^state (\S+)$/, "state"), h.lbIndex === 0 ? "MASTER" : "BACKUP");
        assert.equal(one(ka, /^interval (\d+)$/, "script interval"), "3");
        if (profile === "seed-002") {
          assert.ok(kd.includes('script "/usr/bin/killall -0 haproxy"'), ka);
          assert.equal(one(ka, /^weight (-?\d+)$/, "weight"), "-11");
          assert.equal(Number(one(ka, /^advert_int (\S+)$/, "advert_int")), profileAdvertSeconds(cluster, profile));
          assert.ok(!kd.some((l) => /^(fall|rise) /.test(l)), "seed 002 sets no fall/rise");
          assert.ok(!hd.some((l) => /httpchk|ssl-hello-chk|check-ssl|default-server/.test(l)), "seed 002 uses haproxy's default checks");
          assert.ok(servers(hp).length > 0 && hd.filter((l) => l.startsWith("server ")).every((l) => l.endsWith(" check")));
          assert.ok(hd.includes("timeout connect 10s") && hd.includes("timeout client 1m") && hd.includes("retries 3"));
          assert.deepEqual(r.packages, ["psmisc"]);
          assert.ok(!r.files.some((f) => f.path === CHECK_APISERVER_PATH));
        } else {
          assert.ok(kd.includes(`script "${CHECK_APISERVER_PATH}"`), ka);
          assert.equal(one(ka, /^weight (-?\d+)$/, "weight"), "-2");
          assert.equal(one(ka, /^fall (\d+)$/, "fall"), "10");
          assert.equal(one(ka, /^rise (\d+)$/, "rise"), "2");
          assert.ok(!kd.some((l) => l.startsWith("advert_int")), "the guide leaves advert_int at keepalived's default (1 s)");
          assert.ok(hd.includes("option httpchk GET /healthz") && hd.includes("http-check expect status 200"));
          assert.ok(hd.includes("timeout connect 5s") && hd.includes("timeout client 20s") && hd.includes("timeout server 20s") && hd.includes("retries 1"));
          assert.deepEqual(r.packages, ["curl"]);
          const script = get(r.files, CHECK_APISERVER_PATH);
          assert.match(script, new RegExp(`^APISERVER_DEST_PORT=${cluster.endpoint.port}$`, "m"));
          assert.match(script, new RegExp(`^APISERVER_VIP=${cluster.endpoint.address.replace(/\./g, "\\.")}$`, "m"));
          const serverLines = hd.filter((l) => l.startsWith("server "));
          if (profile === "seed-004") {
            // The seed's last check option wins: a TLS hello, with haproxy's default timing.
            assert.ok(hd.includes("option ssl-hello-chk"), hp);
            assert.ok(hd.indexOf("option ssl-hello-chk") > hd.indexOf("option httpchk GET /healthz"));
            assert.ok(serverLines.every((l) => l.endsWith(" check")), hp);
            assert.ok(!hd.some((l) => l.startsWith("default-server")));
          } else {
            // The guide as meant: httpchk over TLS; its ssl-hello-chk line would mark every server DOWN.
            assert.ok(!hd.includes("option ssl-hello-chk"), hp);
            assert.match(hp, /^\s+# Changed from the guide: it also has `option ssl-hello-chk`/m);
            assert.ok(serverLines.every((l) => l.endsWith(" check check-ssl verify none")), hp);
            assert.ok(hd.includes("default-server inter 10s downinter 5s rise 2 fall 2 slowstart 60s maxconn 250 maxqueue 256 weight 100"), hp);
          }
        }
      });

      test(`${tag}: every file names the profile and its seed; scripts are 0755 root-owned and parse`, () => {
        for (const f of r.files) {
          const head = f.content.split("\n").slice(0, 6).join("\n");
          assert.match(head, new RegExp(`drill comparison profile "${profile}"; not kubeha's configuration\\.`), `${f.path}:\n${head}`);
          assert.match(head, profile === "kubeadm-guide" ? /kubeadm HA guide/ : new RegExp(`From seed ${profile.slice(5)}:`), f.path);
          assert.equal(f.owner, undefined, `${f.path} is owned by root (the default)`);
          assert.ok(!/\d{4}-\d{2}-\d{2}T\d{2}:/.test(f.content), `${f.path} holds a timestamp`);
          if (f.content.startsWith("#!")) {
            assert.equal(f.mode, 0o755, f.path);
            assert.equal(f.mode & 0o022, 0, `${f.path} is writable by group/others: keepalived would disable it`);
            const n = run("sh", ["-n"], { input: f.content });
            assert.equal(n.code, 0, `${f.path}: ${n.out}`);
          }
        }
      });

      test(`${tag}: secrets only in 0600 files; none of the seeds' published passwords`, () => {
        assert.ok(ka.includes(`auth_pass ${FIXTURE_SECRETS.vrrpAuthPass}`));
        for (const f of r.files) {
          const holds = [FIXTURE_SECRETS.vrrpAuthPass, FIXTURE_SECRETS.haproxyStatsPassword].some((s) => f.content.includes(s));
          if (holds) assert.ok(f.secret && f.mode === 0o600, `${f.path} holds a secret but is not secret/0600`);
          assert.doesNotMatch(f.content, /auth_pass (1111|42)\b|awesomePassword/, f.path);
        }
      });

      test(`${tag}: removes kubeha's drop-ins and scripts, writes the same paths for config`, () => {
        const paths = r.files.map((f) => f.path);
        assert.ok(paths.every((p) => LB_PATHS.includes(p)), paths.join(", "));
        for (const p of [PATHS.haproxyDropIn, PATHS.keepalivedDropIn, PATHS.keepalivedCheckScript]) assert.ok(r.remove.includes(p), `${p} not removed`);
        assert.equal(r.remove.includes(PATHS.keepalivedNotifyScript), kubeha.some((f) => f.path === PATHS.keepalivedNotifyScript));
        assert.ok(!r.remove.some((p) => paths.includes(p)), "a path both written and removed");
        assert.deepEqual(r.remove, [...r.remove].sort());
        assert.equal(r.daemonReload, true);
        assert.deepEqual(r.files.find((f) => f.path === PATHS.haproxyCfg)!.restarts, ["haproxy.service"]);
        assert.deepEqual(r.files.find((f) => f.path === PATHS.keepalivedConf)!.restarts, ["keepalived.service"]);
      });

      test(`${tag}: deterministic`, () => {
        assert.deepEqual(lbProfile(cluster, h, profile, FIXTURE_SECRETS), r);
      });
    }

    test(`${name}/${h.name}: any profile after any other leaves exactly its own LB files`, () => {
      for (const from of PROFILES) {
        for (const to of PROFILES) {
          const disk = new Map<string, string>();
          for (const p of [from, to]) {
            const r = lbProfile(cluster, h, p, FIXTURE_SECRETS);
            for (const path of r.remove) disk.delete(path);
            for (const f of r.files) disk.set(f.path, f.content);
          }
          const want = lbProfile(cluster, h, to, FIXTURE_SECRETS).files;
          assert.deepEqual([...disk.keys()].sort(), want.map((f) => f.path).sort(), `${from} -> ${to}`);
        }
      }
    });
  }
}

test("the check script is vetted for real: a world-writable copy is disabled by keepalived -t", () => {
  const { cluster } = lbClusters.find((x) => x.name === "seed-004-dedicated-lbs-8443")!;
  const h = hostsWithRole(cluster, "lb")[0]!;
  const files = lbProfile(cluster, h, "kubeadm-guide", FIXTURE_SECRETS).files;
  const loose = files.map((f) => (f.path === CHECK_APISERVER_PATH ? { ...f, mode: 0o777 } : f));
  const res = keepalivedCheck(loose, h.interface);
  assert.match(res.out, /Disabling track script check_apiserver due to insecure/, res.out);
  assert.notEqual(res.code, 0);
});

/**
 * The drill's settle window, recomputed from what each profile renders: the check's interval x
 * rise (keepalived's default rise is 1) when the profile preempts, plus preempt_delay, plus a
 * master-down interval (down_timer_adverts, 3 unless set, and a skew under one advert), plus
 * 500 ms. kubeha's preempt `never` keeps the holder (no check term).
 */
test("vipSettleMs agrees with the rendered keepalived.conf of every profile", () => {
  const kubehaModes = new Set<string>();
  for (const { name, cluster } of lbClusters) {
    if (!usesKeepalived(cluster)) throw new Error(`${name} is not a keepalived cluster`);
    const preempt: string = cluster.endpoint.keepalived.preempt;
    const h = hostsWithRole(cluster, "lb")[0]!;
    for (const p of PROFILES) {
      const ka = get(lbProfile(cluster, h, p, FIXTURE_SECRETS).files, PATHS.keepalivedConf);
      const script = /vrrp_script \S+ \{\n([^}]*)\}/.exec(ka)![1]!;
      const num = (re: RegExp, dflt: number) => Number(re.exec(script)?.[1] ?? dflt);
      const advert = Number(/^\s*advert_int (\S+)$/m.exec(ka)?.[1] ?? 1);
      const downAdverts = Number(/^\s*down_timer_adverts (\d+)$/m.exec(ka)?.[1] ?? 3);
      const delay = Number(/^\s*preempt_delay (\d+)$/m.exec(ka)?.[1] ?? 0);
      const preempts = p !== "kubeha" || preempt !== "never";
      if (p === "kubeha") kubehaModes.add(preempt);
      const goHome = preempts ? num(/^\s*interval (\d+)$/m, NaN) * num(/^\s*rise (\d+)$/m, 1) + delay : 0;
      // A master-down interval is downAdverts adverts and a skew under one advert.
      assert.equal(vipSettleMs(cluster, p), Math.round((goHome + (downAdverts + 1) * advert) * 1000) + 500, `${name} ${p}`);
    }
  }
  assert.ok(kubehaModes.has("never") && kubehaModes.size > 1, `kubeha preempt modes covered: ${[...kubehaModes].join(", ")}`);
  assert.equal(vipSettleMs(lbClusters[0]!.cluster, "seed-004"), (3 * 2 + 4) * 1000 + 500, "the guide: a 3 s check, rise 2, 1 s adverts");
});

test("hosts without haproxy/keepalived get nothing; seed profiles refuse other endpoint modes", () => {
  const colocated = lbClusters.find((x) => x.name === "seed-002-colocated-16443")!.cluster;
  const worker = colocated.hosts.find((h) => h.roles.includes("worker"))!;
  for (const p of PROFILES) assert.deepEqual(lbProfile(colocated, worker, p, FIXTURE_SECRETS), { profile: p, files: [], remove: [], daemonReload: false, packages: [] });
  const others = all.filter((x) => x.cluster.endpoint.mode !== "haproxy-keepalived");
  assert.ok(others.length > 0);
  for (const { cluster } of others as Array<{ cluster: Cluster }>) {
    const h = cluster.hosts[0]!;
    for (const p of SEEDS) {
      assert.throws(() => lbProfile(cluster, h, p, FIXTURE_SECRETS), (e: unknown) => e instanceof KubehaError && /haproxy-keepalived/.test(e.message) && !!e.hint);
    }
    for (const p of PROFILES) assert.equal(profileAdvertSeconds(cluster, p), null, "no keepalived, no VRRP adverts");
    assert.equal(vipSettleMs(cluster, "kubeha"), 500);
    const k = lbProfile(cluster, h, "kubeha", FIXTURE_SECRETS);
    assert.deepEqual(k.files, [...renderHaproxy(cluster, h, FIXTURE_SECRETS), ...renderKeepalived(cluster, h, FIXTURE_SECRETS)]);
    assert.deepEqual(k.remove, []);
  }
});

test("profileSummary: one line per profile with the figures that set it apart", () => {
  const want: Record<ProfileName, RegExp[]> = {
    kubeha: [/^kubeha: /, /track file/],
    "seed-002": [/^seed 002: /, /killall -0 haproxy every 3 s/, /weight -11/, /priorities 100\/90\/90/, /haproxy default checks/],
    "kubeadm-guide": [/^kubeadm guide: /, /check_apiserver\.sh every 3 s/, /fall 10/, /weight -2/, /priorities 101\/100\/100/, /httpchk GET \/healthz/],
    "seed-004": [/^seed 004: /, /fall 10/, /priorities 101\/100\/100/, /ssl-hello-chk/],
  };
  for (const p of PROFILES) {
    const s = profileSummary(p);
    assert.ok(!s.includes("\n"), s);
    for (const re of want[p]) assert.match(s, re);
  }
  assert.match(profileSummary("seed-002", 2), /priorities 100\/90,/);
});

/**
 * Runs the real haproxy on `cfg` in a private network + mount + PID namespace whose loopback holds
 * the backend addresses, each answered by a TLS server that returns 200 on every path
 * (fixtures/haproxy-checks.py), and returns each server's first health-check status.
 */
function liveChecks(cfg: string, c: Cluster, h: Host): { servers: Record<string, { status: string; check: string }>; error: string | null } {
  const dir = mkdtempSync(join(tmpdir(), "kubeha-profile-checks-"));
  try {
    for (const d of ["run", "lib"]) mkdirSync(join(dir, d), { mode: 0o755 });
    writeFileSync(join(dir, "haproxy.cfg"), cfg);
    const key = join(dir, "tls.key");
    const crt = join(dir, "tls.crt");
    const gen = run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=backend", "-days", "1", "-keyout", key, "-out", crt]);
    assert.equal(gen.code, 0, "openssl req failed");
    chmodSync(key, 0o600);
    const backends = hostsWithRole(c, "control-plane").map((b) => `${b.internalAddress}:${c.kubernetes.apiServerPort}`);
    const addrs = [...new Set([h.internalAddress, ...hostsWithRole(c, "control-plane").map((b) => b.internalAddress)])];
    const script = [
      "set -e",
      "ip link set lo up",
      ...addrs.map((a) => `ip addr add ${a}/32 dev lo`),
      `mount --bind ${dir}/run /run/haproxy`,
      `mount --bind ${dir}/lib /var/lib/haproxy`,
      `exec python3 ${join(import.meta.dirname, "fixtures", "haproxy-checks.py")} ${dir}/haproxy.cfg ${crt} ${key} ${backends.join(" ")}`,
    ].join("\n");
    const res = run("unshare", ["--mount", "--net", "--pid", "--fork", "sh", "-c", script]);
    assert.equal(res.code, 0, res.out);
    return JSON.parse(res.out.trim().split("\n").pop()!);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const okChecks = (r: ReturnType<typeof liveChecks>) => Object.values(r.servers).map((s) => s.check.replace(/^\* /, ""));

test("live haproxy: each seed profile's backend checks see healthy TLS backends as healthy; the guide's literal ssl-hello-chk line does not", () => {
  const colocated = lbClusters.find((x) => x.name === "seed-002-colocated-16443")!.cluster;
  const dedicated = lbClusters.find((x) => x.name === "seed-004-dedicated-lbs-8443")!.cluster;
  const h2 = hostsWithRole(colocated, "lb")[0]!;
  const h4 = hostsWithRole(dedicated, "lb")[0]!;
  const n = (c: Cluster) => hostsWithRole(c, "control-plane").length;

  const seed002 = liveChecks(get(renderLbProfile(colocated, h2, "seed-002", FIXTURE_SECRETS), PATHS.haproxyCfg), colocated, h2);
  assert.equal(seed002.error, null, JSON.stringify(seed002));
  assert.deepEqual(okChecks(seed002), Array(n(colocated)).fill("L4OK"), JSON.stringify(seed002));

  const seed004 = liveChecks(get(renderLbProfile(dedicated, h4, "seed-004", FIXTURE_SECRETS), PATHS.haproxyCfg), dedicated, h4);
  assert.equal(seed004.error, null, JSON.stringify(seed004));
  assert.deepEqual(okChecks(seed004), Array(n(dedicated)).fill("L6OK"), JSON.stringify(seed004));

  // The guide's 10 s interval only delays the first check; 300 ms here keeps the test short.
  const guide = get(renderLbProfile(dedicated, h4, "kubeadm-guide", FIXTURE_SECRETS), PATHS.haproxyCfg).replace("inter 10s downinter 5s", "inter 300ms downinter 300ms");
  assert.match(guide, /inter 300ms/);
  const meant = liveChecks(guide, dedicated, h4);
  assert.equal(meant.error, null, JSON.stringify(meant));
  assert.deepEqual(okChecks(meant), Array(n(dedicated)).fill("L7OK"), JSON.stringify(meant));

  const literal = liveChecks(guide.replace("    balance roundrobin\n", "    option ssl-hello-chk\n    balance roundrobin\n"), dedicated, h4);
  assert.equal(literal.error, null, JSON.stringify(literal));
  assert.equal(okChecks(literal).length, n(dedicated));
  for (const s of okChecks(literal)) assert.doesNotMatch(s, /OK$/, `the guide's literal backend should fail its checks: ${JSON.stringify(literal)}`);
});
