import type { Phase } from "./types.ts";
import { transport, type ApplyData, type Ctx } from "./data.ts";
import { externalEtcdHosts, externalEtcd } from "../spec/topology.ts";
import { runSteps } from "./steps.ts";
import { KubehaError } from "../errors.ts";
import { hostByName, type Host } from "../spec/model.ts";
import { retry } from "../util/retry.ts";
import { etcdctlCommand } from "../probe/status.ts";
import { etcdMemberRemoveCommand, hexId, parseHealthyPeers, parseMemberAdd, parseMemberList, planEtcdHosts, planJoin, predictedAddList, type EtcdMember, type InitialCluster, type JoinAction } from "../plan/etcd.ts";

const members = (ctx: Ctx) => externalEtcdHosts(ctx.data.cluster);
const plan = (ctx: Ctx) => planEtcdHosts(ctx.data.cluster, ctx.data.facts);

/** etcdctl with the healthcheck client certificate, against every member. */
export function etcdctl(ctx: Ctx, args: string): string {
  const c = ctx.data.cluster;
  return etcdctlCommand(c, c.etcd.members.map((n) => hostByName(c, n)), args, 5);
}

/**
 * The member's environment and PKI from its plan, then etcd running: restarted when its files
 * changed, started when inactive; a joining member is always (re)started, since a unit running
 * there is not this cluster's member (Debian's package starts a single-node etcd of its own).
 */
async function configureMember(ctx: Ctx, h: Host, initial: InitialCluster | undefined, join: boolean): Promise<void> {
  const steps = ctx.data.plan(h, initial).filter((s) => s.phase === "etcd");
  await runSteps(ctx, h, steps, join ? { restart: ["etcd"] } : {});
}

/** `member list` through the members that have data; retried while they come up (once in a dry run). */
async function memberList(ctx: Ctx, via: Host[]): Promise<EtcdMember[] | undefined> {
  const c = ctx.data.cluster;
  const t = await transport(ctx, via[0]!);
  const read = async () => parseMemberList((await t.mustRun(etcdctlCommand(c, via, "member list -w json", 5), { sudo: true })).stdout);
  if (ctx.dryRun) return read().catch(() => undefined);
  return retry(read, { attempts: 30, delayMs: 1000, backoff: 1 }).catch((err: Error) => {
    throw new KubehaError(`cannot read the etcd member list through ${via.map((h) => h.name).join(", ")}: ${err.message}`, "a member can only be added to a healthy cluster: see `journalctl -u etcd` on those hosts");
  });
}

/** Peer URLs of the members among `hosts` that answer `endpoint health` now (one bounded try, from hosts[0]). */
async function healthyPeers(ctx: Ctx, hosts: Host[]): Promise<Set<string>> {
  const c = ctx.data.cluster;
  const t = await transport(ctx, hosts[0]!);
  // etcdctl exits 1 when any endpoint is unhealthy and still prints every endpoint's verdict.
  const r = await t.run(etcdctlCommand(c, hosts, "endpoint health -w json", 5), { sudo: true });
  return parseHealthyPeers(c, hosts, r.stdout);
}

/**
 * A replaced machine's dead member out of the membership, through the members that answer; the
 * list without it is what `member add` then extends.
 */
async function removeDeadMember(ctx: Ctx, via: Host[], a: Extract<JoinAction, { kind: "replace" }>, list: EtcdMember[]): Promise<EtcdMember[]> {
  const c = ctx.data.cluster;
  const t = await transport(ctx, via[0]!);
  const q = a.quorum;
  ctx.note(`etcd member ${a.remove.name} (${hexId(a.remove.id)}) holds ${a.peerURL} but does not answer, and ${a.host.name} has no etcd data: the machine was replaced. Removing the dead member first (${q.healthy} of ${q.members} members answer afterwards, a quorum needs ${q.needed})`, a.host);
  await ctx.wet(a.host, `etcdctl member remove ${hexId(a.remove.id)} (dead member ${a.remove.name}, through ${via[0]!.name})`, () =>
    t.mustRun(etcdMemberRemoveCommand(c, via, a.remove.id), {
      sudo: true,
      hint: "etcd refuses a removal that would cost the quorum; check the members with `kubeha status`",
    }),
  );
  return list.filter((m) => m.id !== a.remove.id);
}

/**
 * Stacked etcd, before `kubeadm join --control-plane` of `h` (a host without etcd data): kubeadm's
 * join adds `h`'s member itself, but when a started member still holds `h`'s peer URL (the machine
 * was replaced) kubeadm would reuse that dead member (it treats "peer URL exists" as done) and the
 * fresh, empty member could never catch up. So, as for external etcd: the dead member is removed
 * first, through the control planes that stay; a live one is refused (planJoin).
 */
export async function removeReplacedStackedMember(ctx: Ctx, h: Host, via: Host[]): Promise<void> {
  const c = ctx.data.cluster;
  if (externalEtcd(c) || !via.length || ctx.data.facts.get(h.name)?.has.etcdData) return;
  // A dry run of a new cluster has no members to read yet: nothing can be dead.
  const list = await memberList(ctx, via);
  if (!list) return;
  const planned = planJoin(c, h, list, await healthyPeers(ctx, [...via, h]));
  if (planned.kind === "replace") await removeDeadMember(ctx, via, planned, list);
}

/** External etcd: one systemd service per member with kubeha's PKI, started together, then checked. */
export const etcdPhase: Phase<ApplyData> = {
  id: "etcd",
  title: "Run the external etcd cluster",
  shouldRun: (ctx) => externalEtcd(ctx.data.cluster),
  // A new cluster: every member at once (they wait for each other). An existing one: the
  // members with data; the others join afterwards in etcd/join.
  hosts: (ctx) => plan(ctx).now.map((x) => x.host),
  async runHost(ctx, h) {
    await configureMember(ctx, h, undefined, false);
  },
  children: [
    {
      id: "etcd/join",
      title: "Add missing etcd members one at a time",
      shouldRun: (ctx) => plan(ctx).join.length > 0,
      async run(ctx) {
        const c = ctx.data.cluster;
        const p = plan(ctx);
        const via = p.now.map((x) => x.host);
        const t = await transport(ctx, via[0]!);
        for (const h of p.join) {
          // Read afresh for each host: the previous one changed the membership.
          const list = await memberList(ctx, via);
          if (!list) ctx.note(`cannot read the etcd member list now; a real run reads it before adding ${h.name}`, h);
          // The host's own address too: a member answering there is alive, whatever the facts say.
          const healthy = list ? await healthyPeers(ctx, [...via, h]) : new Set<string>();
          const planned = planJoin(c, h, list ?? [], healthy);
          let current = list ?? [];
          if (planned.kind === "replace") current = await removeDeadMember(ctx, via, planned, current);
          const a: Exclude<JoinAction, { kind: "replace" }> = planned.kind === "replace" ? { kind: "add", host: h, name: planned.name, peerURL: planned.peerURL } : planned;
          let initial: InitialCluster;
          if (a.kind === "add") {
            initial = { state: "existing", cluster: predictedAddList(c, current, a) };
            await ctx.wet(h, `etcdctl member add ${a.name} --peer-urls=${a.peerURL} (through ${via[0]!.name})`, async () => {
              const r = await t.mustRun(etcdctlCommand(c, via, `member add ${a.name} --peer-urls=${a.peerURL}`, 10), {
                sudo: true,
                hint: `check the cluster with \`kubeha status\`; a member that was added but never started is reused by the next apply, not added twice`,
              });
              initial = { state: "existing", cluster: parseMemberAdd(r.stdout) };
            });
          } else {
            initial = a.initial;
            ctx.note(`${h.name} is already a member (not started yet): starting it, adding nothing`, h);
          }
          await configureMember(ctx, h, initial, true);
          if (ctx.dryRun) continue;
          // Healthy before the next one: two members joining at once can cost the quorum.
          const th = await transport(ctx, h);
          await retry(() => th.mustRun(etcdctlCommand(c, [h], "endpoint health", 5), { sudo: true }), { attempts: 30, delayMs: 1000, backoff: 1 }).catch((err: Error) => {
            throw new KubehaError(`etcd on ${h.name} did not become healthy after joining: ${err.message}`, `see \`journalctl -u etcd -n 50\` on ${h.name}`);
          });
          ctx.note(`etcd member ${h.name} joined and is healthy`, h);
        }
      },
    },
    {
      id: "etcd/verify",
      title: "Verify etcd health",
      async run(ctx) {
        if (ctx.dryRun) return;
        const first = members(ctx)[0];
        if (!first) return;
        const t = await transport(ctx, first);
        const r = await retry(() => t.mustRun(etcdctl(ctx, "endpoint health --cluster -w table"), { sudo: true }), { attempts: 30, delayMs: 1000, backoff: 1 }).catch((err: Error) => {
          throw new KubehaError(`etcd is not healthy: ${err.message}`, "see `journalctl -u etcd` on the etcd hosts");
        });
        const healthy = (r.stdout.match(/\btrue\b/g) ?? []).length;
        ctx.note(`etcd: ${healthy}/${ctx.data.cluster.etcd.members.length} members healthy`);
      },
    },
  ],
};
