import type { Phase } from "./types.ts";
import { factsOf, joinedAtStart, joinedNow, transport, type ApplyData, type Ctx } from "./data.ts";
import type { Host } from "../spec/model.ts";
import { forEachHost } from "../exec/pool.ts";
import { apiBackends, apiReadyScript, enteringBackends } from "../plan/backends.ts";
import { runSteps, stepsOf } from "./steps.ts";
import { keepalivedHosts, lbHosts, managesLb, usesKeepalived } from "../spec/topology.ts";
import { KubehaError } from "../errors.ts";
import { retry } from "../util/retry.ts";

const haproxyHosts = (ctx: Ctx) => lbHosts(ctx.data.cluster);
/** keepalived was running on the host when apply gathered its facts. */
const keepalivedRunning = (ctx: Ctx, h: Host) => factsOf(ctx, h).units.get("keepalived") === "active";

/** Hosts holding the VIP right now (one round trip per LB host). */
export async function vipHolders(ctx: Ctx): Promise<string[]> {
  const c = ctx.data.cluster;
  const hosts = keepalivedHosts(c);
  const held = await Promise.all(
    hosts.map(async (h) => {
      const r = await (await transport(ctx, h)).run(`ip -o -4 addr show to ${c.endpoint.address}/32`);
      return r.stdout.trim() ? h.name : undefined;
    }),
  );
  return held.filter((x): x is string => x !== undefined);
}

/** The load-balancer tier: HAProxy, keepalived, then proof that exactly one host holds the VIP. */
export const lbPhase: Phase<ApplyData> = {
  id: "lb",
  title: "Set up the load balancer",
  shouldRun: (ctx) => managesLb(ctx.data.cluster),
  children: [
    {
      id: "lb/haproxy",
      title: "Configure HAProxy",
      hosts: haproxyHosts,
      async runHost(ctx, h) {
        await runSteps(ctx, h, stepsOf(ctx, h, "lb/haproxy"));
      },
    },
    {
      // Hosts already running keepalived first (a reload: they keep their state and the VIP),
      // so they know a new peer before it starts: a new host that hears no adverts (unicast
      // peers send only to the peers they know, and drop adverts from others) would take the VIP.
      id: "lb/keepalived",
      title: "Configure keepalived",
      shouldRun: (ctx) => usesKeepalived(ctx.data.cluster),
      hosts: (ctx) => keepalivedHosts(ctx.data.cluster).filter((h) => keepalivedRunning(ctx, h)),
      async runHost(ctx, h) {
        await runSteps(ctx, h, stepsOf(ctx, h, "lb/keepalived"));
      },
      children: [
        {
          id: "lb/keepalived/start",
          title: "Start keepalived where it does not run yet",
          hosts: (ctx) => keepalivedHosts(ctx.data.cluster).filter((h) => !keepalivedRunning(ctx, h)),
          async runHost(ctx, h) {
            await runSteps(ctx, h, stepsOf(ctx, h, "lb/keepalived"));
          },
        },
      ],
    },
    {
      id: "lb/verify",
      title: "Verify the VIP and the frontend",
      async run(ctx) {
        if (ctx.dryRun) return;
        const c = ctx.data.cluster;
        if (usesKeepalived(c)) {
          const holders = await retry(
            async () => {
              const hs = await vipHolders(ctx);
              if (hs.length !== 1) throw new KubehaError(hs.length ? `the VIP ${c.endpoint.address} is on ${hs.length} hosts: ${hs.join(", ")}` : `no host holds the VIP ${c.endpoint.address}`);
              return hs;
            },
            { attempts: 40, delayMs: 250, backoff: 1 },
          ).catch((err: Error) => {
            throw new KubehaError(err.message, "check `journalctl -u keepalived` on the lb hosts and that VRRP (IP protocol 112) passes between them");
          });
          ctx.note(`VIP ${c.endpoint.address} is on ${holders[0]}`);
        }
        const probe = haproxyHosts(ctx)[0];
        if (!probe) return;
        const t = await transport(ctx, probe);
        await retry(() => t.mustRun(`timeout 2 bash -c 'exec 3<>/dev/tcp/${c.endpoint.address}/${c.endpoint.port}'`, { hint: "HAProxy's frontend does not accept connections: see `journalctl -u haproxy`" }), { attempts: 20, delayMs: 250, backoff: 1 });
        ctx.note(`frontend ${c.endpoint.address}:${c.endpoint.port} accepts connections`);
      },
    },
  ],
};

/** Control planes that joined in this run and are not in HAProxy's backend yet (the lb phase left them out). */
function entering(ctx: Ctx): Host[] {
  const c = ctx.data.cluster;
  return enteringBackends(apiBackends(c, (h) => joinedAtStart(ctx.data, h)), apiBackends(c, (h) => joinedNow(ctx.data, h)));
}

/**
 * After the joins: each control plane that joined a running cluster in this run enters every
 * HAProxy backend (a reload) once its API server answers /readyz on the address HAProxy uses, so
 * no client connection meets it before (src/plan/backends.ts says why).
 */
export const apiBackendsPhase: Phase<ApplyData> = {
  id: "control-plane/backends",
  title: "Put the joined API servers into HAProxy",
  shouldRun: (ctx) => managesLb(ctx.data.cluster) && entering(ctx).length > 0,
  async run(ctx) {
    const c = ctx.data.cluster;
    const hosts = entering(ctx);
    if (!ctx.dryRun)
      await forEachHost(hosts, 10, async (h) => {
        ctx.note(`wait until ${h.name}'s API server answers /readyz before HAProxy sends it clients`, h);
        await (await transport(ctx, h)).mustRun(apiReadyScript(c, h), { sudo: true, timeoutMs: 6 * 60_000, hint: `see \`journalctl -u kubelet\` and the kube-apiserver static pod on ${h.name}` });
      });
    await forEachHost(haproxyHosts(ctx), 10, (lb) => runSteps(ctx, lb, stepsOf(ctx, lb, "lb/haproxy")));
  },
};
