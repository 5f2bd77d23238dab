/**
 * kubeadm: init on the first control plane, control-plane joins one at a time, worker joins in
 * parallel. Whether a host is done comes from its facts (kubelet.conf: kubeadm writes it, kubeha
 * places admin.conf itself), never from a local log, so a re-run after a failure continues where the cluster actually is and never
 * re-inits. Join material is kubeha's own (state directory): nothing is scraped from output.
 */
import type { Phase } from "./types.ts";
import { factsOf, transport, wetRun, type ApplyData, type Ctx } from "./data.ts";
import { isKubernetesNode, renderKubeadm } from "../render/kubeadm.ts";
import { pkiFilesForHost, tokenId } from "../pki/index.ts";
import { PATHS } from "../render/paths.ts";
import { syncFiles } from "../exec/files.ts";
import { forEachHost } from "../exec/pool.ts";
import { KubehaError } from "../errors.ts";
import { endpointHostPort, firstControlPlane, type Host } from "../spec/model.ts";
import { retry } from "../util/retry.ts";

async function placeFiles(ctx: Ctx, h: Host): Promise<void> {
  const c = ctx.data.cluster;
  const files = [
    ...renderKubeadm(c, h, ctx.data.state.secrets),
    ...pkiFilesForHost(c, ctx.data.state, h.name).filter((f) => f.path.startsWith(PATHS.kubernetesDir + "/")),
  ];
  await syncFiles(await transport(ctx, h), files, (d, fn) => ctx.wet(h, d, fn));
}

function needsJoin(ctx: Ctx, h: Host): boolean {
  return !factsOf(ctx, h).has.kubeletConf;
}

/** Waits until the API answers /readyz through the endpoint, from `from`. */
async function waitForEndpoint(ctx: Ctx, from: Host): Promise<void> {
  const c = ctx.data.cluster;
  const t = await transport(ctx, from);
  const url = `https://${endpointHostPort(c)}/readyz`;
  await retry(() => t.mustRun(`curl -skf -m 3 ${url}`), { attempts: 60, delayMs: 1000, backoff: 1 }).catch((err: Error) => {
    throw new KubehaError(`the API is not ready through ${endpointHostPort(c)}: ${err.message}`, "check the load balancer (kubeha status) and the first control plane's API server");
  });
  ctx.note(`API ready through ${endpointHostPort(c)}`, from);
}

/** Makes sure the bootstrap token exists and the shared certificates are uploaded (fresh 2 h window). */
async function prepareJoins(ctx: Ctx, controlPlanes: boolean): Promise<void> {
  if (ctx.data.joinMaterialReady) return;
  const c = ctx.data.cluster;
  const first = firstControlPlane(c);
  const { token, tokenTtlHours } = ctx.data.state.secrets.join;
  const kc = `--kubeconfig ${PATHS.adminConf}`;
  await wetRun(ctx, first, `create bootstrap token ${tokenId(token)}.*** (ttl ${tokenTtlHours}h)`, `kubeadm token delete ${tokenId(token)} ${kc} >/dev/null 2>&1 || true; kubeadm token create ${token} --ttl ${tokenTtlHours}h ${kc} >/dev/null`);
  if (controlPlanes)
    await wetRun(ctx, first, "upload the shared certificates for control-plane joins (valid 2 h)", `kubeadm init phase upload-certs --upload-certs --config ${PATHS.kubeadmInit} >/dev/null`);
  ctx.data.joinMaterialReady = true;
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
        await placeFiles(ctx, h);
        if (factsOf(ctx, h).has.kubeletConf) return;
        await wetRun(ctx, h, "kubeadm init --upload-certs", `kubeadm init --config ${PATHS.kubeadmInit} --upload-certs --skip-token-print --skip-certificate-key-print`, {
          timeoutMs: 10 * 60_000,
          hint: `see \`journalctl -u kubelet\` on ${h.name}; a failed init is cleaned with \`kubeadm reset -f\``,
        });
        ctx.data.joinMaterialReady = true;
      },
    },
    {
      id: "control-plane/endpoint",
      title: "Wait for the API through the endpoint",
      async run(ctx) {
        if (!ctx.dryRun) await waitForEndpoint(ctx, firstControlPlane(ctx.data.cluster));
      },
    },
    {
      id: "control-plane/join",
      title: "Join the other control planes one at a time",
      async run(ctx) {
        const c = ctx.data.cluster;
        const first = firstControlPlane(c);
        for (const h of c.hosts.filter((x) => x.roles.includes("control-plane") && x.name !== first.name)) {
          await placeFiles(ctx, h);
          if (!needsJoin(ctx, h)) continue;
          await prepareJoins(ctx, true);
          // One at a time: each join adds an etcd member (stacked) and must see the API first.
          await wetRun(ctx, h, "kubeadm join --control-plane", `kubeadm join --config ${PATHS.kubeadmJoin}`, { timeoutMs: 10 * 60_000, hint: `after fixing the cause, \`kubeadm reset -f\` on ${h.name} and re-run apply` });
        }
      },
    },
  ],
};

export const workersPhase: Phase<ApplyData> = {
  id: "workers",
  title: "Join the workers",
  async run(ctx) {
    const workers = ctx.data.cluster.hosts.filter((h) => isKubernetesNode(h) && !h.roles.includes("control-plane"));
    const pending = workers.filter((h) => needsJoin(ctx, h));
    await forEachHost(workers, 5, (h) => placeFiles(ctx, h));
    if (!pending.length) return;
    await prepareJoins(ctx, false);
    await forEachHost(pending, 5, (h) =>
      wetRun(ctx, h, "kubeadm join", `kubeadm join --config ${PATHS.kubeadmJoin}`, { timeoutMs: 10 * 60_000, hint: `after fixing the cause, \`kubeadm reset -f\` on ${h.name} and re-run apply` }),
    );
  },
};

/** Revokes the bootstrap token once this run's joins are done (kubeha recreates it when needed). */
export const revokeTokenPhase: Phase<ApplyData> = {
  id: "token-revoke",
  title: "Revoke the bootstrap token",
  shouldRun: (ctx) => ctx.data.joinMaterialReady === true,
  async run(ctx) {
    const first = firstControlPlane(ctx.data.cluster);
    const id = tokenId(ctx.data.state.secrets.join.token);
    await wetRun(ctx, first, `delete bootstrap token ${id}`, `kubeadm token delete ${id} --kubeconfig ${PATHS.adminConf} >/dev/null`);
  },
};
