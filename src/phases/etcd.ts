import type { Phase } from "./types.ts";
import { transport, type ApplyData, type Ctx } from "./data.ts";
import { renderEtcd } from "../render/etcd.ts";
import { pkiFilesForHost } from "../pki/index.ts";
import { PATHS } from "../render/paths.ts";
import { syncFiles } from "../exec/files.ts";
import { KubehaError } from "../errors.ts";
import { hostByName, type Host } from "../spec/model.ts";
import { retry } from "../util/retry.ts";
import { etcdctlCommand } from "../probe/status.ts";
import { parseMemberAdd, parseMemberList, planEtcdHosts, planJoin, predictedAddList, type EtcdMember, type InitialCluster } from "../plan/etcd.ts";
import { externalEtcd, externalEtcdHosts } from "../spec/topology.ts";

const members = (ctx: Ctx) => externalEtcdHosts(ctx.data.cluster);
const plan = (ctx: Ctx) => planEtcdHosts(ctx.data.cluster, ctx.data.facts);

/** etcdctl with the healthcheck client certificate, against every member. */
export function etcdctl(ctx: Ctx, args: string): string {
  const c = ctx.data.cluster;
  return etcdctlCommand(c, c.etcd.members.map((n) => hostByName(c, n)), args, 5);
}

/**
 * Writes the member's environment and PKI, then makes sure etcd runs: restarted when its files
 * changed, started when inactive; `join` always (re)starts it, since a unit running there is not
 * this cluster's member (Debian's package starts a single-node etcd of its own).
 */
async function configureMember(ctx: Ctx, h: Host, initial: InitialCluster, join: boolean): Promise<void> {
  const c = ctx.data.cluster;
  const t = await transport(ctx, h);
  const pki = pkiFilesForHost(c, ctx.data.state, h.name).filter((f) => f.path.startsWith(PATHS.etcdPkiDir + "/"));
  const { changed } = await syncFiles(t, [...renderEtcd(c, h, initial), ...pki], (d, fn) => ctx.wet(h, d, fn));
  const cmds: string[] = [];
  // etcd runs as user etcd: it must read its keys; nobody else may.
  if (changed.some((x) => x.path.startsWith(PATHS.etcdPkiDir))) cmds.push(`chown -R etcd:etcd ${PATHS.etcdPkiDir} && chmod 0700 ${PATHS.etcdPkiDir}`);
  const active = ctx.data.facts.get(h.name)?.units.get("etcd") === "active";
  const action = join ? "start etcd (joins the running cluster)" : changed.length ? "restart etcd" : !active ? "start etcd" : undefined;
  if (action) cmds.push("systemctl enable etcd 2>/dev/null", `systemctl ${join || changed.length ? "restart" : "start"} etcd`);
  if (cmds.length)
    await ctx.wet(h, action ?? "set owners of the etcd keys", () =>
      t.mustRun(cmds.join(" && "), {
        sudo: true,
        timeoutMs: 120_000,
        hint: `see \`journalctl -u etcd -n 50\` on ${h.name}; ${join ? "a joining member needs the others healthy" : "all members must start together"}`,
      }),
    );
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

/** External etcd: one systemd service per member with kubeha's PKI, started together, then checked. */
export const etcdPhase: Phase<ApplyData> = {
  id: "etcd",
  title: "Run the external etcd cluster",
  shouldRun: (ctx) => externalEtcd(ctx.data.cluster),
  // A new cluster: every member at once (they wait for each other). An existing one: the
  // members with data; the others join afterwards in etcd/join.
  hosts: (ctx) => plan(ctx).now.map((x) => x.host),
  async runHost(ctx, h) {
    const initial = plan(ctx).now.find((x) => x.host.name === h.name)!.initial;
    await configureMember(ctx, h, initial, false);
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
          const a = planJoin(c, h, list ?? []);
          let initial: InitialCluster;
          if (a.kind === "add") {
            initial = { state: "existing", cluster: predictedAddList(c, list ?? [], a) };
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
