/**
 * Real TLS handshakes with the apiserver serving cert: a server on the VIP (a 127.x loopback
 * address) is reached through the VIP IP and the endpoint DNS name by clients that verify chain
 * and host name (Node's TLS and curl); wrong names, wrong IPs and wrong CAs fail.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { connect, createServer, type Server, type TLSSocket } from "node:tls";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ensureState, type State } from "../../src/pki/index.ts";
import { tmpCluster, VIP, API_DNS } from "./fixtures.ts";

const run = promisify(execFile);
const WRONG_IP = "127.31.3.99";

let fx: Awaited<ReturnType<typeof tmpCluster>>;
let state: State;
let work: string;
const servers: Server[] = [];
const sockets = new Set<import("node:net").Socket>();
const ports = new Map<string, number>();

function listen(address: string): Promise<number> {
  const m = state.material("apiserver/cp1");
  const server = createServer(
    {
      cert: m.cert,
      key: m.key,
      // Like the apiserver: client certs are optional but, when sent, must chain to the cluster CA.
      ca: state.material("ca").cert,
      requestCert: true,
      rejectUnauthorized: false,
    },
    (sock) => {
      const who = sock.authorized ? String(sock.getPeerCertificate().subject.CN) : "anonymous";
      sock.end(`HTTP/1.1 200 OK\r\nContent-Length: ${who.length}\r\nConnection: close\r\n\r\n${who}`);
    },
  );
  servers.push(server);
  server.on("connection", (sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, address, () => resolve((server.address() as { port: number }).port));
  });
}

interface Attempt {
  host: string;
  servername?: string;
  ca?: string;
  cert?: string;
  key?: string;
}

/** One bounded handshake; resolves with the response body or the TLS error code. */
function handshake(a: Attempt): Promise<{ ok: boolean; body?: string; code?: string }> {
  return new Promise((resolve) => {
    const sock: TLSSocket = connect({
      host: a.host,
      port: ports.get(a.host)!,
      ...(a.servername ? { servername: a.servername } : {}),
      ca: a.ca ?? state.material("ca").cert,
      ...(a.cert ? { cert: a.cert, key: a.key } : {}),
      timeout: 5000,
    });
    let body = "";
    sock.on("secureConnect", () => sock.write("GET / HTTP/1.1\r\n\r\n"));
    sock.on("data", (d) => (body += d.toString()));
    sock.on("end", () => resolve({ ok: true, body: body.split("\r\n\r\n")[1] ?? "" }));
    sock.on("timeout", () => {
      sock.destroy();
      resolve({ ok: false, code: "TIMEOUT" });
    });
    sock.on("error", (e: NodeJS.ErrnoException) => resolve({ ok: false, code: e.code ?? e.message }));
  });
}

before(async () => {
  fx = await tmpCluster();
  state = await ensureState(fx.cluster);
  work = await mkdtemp(join(tmpdir(), "kubeha-pki-tls-"));
  for (const a of [VIP, WRONG_IP]) ports.set(a, await listen(a));
});

after(async () => {
  // close() waits for open connections (a client that rejected the cert may leave one half-open).
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  await fx.cleanup();
  await rm(work, { recursive: true, force: true });
});

test("a client verifying chain and host name reaches the server through the VIP IP", async () => {
  assert.deepEqual(await handshake({ host: VIP }), { ok: true, body: "anonymous" });
});

test("... and through the endpoint DNS name and the kubernetes service names", async () => {
  for (const name of [API_DNS, "kubernetes.default.svc.cluster.local", "kubernetes", "cp1"]) {
    assert.deepEqual(await handshake({ host: VIP, servername: name }), { ok: true, body: "anonymous" }, name);
  }
});

test("a wrong DNS name, an address not in the SANs, another node's name, or another CA fail", async () => {
  assert.deepEqual(await handshake({ host: VIP, servername: "wrong.kubeha.test" }), { ok: false, code: "ERR_TLS_CERT_ALTNAME_INVALID" });
  assert.deepEqual(await handshake({ host: VIP, servername: "cp2" }), { ok: false, code: "ERR_TLS_CERT_ALTNAME_INVALID" });
  assert.deepEqual(await handshake({ host: WRONG_IP }), { ok: false, code: "ERR_TLS_CERT_ALTNAME_INVALID" });
  const other = await handshake({ host: VIP, ca: state.material("etcd-ca").cert! });
  assert.equal(other.ok, false);
  // OpenSSL sends the CA along with the leaf (the server's `ca` completes the chain), so the client
  // sees a self-signed root it does not trust.
  assert.match(other.code ?? "", /^(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)$/);
});

test("the admin client cert authenticates to a server trusting the cluster CA; an etcd-CA client cert does not", async () => {
  const admin = state.material("admin");
  assert.deepEqual(await handshake({ host: VIP, servername: API_DNS, cert: admin.cert!, key: admin.key }), { ok: true, body: "kubernetes-admin" });
  const etcdClient = state.material("apiserver-etcd-client");
  assert.deepEqual(await handshake({ host: VIP, cert: etcdClient.cert!, key: etcdClient.key }), { ok: true, body: "anonymous" });
});

test("curl (OpenSSL) verifies the same: DNS name via --resolve and the VIP IP pass, a wrong name fails", async () => {
  const ca = join(work, "ca.crt");
  await writeFile(ca, state.material("ca").cert!);
  const port = ports.get(VIP)!;
  const curl = (url: string, extra: string[] = []) =>
    run("curl", ["-sS", "--max-time", "5", "--cacert", ca, "--noproxy", "*", ...extra, url], { encoding: "utf8" });
  assert.equal((await curl(`https://${API_DNS}:${port}/`, ["--resolve", `${API_DNS}:${port}:${VIP}`])).stdout, "anonymous");
  assert.equal((await curl(`https://${VIP}:${port}/`)).stdout, "anonymous");
  await assert.rejects(curl(`https://wrong.kubeha.test:${port}/`, ["--resolve", `wrong.kubeha.test:${port}:${VIP}`]), (e: { stderr: string }) => {
    assert.match(e.stderr, /no alternative certificate subject name matches|SSL: certificate subject name/);
    return true;
  });
});
