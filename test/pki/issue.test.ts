/**
 * Every certificate kubeha issues, checked with openssl (not with the library that made it):
 * chains, SANs, key usages, EKUs, CA flags, path length, validity, key algorithm, the CA hash.
 */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { ensureState, kubeconfig, pkiFilesForHost, caCertHash, TOKEN_RE, CERTIFICATE_KEY_RE, CA_HASH_RE, type State } from "../../src/pki/index.ts";
import { tmpCluster, VIP, API_DNS } from "./fixtures.ts";
import type { Cluster } from "../../src/spec/model.ts";

function openssl(args: string[], input?: string): string {
  return execFileSync("openssl", args, { encoding: "utf8", ...(input !== undefined ? { input } : {}) });
}

function text(pem: string): string {
  return openssl(["x509", "-noout", "-text"], pem);
}

/** The value lines after an extension header in `openssl x509 -text`. */
function ext(txt: string, header: string): string {
  const lines = txt.split("\n");
  const i = lines.findIndex((l) => l.includes(header));
  return i < 0 ? "" : (lines[i + 1] ?? "").trim();
}

function sans(txt: string): string[] {
  const v = ext(txt, "X509v3 Subject Alternative Name");
  return v ? v.split(", ").sort() : [];
}

function subject(pem: string): string {
  return openssl(["x509", "-noout", "-subject", "-nameopt", "RFC2253"], pem).trim().replace(/^subject=/, "");
}

function validityDays(pem: string): number {
  const start = Date.parse(openssl(["x509", "-noout", "-startdate"], pem).trim().replace("notBefore=", ""));
  const end = Date.parse(openssl(["x509", "-noout", "-enddate"], pem).trim().replace("notAfter=", ""));
  return Math.round((end - start) / 86_400_000);
}

for (const alg of ["ecdsa-p256", "rsa-2048"] as const) {
  describe(`PKI issued with ${alg}`, () => {
    let fx: Awaited<ReturnType<typeof tmpCluster>>;
    let c: Cluster;
    let state: State;
    let work: string;
    const file = async (name: string, content: string) => {
      const p = join(work, name);
      await writeFile(p, content, { mode: 0o600 });
      return p;
    };
    const cert = (id: string) => state.material(id).cert!;

    before(async () => {
      fx = await tmpCluster({ keyAlgorithm: alg, certSANs: ["extra.kubeha.test", "198.18.3.5"] });
      c = fx.cluster;
      state = await ensureState(c);
      work = await mkdtemp(join(tmpdir(), "kubeha-pki-openssl-"));
    });
    after(async () => {
      await fx.cleanup();
      await rm(work, { recursive: true, force: true });
    });

    test("every leaf verifies against its own CA with openssl (strict, right purpose) and not against another CA", async () => {
      const cas = {
        ca: await file("ca.crt", cert("ca")),
        "etcd-ca": await file("etcd-ca.crt", cert("etcd-ca")),
        "front-proxy-ca": await file("fp.crt", cert("front-proxy-ca")),
      };
      const leaves: Array<[string, keyof typeof cas, string[]]> = [
        ["apiserver/cp1", "ca", ["sslserver"]],
        ["apiserver/cp3", "ca", ["sslserver"]],
        ["admin", "ca", ["sslclient"]],
        ["super-admin", "ca", ["sslclient"]],
        ["controller-manager", "ca", ["sslclient"]],
        ["scheduler", "ca", ["sslclient"]],
        ["etcd-server/e1", "etcd-ca", ["sslserver", "sslclient"]],
        ["etcd-peer/e2", "etcd-ca", ["sslserver", "sslclient"]],
        ["etcd-healthcheck-client", "etcd-ca", ["sslclient"]],
        ["apiserver-etcd-client", "etcd-ca", ["sslclient"]],
      ];
      let n = 0;
      for (const [id, caName, purposes] of leaves) {
        const leaf = await file(`leaf-${n++}.crt`, cert(id));
        for (const purpose of purposes) {
          const out = openssl(["verify", "-x509_strict", "-purpose", purpose, "-CAfile", cas[caName], leaf]);
          assert.match(out, /: OK$/m, `${id} (${purpose})`);
        }
        const other = caName === "ca" ? cas["etcd-ca"] : cas.ca;
        const bad = spawnSync("openssl", ["verify", "-CAfile", other, leaf], { encoding: "utf8" });
        assert.notEqual(bad.status, 0, `${id} must not verify against the wrong CA`);
      }
      // A server-only cert is not good for client auth: the purpose check has teeth.
      const api = await file("api.crt", cert("apiserver/cp2"));
      assert.notEqual(spawnSync("openssl", ["verify", "-purpose", "sslclient", "-CAfile", cas.ca, api]).status, 0);
    });

    test("CAs: CA:TRUE, pathlen 0, keyCertSign, self-signed, CN in DNS SAN, 10 years", () => {
      for (const [id, cn] of [["ca", "kubernetes"], ["front-proxy-ca", "front-proxy-ca"], ["etcd-ca", "etcd-ca"]] as const) {
        const t = text(cert(id));
        assert.match(ext(t, "X509v3 Basic Constraints: critical"), /^CA:TRUE, pathlen:0$/, id);
        assert.equal(ext(t, "X509v3 Key Usage: critical"), "Digital Signature, Key Encipherment, Certificate Sign", id);
        assert.equal(subject(cert(id)), `CN=${cn}`);
        assert.deepEqual(sans(t), [`DNS:${cn}`]);
        assert.match(t, new RegExp(`Issuer: CN = ${cn}\\n`));
        assert.equal(validityDays(cert(id)), 3650, id);
      }
    });

    test("apiserver serving cert: exact SANs (service IP, node IP, VIP, DNS name, certSANs), serverAuth only", () => {
      for (const [host, ip] of [["cp1", "127.31.3.11"], ["cp2", "127.31.3.12"]]) {
        const t = text(cert(`apiserver/${host}`));
        assert.deepEqual(
          sans(t),
          [
            `DNS:${host}`,
            "DNS:kubernetes",
            "DNS:kubernetes.default",
            "DNS:kubernetes.default.svc",
            "DNS:kubernetes.default.svc.cluster.local",
            `DNS:${API_DNS}`,
            "DNS:extra.kubeha.test",
            "IP Address:10.96.0.1",
            `IP Address:${ip}`,
            `IP Address:${VIP}`,
            "IP Address:198.18.3.5",
          ].sort(),
        );
        assert.equal(ext(t, "X509v3 Extended Key Usage"), "TLS Web Server Authentication");
        assert.equal(ext(t, "X509v3 Basic Constraints: critical"), "CA:FALSE");
        assert.equal(ext(t, "X509v3 Key Usage: critical"), "Digital Signature, Key Encipherment");
        assert.equal(subject(cert(`apiserver/${host}`)), "CN=kube-apiserver");
        assert.equal(validityDays(cert(`apiserver/${host}`)), 365);
      }
    });

    test("etcd member certs: serverAuth+clientAuth, member IP + 127.0.0.1, name + localhost", () => {
      for (const kind of ["etcd-server", "etcd-peer"]) {
        const t = text(cert(`${kind}/e3`));
        assert.deepEqual(sans(t), ["DNS:e3", "DNS:localhost", "IP Address:127.0.0.1", "IP Address:127.31.3.23"]);
        assert.equal(ext(t, "X509v3 Extended Key Usage"), "TLS Web Server Authentication, TLS Web Client Authentication");
        assert.equal(subject(cert(`${kind}/e3`)), "CN=e3");
      }
    });

    test("client certs: CN/O as kubeadm 1.29+ sets them, clientAuth only, no SANs", () => {
      const want: Record<string, string> = {
        admin: "CN=kubernetes-admin,O=kubeadm:cluster-admins",
        "super-admin": "CN=kubernetes-super-admin,O=system:masters",
        "controller-manager": "CN=system:kube-controller-manager",
        scheduler: "CN=system:kube-scheduler",
        "etcd-healthcheck-client": "CN=kube-etcd-healthcheck-client",
        "apiserver-etcd-client": "CN=kube-apiserver-etcd-client",
      };
      for (const [id, subj] of Object.entries(want)) {
        const t = text(cert(id));
        assert.equal(subject(cert(id)), subj, id);
        assert.equal(ext(t, "X509v3 Extended Key Usage"), "TLS Web Client Authentication", id);
        assert.deepEqual(sans(t), [], id);
      }
    });

    test(`keys are ${alg} and belong to their certificates; sa.pub belongs to sa.key`, () => {
      for (const id of state.ids()) {
        const m = state.material(id);
        const fromKey = openssl(["pkey", "-pubout"], m.key);
        if (m.cert) {
          assert.equal(openssl(["x509", "-noout", "-pubkey"], m.cert), fromKey, id);
          const t = text(m.cert);
          if (alg === "ecdsa-p256") assert.match(t, /Public Key Algorithm: id-ecPublicKey[\s\S]*NIST CURVE: P-256/, id);
          else assert.match(t, /Public Key Algorithm: rsaEncryption\s+Public-Key: \(2048 bit\)/, id);
        } else {
          assert.equal(m.pub, fromKey, id);
        }
      }
    });

    test("CA hash equals openssl x509 -pubkey | openssl pkey -pubin -outform der | sha256", () => {
      const pub = openssl(["x509", "-noout", "-pubkey"], cert("ca"));
      const der = execFileSync("openssl", ["pkey", "-pubin", "-outform", "der"], { input: pub });
      const digest = execFileSync("sha256sum", { input: der, encoding: "utf8" }).split(" ")[0];
      assert.equal(caCertHash(cert("ca")), `sha256:${digest}`);
      assert.equal(state.secrets.join.caCertHash, `sha256:${digest}`);
      assert.notEqual(caCertHash(cert("etcd-ca")), state.secrets.join.caCertHash);
    });

    test("join material has kubeadm's formats", () => {
      const j = state.secrets.join;
      assert.match(j.token, TOKEN_RE);
      assert.match(j.certificateKey, CERTIFICATE_KEY_RE);
      assert.match(j.caCertHash, CA_HASH_RE);
      assert.equal(j.tokenTtlHours, 24);
      assert.equal(state.secrets.vrrpAuthPass.length, 8);
      assert.ok(state.secrets.haproxyStatsPassword.length >= 16);
    });

    test("kubeconfigs: embedded CA and client cert, user = CN, context user@cluster, server URL", () => {
      const k = parse(kubeconfig(c, state, "admin", `${API_DNS}:6443`));
      assert.equal(k["current-context"], "kubernetes-admin@pkitest");
      assert.equal(k.clusters[0].cluster.server, `https://${API_DNS}:6443`);
      assert.equal(Buffer.from(k.clusters[0].cluster["certificate-authority-data"], "base64").toString(), cert("ca"));
      const clientPem = Buffer.from(k.users[0].user["client-certificate-data"], "base64").toString();
      assert.equal(subject(clientPem), "CN=kubernetes-admin,O=kubeadm:cluster-admins");
      assert.equal(Buffer.from(k.users[0].user["client-key-data"], "base64").toString(), state.material("admin").key);
      const s = parse(kubeconfig(c, state, "super-admin", "https://127.31.3.11:6443"));
      assert.equal(s.users[0].name, "kubernetes-super-admin");
      assert.equal(s.clusters[0].cluster.server, "https://127.31.3.11:6443");
      const cm = parse(kubeconfig(c, state, "controller-manager", "https://127.31.3.11:6443"));
      assert.equal(cm.users[0].name, "system:kube-controller-manager");
      // Deterministic: same state, same text.
      assert.equal(kubeconfig(c, state, "scheduler", "x:1"), kubeconfig(c, state, "scheduler", "x:1"));
    });

    test("files per host (external etcd): shared material on cp1 only, etcd files on members, nothing on workers", () => {
      const paths = (h: string) => pkiFilesForHost(c, state, h).map((f) => f.path);
      const K = "/etc/kubernetes/pki";
      const E = "/etc/kubernetes";
      assert.deepEqual(paths("cp1"), [
        `${E}/admin.conf`, `${E}/controller-manager.conf`,
        `${K}/apiserver-etcd-client.crt`, `${K}/apiserver-etcd-client.key`, `${K}/apiserver.crt`, `${K}/apiserver.key`,
        `${K}/ca.crt`, `${K}/ca.key`, `${K}/etcd/ca.crt`, `${K}/front-proxy-ca.crt`, `${K}/front-proxy-ca.key`,
        `${K}/sa.key`, `${K}/sa.pub`, `${E}/scheduler.conf`, `${E}/super-admin.conf`,
      ]);
      // kubeadm writes super-admin.conf only where init runs; joins get the other three.
      assert.deepEqual(paths("cp2"), [
        `${E}/admin.conf`, `${E}/controller-manager.conf`,
        `${K}/apiserver-etcd-client.crt`, `${K}/apiserver-etcd-client.key`, `${K}/apiserver.crt`, `${K}/apiserver.key`, `${K}/etcd/ca.crt`,
        `${E}/scheduler.conf`,
      ]);
      assert.deepEqual(paths("e2"), [
        "/etc/etcd/pki/ca.crt", "/etc/etcd/pki/healthcheck-client.crt", "/etc/etcd/pki/healthcheck-client.key",
        "/etc/etcd/pki/peer.crt", "/etc/etcd/pki/peer.key", "/etc/etcd/pki/server.crt", "/etc/etcd/pki/server.key",
      ]);
      assert.deepEqual(paths("w1"), []);
      assert.deepEqual(paths("lb1"), []);
      for (const f of [...pkiFilesForHost(c, state, "cp1"), ...pkiFilesForHost(c, state, "e2")]) {
        const isKey = f.path.endsWith(".key") || f.path.endsWith(".conf");
        assert.equal(f.secret, isKey, f.path);
        assert.equal(f.mode, isKey ? 0o600 : 0o644, f.path);
      }
      const files = pkiFilesForHost(c, state, "cp2");
      assert.equal(files.find((f) => f.path === `${K}/apiserver.crt`)?.content, cert("apiserver/cp2"));
      assert.equal(pkiFilesForHost(c, state, "e2").find((f) => f.path === "/etc/etcd/pki/peer.crt")?.content, cert("etcd-peer/e2"));
    });

    test("kubeconfigs placed on control planes: kubeadm's server per file, kubeha's CA and client certs, same bytes every time", () => {
      const conf = (h: string, name: string) => {
        const f = pkiFilesForHost(c, state, h).find((x) => x.path === `/etc/kubernetes/${name}`);
        assert.ok(f, `${name} on ${h}`);
        assert.equal(f.mode, 0o600);
        assert.equal(f.secret, true);
        return { text: f.content, doc: parse(f.content) };
      };
      const b64 = (s: string) => Buffer.from(s, "base64").toString();
      const cases = [
        ["cp1", "admin.conf", "admin", `https://${API_DNS}:6443`],
        ["cp1", "super-admin.conf", "super-admin", `https://${API_DNS}:6443`],
        ["cp1", "controller-manager.conf", "controller-manager", "https://127.31.3.11:6443"],
        ["cp1", "scheduler.conf", "scheduler", "https://127.31.3.11:6443"],
        ["cp2", "admin.conf", "admin", `https://${API_DNS}:6443`],
        ["cp3", "controller-manager.conf", "controller-manager", "https://127.31.3.13:6443"],
        ["cp3", "scheduler.conf", "scheduler", "https://127.31.3.13:6443"],
      ] as const;
      for (const [h, name, id, server] of cases) {
        const { doc } = conf(h, name);
        assert.equal(doc.clusters[0].cluster.server, server, `${h} ${name}`);
        assert.equal(b64(doc.clusters[0].cluster["certificate-authority-data"]), cert("ca"), `${h} ${name}`);
        assert.equal(b64(doc.users[0].user["client-certificate-data"]), cert(id), `${h} ${name}`);
        assert.equal(b64(doc.users[0].user["client-key-data"]), state.material(id).key, `${h} ${name}`);
        // The client certificate verifies against the CA placed beside it.
        const ca = join(work, "kc-ca.crt");
        execFileSync("sh", ["-c", `cat > ${ca}`], { input: cert("ca") });
        assert.match(openssl(["verify", "-CAfile", ca], cert(id)), /: OK/);
      }
      assert.equal(subject(cert("super-admin")), "CN=kubernetes-super-admin,O=system:masters");
      assert.equal(conf("cp2", "admin.conf").text, conf("cp1", "admin.conf").text);
      assert.equal(conf("cp1", "scheduler.conf").text, pkiFilesForHost(c, state, "cp1").find((x) => x.path.endsWith("/scheduler.conf"))!.content);
      for (const h of ["w1", "lb1", "e1"]) assert.ok(!pkiFilesForHost(c, state, h).some((f) => f.path.endsWith(".conf")), h);
    });
  });
}

test("stacked etcd: cp1 gets the etcd CA with its key, no external-etcd certificates exist", async () => {
  const fx = await tmpCluster({ etcd: "stacked" });
  try {
    const state = await ensureState(fx.cluster);
    assert.ok(!state.ids().some((id) => id.startsWith("etcd-server") || id.startsWith("etcd-peer") || id === "apiserver-etcd-client"));
    const cp1 = pkiFilesForHost(fx.cluster, state, "cp1").map((f) => f.path);
    assert.ok(cp1.includes("/etc/kubernetes/pki/etcd/ca.key") && cp1.includes("/etc/kubernetes/pki/etcd/ca.crt"));
    assert.ok(!cp1.includes("/etc/kubernetes/pki/apiserver-etcd-client.crt"));
    assert.deepEqual(pkiFilesForHost(fx.cluster, state, "cp3").map((f) => f.path), [
      "/etc/kubernetes/admin.conf", "/etc/kubernetes/controller-manager.conf",
      "/etc/kubernetes/pki/apiserver.crt", "/etc/kubernetes/pki/apiserver.key", "/etc/kubernetes/scheduler.conf",
    ]);
  } finally {
    await fx.cleanup();
  }
});

test("kubeconfigs: reloading the state directory renders the same bytes", async () => {
  const fx = await tmpCluster({ etcd: "stacked", version: "1.29.15" });
  try {
    const first = await ensureState(fx.cluster);
    const confs = (s: State) => pkiFilesForHost(fx.cluster, s, "cp1").filter((f) => f.path.endsWith(".conf"));
    assert.deepEqual(confs(first).map((f) => f.path), ["/etc/kubernetes/admin.conf", "/etc/kubernetes/controller-manager.conf", "/etc/kubernetes/scheduler.conf", "/etc/kubernetes/super-admin.conf"]);
    const again = await ensureState(fx.cluster);
    assert.deepEqual(confs(again).map((f) => f.content), confs(first).map((f) => f.content));
  } finally {
    await fx.cleanup();
  }
});
