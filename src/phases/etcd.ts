import type { Phase } from "./types.ts";
import { factsOf, transport, type ApplyData, type Ctx } from "./data.ts";
import { renderEtcd, runsExternalEtcd } from "../render/etcd.ts";
import { pkiFilesForHost } from "../pki/index.ts";
import { PATHS } from "../render/paths.ts";
import { syncFiles } from "../exec/files.ts";
import { KubehaError } from "../errors.ts";
import { hostByName } from "../spec/model.ts";
import { retry } from "../util/retry.ts";
import { etcdctlCommand } from "../probe/status.ts";

const members = (ctx: Ctx) => ctx.data.cluster.hosts.filter((h) => runsExternalEtcd(ctx.data.cluster, h));

/** etcdctl with the healthcheck client certificate, against every member. */
export function etcdctl(ctx: Ctx, args: string): string {
  const c = ctx.data.cluster;
  return etcdctlCommand(c, c.etcd.members.map((n) => hostByName(c, n)), args, 5);
}

/** External etcd: one systemd service per member with kubeha's PKI, started together, then checked. */
export const etcdPhase: Phase<ApplyData> = {
  id: "etcd",
  title: "Run the external etcd cluster",
  shouldRun: (ctx) => ctx.data.cluster.etcd.mode === "external",
  hosts: members,
  async runHost(ctx, h) {
    const c = ctx.data.cluster;
    const t = await transport(ctx, h);
    const pki = pkiFilesForHost(c, ctx.data.state, h.name).filter((f) => f.path.startsWith(PATHS.etcdPkiDir + "/"));
    const { changed } = await syncFiles(t, [...renderEtcd(c, h), ...pki], (d, fn) => ctx.wet(h, d, fn));
    const f = factsOf(ctx, h);
    const cmds: string[] = [];
    // etcd runs as user etcd: it must read its keys; nobody else may.
    if (changed.some((x) => x.path.startsWith(PATHS.etcdPkiDir))) cmds.push(`chown -R etcd:etcd ${PATHS.etcdPkiDir} && chmod 0700 ${PATHS.etcdPkiDir}`);
    if (changed.length) cmds.push("systemctl enable etcd 2>/dev/null", "systemctl restart etcd");
    else if (f.units.get("etcd") !== "active") cmds.push("systemctl enable etcd 2>/dev/null", "systemctl start etcd");
    if (cmds.length)
      await ctx.wet(h, changed.length ? "restart etcd" : "start etcd", () =>
        t.mustRun(cmds.join(" && "), { sudo: true, timeoutMs: 120_000, hint: `see \`journalctl -u etcd -n 50\` on ${h.name}; all members must start together` }),
      );
  },
  children: [
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
