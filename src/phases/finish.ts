import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Phase } from "./types.ts";
import { transport, type ApplyData } from "./data.ts";
import { runSteps, stepsOf } from "./steps.ts";
import { PATHS } from "../render/paths.ts";
import { runsHaproxy } from "../render/haproxy.ts";
import { parseServersState } from "../probe/status.ts";
import { KubehaError } from "../errors.ts";
import { endpointHostPort, firstControlPlane } from "../spec/model.ts";

/** The pod network, from the first control plane's plan (manifests, apply, bounded wait). */
export const cniPhase: Phase<ApplyData> = {
  id: "cni",
  title: "Install the pod network",
  hosts: (ctx) => [firstControlPlane(ctx.data.cluster)],
  async runHost(ctx, h) {
    await runSteps(ctx, h, stepsOf(ctx, h, "cni"));
  },
};

/** Where apply keeps the admin kubeconfig on the operator machine. */
export function adminKubeconfigPath(stateDir: string): string {
  return join(stateDir, "admin.conf");
}

/** Copies admin.conf into the state directory (0600), pointing at the endpoint. */
export const kubeconfigPhase: Phase<ApplyData> = {
  id: "kubeconfig",
  title: "Fetch the admin kubeconfig",
  async run(ctx) {
    const c = ctx.data.cluster;
    const first = firstControlPlane(c);
    const t = await transport(ctx, first);
    const r = await t.run(`cat ${PATHS.adminConf}`, { sudo: true });
    if (r.code !== 0) {
      if (ctx.dryRun) return ctx.note("admin.conf does not exist yet (created by kubeadm init)");
      throw new KubehaError(`cannot read ${PATHS.adminConf} on ${first.name}`, "kubeadm init did not finish there; re-run apply");
    }
    const server = `https://${endpointHostPort(c)}`;
    const text = r.stdout.replace(/^(\s*server:\s*).*$/m, `$1${server}`);
    const dest = adminKubeconfigPath(c.pki.stateDir);
    const old = await readFile(dest, "utf8").catch(() => undefined);
    if (old === text) return;
    await ctx.wet("local", `write ${dest} (server ${server})`, async () => {
      await mkdir(c.pki.stateDir, { recursive: true, mode: 0o700 });
      await writeFile(dest, text, { mode: 0o600 });
    });
  },
};

/** Waits (bounded) until every LB host sees every API server UP: a joined master is only useful once HAProxy sends it traffic. */
const lbBackendsPhase: Phase<ApplyData> = {
  id: "verify/lb-backends",
  title: "Wait for HAProxy to see every API server",
  shouldRun: (ctx) => ctx.data.cluster.endpoint.mode === "haproxy" || ctx.data.cluster.endpoint.mode === "haproxy-keepalived",
  hosts: (ctx) => ctx.data.cluster.hosts.filter((h) => runsHaproxy(ctx.data.cluster, h)),
  async runHost(ctx, h) {
    if (ctx.dryRun) return;
    const c = ctx.data.cluster;
    const want = c.hosts.filter((x) => x.roles.includes("control-plane")).map((x) => x.internalAddress);
    const t = await transport(ctx, h);
    let down: string[] = want;
    for (let i = 0; i < 60 && down.length; i++) {
      if (i) await new Promise((r) => setTimeout(r, 500));
      const r = await t.run(`echo 'show servers state' | socat stdio UNIX-CONNECT:${PATHS.haproxyStatsSocket}`, { sudo: true });
      const up = new Set(parseServersState(r.stdout.split("\n")).filter((b) => b.state === "UP").map((b) => b.address));
      down = want.filter((a) => !up.has(a));
    }
    if (down.length) throw new KubehaError(`HAProxy on ${h.name} still marks ${down.join(", ")} down after 30 s`, `see \`echo 'show servers state' | socat stdio UNIX-CONNECT:${PATHS.haproxyStatsSocket}\` and /readyz on those hosts`);
  },
};

/** Reads back what was built: the API through the endpoint and on every control plane. */
export const verifyPhase: Phase<ApplyData> = {
  id: "verify",
  title: "Verify the API",
  children: [lbBackendsPhase],
  hosts: (ctx) => ctx.data.cluster.hosts.filter((h) => h.roles.includes("control-plane")),
  async runHost(ctx, h) {
    if (ctx.dryRun) return;
    const c = ctx.data.cluster;
    const t = await transport(ctx, h);
    const direct = `https://${h.internalAddress}:${c.kubernetes.apiServerPort}/readyz`;
    const via = `https://${endpointHostPort(c)}/readyz`;
    const r = await t.run(`curl -sk -m 3 -o /dev/null -w '%{http_code}' ${direct}; echo; curl -sk -m 3 -o /dev/null -w '%{http_code}' ${via}`);
    const [d, v] = r.stdout.trim().split("\n");
    if (d !== "200" || v !== "200")
      throw new KubehaError(`API not ready on ${h.name}: /readyz ${d} directly, ${v} through ${endpointHostPort(c)}`, `see \`kubeha status\` and \`journalctl -u kubelet\` on ${h.name}`);
    ctx.note(`/readyz 200 directly and through ${endpointHostPort(c)}`, h);
  },
};
