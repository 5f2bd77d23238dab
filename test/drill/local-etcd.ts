/**
 * Test helpers for the drill probes: TLS material from kubeha's own PKI code, free loopback ports,
 * and one real etcd (Debian's etcd-server, /usr/bin/etcd) on 127.0.0.1 with client mutual TLS.
 *
 * Each run keeps its etcd under RUN_ROOT/<test process pid>/ with a PID file, so a run that was
 * killed before its clean-up is found at the next start (its owner process is gone) and its etcd
 * is killed by PID (after checking the PID's command line still names that dir) and the dir removed.
 * A concurrent live run (another checkout's suite) is left alone: ports are random per run.
 */
import { spawn, execFile } from "node:child_process";
import { mkdir, open, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { issueCA, issueLeaf, type KeyPairPem } from "../../src/pki/x509.ts";
import { alive, cmdline, waitGone } from "../helpers/proc.ts";
import { freePort } from "../helpers/net.ts";
export { freePort };

const run = promisify(execFile);
export const RUN_ROOT = "/tmp/kubeha-test-drill-etcd";

export interface TestPki {
  ca: KeyPairPem & { cert: string };
  server: KeyPairPem & { cert: string };
  client: KeyPairPem & { cert: string };
}

/** A CA, a server certificate for 127.0.0.1 (and `dns`), a client certificate. ECDSA: fast. */
export async function testPki(dns: string[] = []): Promise<TestPki> {
  const now = new Date();
  const ca = await issueCA({ cn: "kubeha-drill-test-ca", o: [], isCA: true, extUsages: [], dns: [], ips: [] }, "ecdsa-p256", now, 1);
  const signer = { cert: ca.cert!, key: ca.key };
  // etcd's gateway dials itself with the server cert as client: serverAuth and clientAuth.
  const server = await issueLeaf({ cn: "127.0.0.1", o: [], isCA: false, extUsages: ["serverAuth", "clientAuth"], dns, ips: ["127.0.0.1"] }, "ecdsa-p256", signer, now, 1);
  const client = await issueLeaf({ cn: "kubeha-drill-probe", o: [], isCA: false, extUsages: ["clientAuth"], dns: [], ips: [] }, "ecdsa-p256", signer, now, 1);
  return { ca: { ...ca, cert: ca.cert! }, server: { ...server, cert: server.cert! }, client: { ...client, cert: client.cert! } };
}

/** Ends an etcd of ours (its command line names `dir`): continued first in case it was SIGSTOPped. */
async function killEtcd(pid: number, dir: string): Promise<void> {
  if (!(await cmdline(pid)).includes(dir)) return;
  process.kill(pid, "SIGCONT");
  process.kill(pid, "SIGTERM");
  if (!(await waitGone(pid, 3000))) {
    process.kill(pid, "SIGKILL");
    await waitGone(pid, 2000);
  }
}

/** Runs under RUN_ROOT whose owner test process is gone: their etcd killed by PID, dirs removed. */
export async function cleanStaleRuns(): Promise<string[]> {
  const cleaned: string[] = [];
  for (const name of await readdir(RUN_ROOT).catch(() => [] as string[])) {
    const dir = join(RUN_ROOT, name);
    const owner = Number(name);
    if (Number.isInteger(owner) && owner !== process.pid && alive(owner) && (await cmdline(owner)).includes("node")) continue;
    const pid = Number(await readFile(join(dir, "etcd.pid"), "utf8").catch(() => "NaN"));
    if (Number.isInteger(pid) && pid > 1 && alive(pid)) await killEtcd(pid, dir);
    await rm(dir, { recursive: true, force: true });
    cleaned.push(dir);
  }
  return cleaned;
}

export interface LocalEtcd {
  pid: number;
  endpoint: string;
  dir: string;
  /** Files for etcdctl: CA, client cert and key (mode 0600). */
  files: { ca: string; cert: string; key: string };
  etcdctl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  logTail(): Promise<string>;
  stop(): Promise<void>;
}

/** Starts a single-member etcd on 127.0.0.1 (random ports) with client mutual TLS; waits (≤ 15 s) until healthy. */
export async function startEtcd(pki: TestPki): Promise<LocalEtcd> {
  await cleanStaleRuns();
  const dir = join(RUN_ROOT, String(process.pid));
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const f = (n: string) => join(dir, n);
  const write = (n: string, s: string) => writeFile(f(n), s, { mode: 0o600 });
  await Promise.all([
    write("ca.crt", pki.ca.cert),
    write("server.crt", pki.server.cert),
    write("server.key", pki.server.key),
    write("client.crt", pki.client.cert),
    write("client.key", pki.client.key),
  ]);
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const endpoint = `https://127.0.0.1:${clientPort}`;
  const log = await open(f("etcd.log"), "w");
  const child = spawn(
    "/usr/bin/etcd",
    [
      "--name=d1",
      `--data-dir=${f("data")}`,
      `--listen-client-urls=${endpoint}`,
      `--advertise-client-urls=${endpoint}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=d1=http://127.0.0.1:${peerPort}`,
      "--initial-cluster-state=new",
      `--cert-file=${f("server.crt")}`,
      `--key-file=${f("server.key")}`,
      `--trusted-ca-file=${f("ca.crt")}`,
      "--client-cert-auth=true",
    ],
    { stdio: ["ignore", log.fd, log.fd] },
  );
  await log.close();
  const pid = child.pid!;
  child.unref();
  await writeFile(f("etcd.pid"), String(pid));
  const files = { ca: f("ca.crt"), cert: f("client.crt"), key: f("client.key") };
  const etcdctl = async (args: string[]) => {
    const flags = [`--endpoints=${endpoint}`, "--dial-timeout=2s", "--command-timeout=3s", `--cacert=${files.ca}`, `--cert=${files.cert}`, `--key=${files.key}`];
    try {
      const r = await run("etcdctl", [...flags, ...args], { encoding: "utf8", timeout: 10_000, env: { ...process.env, ETCDCTL_API: "3" } });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const err = e as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof err.code === "number" ? err.code : 1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
    }
  };
  const logTail = async () => (await readFile(f("etcd.log"), "utf8").catch(() => "")).split("\n").slice(-10).join("\n");
  const etcd: LocalEtcd = {
    pid,
    endpoint,
    dir,
    files,
    etcdctl,
    logTail,
    async stop() {
      await killEtcd(pid, dir);
      await rm(dir, { recursive: true, force: true });
    },
  };
  // Bounded: 60 tries, about 15 s.
  for (let i = 0; i < 60; i++) {
    if (!alive(pid)) break;
    if ((await etcdctl(["endpoint", "health"])).code === 0) return etcd;
    await new Promise((r) => setTimeout(r, 250));
  }
  const tail = await logTail();
  await etcd.stop();
  throw new Error(`etcd did not become healthy; log tail:\n${tail}`);
}
