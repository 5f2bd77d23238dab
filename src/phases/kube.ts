/**
 * kubeadm: init on the first control plane, control-plane joins one at a time, worker joins in
 * parallel, each host's part from its plan (src/plan/host.ts). Whether a host is done comes from
 * its facts (admin.conf / kubelet.conf), never from a local log, so a re-run after a failure
 * continues where the cluster actually is and never re-inits. Join material is kubeha's own
 * (state directory): nothing is scraped from output.
 */
import type { Phase } from "./types.ts";
import { wetRun, type ApplyData, type Ctx } from "./data.ts";
import { holds, runSteps, stepsOf } from "./steps.ts";
import { binaryBootstrap, externalEtcd, isKubernetesNode } from "../spec/topology.ts";
import { tokenId } from "../pki/index.ts";
import { PATHS } from "../render/paths.ts";
import { forEachHost } from "../exec/pool.ts";
import { firstControlPlane } from "../spec/model.ts";
import { removeReplacedStackedMember } from "./etcd.ts";
import { apiBackendsPhase } from "./lb.ts";

/**
 * Makes sure the bootstrap token exists and, for control-plane joins, the shared certificates are
 * uploaded (a fresh 2 h window). Once per run; concurrent joins wait for the same work.
 */
function prepareJoins(ctx: Ctx, controlPlanes: boolean): Promise<void> {
  const key = controlPlanes ? "cp" : "worker";
  ctx.data.joinMaterial ??= new Map();
  let p = ctx.data.joinMaterial.get(key) ?? (controlPlanes ? undefined : ctx.data.joinMaterial.get("cp"));
  if (p) return p;
  p = (async () => {
    const c = ctx.data.cluster;
    const first = firstControlPlane(c);
    const { token, tokenTtlHours } = ctx.data.state.secrets.join;
    const kc = `--kubeconfig ${PATHS.adminConf}`;
    if (!ctx.data.joinMaterial!.has("token"))
      ctx.data.joinMaterial!.set(
        "token",
        wetRun(ctx, first, `create bootstrap token ${tokenId(token)}.*** (ttl ${tokenTtlHours}h)`, `kubeadm token delete ${tokenId(token)} ${kc} >/dev/null 2>&1 || true; kubeadm token create ${token} --ttl ${tokenTtlHours}h ${kc} >/dev/null`),
      );
    await ctx.data.joinMaterial!.get("token");
    if (controlPlanes)
      await wetRun(ctx, first, "upload the shared certificates for control-plane joins (valid 2 h)", `kubeadm init phase upload-certs --upload-certs --config ${PATHS.kubeadmInit} >/dev/null`);
  })();
  ctx.data.joinMaterial.set(key, p);
  return p;
}

/** kubeadm joins need the token (and certificates) first; binary-mode kubelets bootstrap with the applied token Secret. */
function joinPreparation(ctx: Ctx, controlPlanes: boolean): { prepare?: () => Promise<void> } {
  return binaryBootstrap(ctx.data.cluster) ? {} : { prepare: () => prepareJoins(ctx, controlPlanes) };
}

export const controlPlanePhase: Phase<ApplyData> = {
  id: "control-plane",
  title: "Bring up the control plane",
  children: [
    {
      id: "control-plane/init",
      title: "Initialize the first control plane",
      hosts: (ctx) => [firstControlPlane(ctx.data.cluster)],
      async runHost(ctx, h) {
        const initialized = await holds(ctx, h, { kind: "exists", path: PATHS.kubeletConf });
        await runSteps(ctx, h, stepsOf(ctx, h, "control-plane/init"));
        // Binary mode has no kubeadm: its token is a Secret the first control plane applies.
        if (initialized || binaryBootstrap(ctx.data.cluster)) return;
        // `kubeadm init --upload-certs` created the token and uploaded the certificates itself.
        const done = Promise.resolve();
        ctx.data.joinMaterial = new Map([["token", done], ["cp", done], ["worker", done]]);
      },
    },
    {
      id: "control-plane/endpoint",
      title: "Wait for the API through the endpoint",
      hosts: (ctx) => [firstControlPlane(ctx.data.cluster)],
      async runHost(ctx, h) {
        await runSteps(ctx, h, stepsOf(ctx, h, "control-plane/endpoint"));
      },
    },
    {
      id: "control-plane/join",
      title: "Join the other control planes one at a time",
      async run(ctx) {
        const c = ctx.data.cluster;
        const first = firstControlPlane(c);
        // One at a time: each join adds an etcd member (stacked) and must see the API first.
        const cps = c.hosts.filter((x) => x.roles.includes("control-plane"));
        for (const h of cps.filter((x) => x.name !== first.name)) {
          // Stacked etcd: a replaced machine's dead member goes before kubeadm adds the new one.
          if (!externalEtcd(c) && !(await holds(ctx, h, { kind: "exists", path: PATHS.kubeletConf })))
            await removeReplacedStackedMember(ctx, h, [first, ...cps.filter((x) => x !== first && x !== h)]);
          await runSteps(ctx, h, stepsOf(ctx, h, "control-plane/join"), joinPreparation(ctx, true));
        }
      },
    },
    apiBackendsPhase,
  ],
};

export const workersPhase: Phase<ApplyData> = {
  id: "workers",
  title: "Join the workers",
  async run(ctx) {
    const workers = ctx.data.cluster.hosts.filter((h) => isKubernetesNode(h) && !h.roles.includes("control-plane"));
    await forEachHost(workers, 5, (h) => runSteps(ctx, h, stepsOf(ctx, h, "workers"), joinPreparation(ctx, false)));
  },
};

/** Revokes the bootstrap token once this run's joins are done (kubeha recreates it when needed). */
export const revokeTokenPhase: Phase<ApplyData> = {
  id: "token-revoke",
  title: "Revoke the bootstrap token",
  shouldRun: (ctx) => ctx.data.joinMaterial?.has("token") === true,
  async run(ctx) {
    const first = firstControlPlane(ctx.data.cluster);
    const id = tokenId(ctx.data.state.secrets.join.token);
    await wetRun(ctx, first, `delete bootstrap token ${id}`, `kubeadm token delete ${id} --kubeconfig ${PATHS.adminConf} >/dev/null`);
  },
};
