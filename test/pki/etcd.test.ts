/**
 * A real 3-member etcd cluster (Debian's etcd-server) on loopback addresses 127.31.3.21-23 with
 * client and peer mutual TLS, using exactly the files pkiFilesForHost renders for each member.
 * Processes are started here, tracked by PID file under a fixed run dir (so a killed earlier run
 * is found and cleaned at start), and stopped by PID.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFile } from "node:child_process";
import { mkdir, readFile, readdir, rm, writeFile, open } from "node:fs/promises";
import { alive, cmdline, waitGone } from "../helpers/proc.ts";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { ensureState, pkiFilesForHost, type State } from "../../src/pki/index.ts";
import { hostByName } from "../../src/spec/model.ts";
import { tmpCluster } from "./fixtures.ts";

const run = promisify(execFile);
const RUN_DIR = "/tmp/kubeha-test-pki-etcd";
const CLIENT_PORT = 23179;
const PEER_PORT = 23180;
const MEMBERS = ["e1", "e2", "e3"];

let fx: Awaited<ReturnType<typeof tmpCluster>>;
let other: Awaited<ReturnType<typeof tmpCluster>>;
let state: State;
let otherState: State;
const pids: number[] = [];

/** Stops one of our etcds: only when its command line still names our run dir (PID reuse). */
async function stop(pid: number): Promise<void> {
  if (!(await cmdline(pid)).includes(RUN_DIR)) return;
  process.kill(pid, "SIGTERM");
  if (!(await waitGone(pid, 5000))) {
    process.kill(pid, "SIGKILL");
    await waitGone(pid, 2000);
  }
}

/** Processes left by an earlier, killed run: found through their PID files, verified, stopped. */
async function cleanStale(): Promise<void> {
  const entries = await readdir(RUN_DIR).catch(() => [] as string[]);
  for (const e of entries) {
    const pid = Number(await readFile(join(RUN_DIR, e, "etcd.pid"), "utf8").catch(() => "NaN"));
    if (Number.isInteger(pid) && pid > 1 && alive(pid)) await stop(pid);
  }
  await rm(RUN_DIR, { recursive: true, force: true });
}

/**
 * Takes the run dir. The addresses and ports are fixed, so a second copy of this test running at
 * the same time (another checkout's suite) is waited for (bounded: 120 s), never killed; a run
 * whose owner process is gone is stale and cleaned.
 */
async function claimRunDir(): Promise<void> {
  const owner = join(RUN_DIR, "owner.pid");
  for (let i = 0; i < 240; i++) {
    const pid = Number(await readFile(owner, "utf8").catch(() => "NaN"));
    const live = Number.isInteger(pid) && pid !== process.pid && alive(pid) && (await cmdline(pid)).includes("node");
    if (!live) {
      await cleanStale();
      await mkdir(RUN_DIR, { recursive: true, mode: 0o700 });
      try {
        await writeFile(owner, String(process.pid), { flag: "wx" });
        return;
      } catch {
        // Another run claimed it between our check and our write: wait for it like any live run.
      }
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${RUN_DIR} stayed in use by another live test run for 120 s`);
}

function ip(member: string): string {
  return hostByName(fx.cluster, member).internalAddress;
}

const endpoints = () => MEMBERS.map((m) => `https://${ip(m)}:${CLIENT_PORT}`).join(",");

/** Where a member's rendered file lands in this test (the host's / is `RUN_DIR/<member>`). */
const onHost = (member: string, path: string) => join(RUN_DIR, member, path);

async function startMember(member: string): Promise<number> {
  for (const f of pkiFilesForHost(fx.cluster, state, member)) {
    const p = onHost(member, f.path);
    await mkdir(dirname(p), { recursive: true, mode: 0o700 });
    await writeFile(p, f.content, { mode: f.mode });
  }
  const pki = (n: string) => onHost(member, `/etc/etcd/pki/${n}`);
  const a = ip(member);
  const log = await open(join(RUN_DIR, member, "etcd.log"), "w");
  const child = spawn(
    "etcd",
    [
      `--name=${member}`,
      `--data-dir=${join(RUN_DIR, member, "data")}`,
      `--listen-client-urls=https://${a}:${CLIENT_PORT}`,
      `--advertise-client-urls=https://${a}:${CLIENT_PORT}`,
      `--listen-peer-urls=https://${a}:${PEER_PORT}`,
      `--initial-advertise-peer-urls=https://${a}:${PEER_PORT}`,
      `--initial-cluster=${MEMBERS.map((m) => `${m}=https://${ip(m)}:${PEER_PORT}`).join(",")}`,
      `--initial-cluster-token=kubeha-pki-test-${process.pid}`,
      "--initial-cluster-state=new",
      `--cert-file=${pki("server.crt")}`,
      `--key-file=${pki("server.key")}`,
      `--trusted-ca-file=${pki("ca.crt")}`,
      "--client-cert-auth=true",
      `--peer-cert-file=${pki("peer.crt")}`,
      `--peer-key-file=${pki("peer.key")}`,
      `--peer-trusted-ca-file=${pki("ca.crt")}`,
      "--peer-client-cert-auth=true",
    ],
    { stdio: ["ignore", log.fd, log.fd] },
  );
  await log.close();
  const pid = child.pid!;
  await writeFile(join(RUN_DIR, member, "etcd.pid"), String(pid));
  child.unref();
  return pid;
}

async function etcdctl(args: string[], creds: { cacert: string; cert?: string; key?: string }) {
  const flags = [
    `--endpoints=${endpoints()}`,
    "--dial-timeout=3s",
    "--command-timeout=5s",
    `--cacert=${creds.cacert}`,
    ...(creds.cert ? [`--cert=${creds.cert}`, `--key=${creds.key}`] : []),
  ];
  try {
    const r = await run("etcdctl", [...flags, ...args], { encoding: "utf8", timeout: 20_000, env: { ...process.env, ETCDCTL_API: "3" } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === "number" ? err.code : 1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

const ours = (m = "e1") => ({
  cacert: onHost(m, "/etc/etcd/pki/ca.crt"),
  cert: onHost(m, "/etc/etcd/pki/healthcheck-client.crt"),
  key: onHost(m, "/etc/etcd/pki/healthcheck-client.key"),
});

before(async () => {
  await claimRunDir();
  fx = await tmpCluster({ clientPort: CLIENT_PORT, peerPort: PEER_PORT });
  other = await tmpCluster({ name: "othercluster" });
  state = await ensureState(fx.cluster);
  otherState = await ensureState(other.cluster);
  for (const m of MEMBERS) pids.push(await startMember(m));
  // Bounded wait for the cluster to form: at most 60 tries, about 30 s.
  for (let i = 0; i < 60; i++) {
    const r = await etcdctl(["endpoint", "health"], ours());
    if (r.code === 0) return;
    await new Promise((res) => setTimeout(res, 500));
  }
  const logs = await Promise.all(MEMBERS.map((m) => readFile(join(RUN_DIR, m, "etcd.log"), "utf8").catch(() => "")));
  throw new Error(`etcd cluster did not become healthy; log tails:\n${logs.map((l) => l.split("\n").slice(-8).join("\n")).join("\n---\n")}`);
});

after(async () => {
  for (const pid of pids) await stop(pid);
  await rm(RUN_DIR, { recursive: true, force: true });
  await fx?.cleanup();
  await other?.cleanup();
});

test("etcdctl endpoint health passes on all three members with the healthcheck client cert", async () => {
  const r = await etcdctl(["endpoint", "health"], ours());
  assert.equal(r.code, 0, r.stderr);
  const healthy = (r.stdout + r.stderr).match(/is healthy/g) ?? [];
  assert.equal(healthy.length, 3, r.stdout + r.stderr);
});

test("member list shows e1, e2, e3 started with their peer and client URLs", async () => {
  const r = await etcdctl(["member", "list", "-w", "json"], ours("e2"));
  assert.equal(r.code, 0, r.stderr);
  const members = (JSON.parse(r.stdout).members as Array<{ name: string; peerURLs: string[]; clientURLs: string[] }>)
    .map((m) => `${m.name} ${m.peerURLs.join()} ${m.clientURLs.join()}`)
    .sort();
  assert.deepEqual(
    members,
    MEMBERS.map((m) => `${m} https://${ip(m)}:${PEER_PORT} https://${ip(m)}:${CLIENT_PORT}`),
  );
});

test("the apiserver-etcd-client cert a control plane gets can write and read", async () => {
  const files = pkiFilesForHost(fx.cluster, state, "cp2");
  const dir = join(RUN_DIR, "cp2");
  for (const f of files) {
    const p = join(dir, f.path);
    await mkdir(dirname(p), { recursive: true, mode: 0o700 });
    await writeFile(p, f.content, { mode: f.mode });
  }
  const creds = {
    cacert: join(dir, "/etc/kubernetes/pki/etcd/ca.crt"),
    cert: join(dir, "/etc/kubernetes/pki/apiserver-etcd-client.crt"),
    key: join(dir, "/etc/kubernetes/pki/apiserver-etcd-client.key"),
  };
  assert.equal((await etcdctl(["put", "/kubeha/pki-test", "hello"], creds)).code, 0);
  const r = await etcdctl(["get", "/kubeha/pki-test", "--print-value-only"], creds);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), "hello");
});

test("a client cert from another cluster's etcd CA, or no client cert, is refused", async () => {
  const dir = join(RUN_DIR, "intruder");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const m = otherState.material("etcd-healthcheck-client");
  await writeFile(join(dir, "c.crt"), m.cert!, { mode: 0o600 });
  await writeFile(join(dir, "c.key"), m.key, { mode: 0o600 });
  const foreign = await etcdctl(["endpoint", "health"], { cacert: ours().cacert, cert: join(dir, "c.crt"), key: join(dir, "c.key") });
  assert.notEqual(foreign.code, 0);
  assert.doesNotMatch(foreign.stdout + foreign.stderr, /is healthy/);
  const none = await etcdctl(["endpoint", "health"], { cacert: ours().cacert });
  assert.notEqual(none.code, 0);
  assert.doesNotMatch(none.stdout + none.stderr, /is healthy/);
  // Server side confirms why: the TLS handshake was rejected for the foreign certificate.
  const log = await readFile(join(RUN_DIR, "e1", "etcd.log"), "utf8");
  assert.match(log, /rejected connection from "127\.[\d.]+:\d+" \(error "(tls: failed to verify client|remote error|tls: client didn't provide|x509: certificate signed by unknown authority)/);
});
