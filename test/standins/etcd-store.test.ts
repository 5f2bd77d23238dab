/**
 * The apiserver stand-in with external etcd (a real etcd 3.4 from Debian on loopback): two
 * apiservers share one store through etcd's v3 JSON gateway, and /readyz fails (500) while /livez
 * stays ok once etcd is gone. Needs the Debian package etcd-server.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, cleanStaleWorkDirs, recordPid } from "./helpers.ts";
import { freePort } from "../helpers/net.ts";

const PREFIX = "kubeha-standins-etcd-";
let work: string;
let caPem: string;
let etcd: ChildProcess | undefined;
const apiservers: ChildProcess[] = [];
let etcdPort: number;
const ports: number[] = [];
/** A TCP proxy to etcd that can go silent (a powered-off member: no reset, no answer). */
let proxy: Server;
let proxySilent = false;
const held: Socket[] = [];
let viaProxyPort: number;

const cleanStale = () => cleanStaleWorkDirs(PREFIX);

function track(p: ChildProcess): ChildProcess {
  recordPid(work, p.pid);
  return p;
}

function call(port: number, method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method, ca: caPem, timeout: 5000,
      headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body ? { "Content-Type": "application/json" } : {}) } }, (res) => {
      let data = "";
      res.on("data", (c: Buffer) => (data += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: data }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

async function until(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`${what} not reached within ${ms} ms`);
}

before(async () => {
  cleanStale();
  work = mkdtempSync(join(tmpdir(), PREFIX));
  const o = (args: string[]) => execFileSync("openssl", args, { stdio: "ignore" });
  o(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(work, "ca.key"), "-out", join(work, "ca.crt"), "-days", "1",
    "-subj", "/CN=kubernetes", "-addext", "basicConstraints=critical,CA:TRUE"]);
  o(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", join(work, "apiserver.key"), "-out", join(work, "as.csr"), "-subj", "/CN=kube-apiserver"]);
  writeFileSync(join(work, "ext"), "subjectAltName=IP:127.0.0.1\n");
  o(["x509", "-req", "-in", join(work, "as.csr"), "-CA", join(work, "ca.crt"), "-CAkey", join(work, "ca.key"), "-CAcreateserial",
    "-out", join(work, "apiserver.crt"), "-days", "1", "-extfile", join(work, "ext")]);
  caPem = readFileSync(join(work, "ca.crt"), "utf8");
  etcdPort = await freePort();
  const peer = await freePort();
  etcd = track(spawn("etcd", ["--name", "standin-test", "--data-dir", join(work, "etcd"),
    "--listen-client-urls", `http://127.0.0.1:${etcdPort}`, "--advertise-client-urls", `http://127.0.0.1:${etcdPort}`,
    "--listen-peer-urls", `http://127.0.0.1:${peer}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${peer}`,
    "--initial-cluster", `standin-test=http://127.0.0.1:${peer}`], { stdio: "ignore" }));
  proxy = createServer((c) => {
    if (proxySilent) return void held.push(c);
    const up = connect(etcdPort, "127.0.0.1");
    c.pipe(up).pipe(c);
    c.on("error", () => up.destroy());
    up.on("error", () => c.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", () => r()));
  const proxyPort = (proxy.address() as { port: number }).port;
  const start = (name: string, port: number, servers: string) =>
    apiservers.push(track(spawn("python3", [join(BIN, "kube-apiserver-standin"), "--advertise-address=127.0.0.1", `--secure-port=${port}`,
      `--tls-cert-file=${join(work, "apiserver.crt")}`, `--tls-private-key-file=${join(work, "apiserver.key")}`,
      `--client-ca-file=${join(work, "ca.crt")}`, `--standin-ca-key-file=${join(work, "ca.key")}`, `--standin-node-name=${name}`,
      `--etcd-servers=${servers}`], { stdio: "ignore", env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } })));
  for (const name of ["a", "b"]) {
    const port = await freePort();
    ports.push(port);
    start(name, port, `http://127.0.0.1:${etcdPort}`);
  }
  // The proxy first: the store prefers it (the endpoint that answered last) until it goes silent.
  viaProxyPort = await freePort();
  start("c", viaProxyPort, `http://127.0.0.1:${proxyPort},http://127.0.0.1:${etcdPort}`);
});

after(async () => {
  for (const p of [...apiservers, etcd]) if (p && p.exitCode === null) p.kill("SIGKILL");
  for (const c of held) c.destroy();
  proxy?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

test("an etcd endpoint that goes silent (powered off) costs /readyz at most a short try, then the store stays off it", async () => {
  await until("apiserver c ready through the proxy", 20_000, async () => (await call(viaProxyPort, "GET", "/readyz")).status === 200);
  proxySilent = true;
  // Each check refreshes after 1 s; the first after the silence tries the proxy for 0.5 s, the
  // next ones start on the endpoint that answered.
  const took: number[] = [];
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 1100));
    const t0 = Date.now();
    const r = await call(viaProxyPort, "GET", "/readyz");
    took.push(Date.now() - t0);
    assert.equal(r.status, 200, r.body);
  }
  assert.ok(took[0]! < 1200, `first check after the silence took ${took[0]} ms (a try at a silent member must be short)`);
  for (const ms of took.slice(1)) assert.ok(ms < 400, `later checks must not try the silent member first: ${took.join(", ")} ms`);
});

test("external etcd: apiservers share one store; /readyz fails while etcd is down", async () => {
  for (const port of ports) await until(`apiserver :${port} ready`, 20_000, async () => (await call(port, "GET", "/readyz")).status === 200);
  const admin = execFileSync("python3", ["-c",
    "import sys, standin_common as c; print(c.admin_token(open(sys.argv[1], 'rb').read()))", join(work, "ca.key")],
    { encoding: "utf8", env: { ...process.env, PYTHONPATH: join(BIN, "..", "lib"), PYTHONDONTWRITEBYTECODE: "1" } }).trim();
  const created = await call(ports[0]!, "POST", "/api/v1/nodes", admin, { name: "n1" });
  assert.equal(created.status, 201, created.body);
  const seen = await call(ports[1]!, "GET", "/api/v1/nodes", admin);
  assert.equal(seen.status, 200);
  assert.deepEqual((JSON.parse(seen.body) as { items: Array<{ metadata: { name: string } }> }).items.map((n) => n.metadata.name), ["n1"]);
  assert.equal((await call(ports[1]!, "GET", "/api/v1/nodes")).status, 401, "anonymous list must be refused");

  etcd!.kill("SIGTERM");
  await until("readyz 500 after etcd stopped", 10_000, async () => (await call(ports[0]!, "GET", "/readyz")).status === 500);
  const r = await call(ports[0]!, "GET", "/readyz");
  assert.match(r.body, /\[-\]etcd failed/);
  assert.match(r.body, /stand-in/);
  assert.equal((await call(ports[0]!, "GET", "/livez")).status, 200);
});
