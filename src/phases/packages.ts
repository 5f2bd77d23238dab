import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Phase } from "./types.ts";
import { converge, factsOf, transport, wetRun, type ApplyData, type Ctx } from "./data.ts";
import { debianPackages, renderPackages } from "../render/packages.ts";
import { PATHS } from "../render/paths.ts";
import { syncFiles } from "../exec/files.ts";
import { shq } from "../exec/transport.ts";
import { KubehaError, StepError } from "../errors.ts";
import { retry } from "../util/retry.ts";
import type { Host } from "../spec/model.ts";
import { isKubernetesNode } from "../spec/topology.ts";

interface BundleManifest {
  kubernetesVersion: string;
  description?: string;
  files: Array<{ src: string; dest: string; mode: string }>;
  enable?: string[];
}

const bundles = new Map<string, Promise<{ manifest: BundleManifest; files: Array<{ path: string; content: Buffer; mode: number }> }>>();

/** Reads an offline bundle once per run (docs/bundle.md) and checks it matches the cluster. */
function loadBundle(dir: string, version: string) {
  let b = bundles.get(dir);
  if (!b) {
    b = (async () => {
      let manifest: BundleManifest;
      try {
        manifest = JSON.parse(await readFile(join(dir, "kubeha-bundle.json"), "utf8")) as BundleManifest;
      } catch (err) {
        throw new KubehaError(`cannot read the offline bundle manifest ${join(dir, "kubeha-bundle.json")}: ${(err as Error).message}`, "check spec.packages.bundle (see docs/bundle.md)");
      }
      if (manifest.kubernetesVersion !== version)
        throw new KubehaError(`the bundle in ${dir} holds Kubernetes ${manifest.kubernetesVersion}, the cluster file asks for ${version}`, "ship a bundle of the same version, or change spec.kubernetes.version");
      const files = await Promise.all(
        manifest.files.map(async (f) => ({ path: f.dest, content: await readFile(join(dir, f.src)), mode: parseInt(f.mode, 8) })),
      );
      return { manifest, files };
    })();
    bundles.set(dir, b);
  }
  return b;
}

async function installBundle(ctx: Ctx, h: Host): Promise<void> {
  const c = ctx.data.cluster;
  const { manifest, files } = await loadBundle(c.packages.bundle!, c.kubernetes.version);
  const t = await transport(ctx, h);
  const { changed } = await syncFiles(t, files, (d, fn) => ctx.wet(h, d, fn));
  if (changed.length) ctx.note(`installed offline bundle: ${manifest.description ?? c.packages.bundle}`, h);
  const units = manifest.enable ?? [];
  if (changed.some((f) => f.path.includes("/systemd/")) || (changed.length && units.length))
    await wetRun(ctx, h, `reload systemd; enable ${units.join(", ")}`, ["systemctl daemon-reload", ...(units.length ? [`systemctl enable ${units.map(shq).join(" ")}`] : [])].join(" && "));
}

/** Package sources, the proxy, Debian packages and the Kubernetes binaries (repository or bundle). */
export const packagesPhase: Phase<ApplyData> = {
  id: "packages",
  title: "Install packages",
  async runHost(ctx, h) {
    const c = ctx.data.cluster;
    const f = factsOf(ctx, h);
    const sources = renderPackages(c, h);
    const sourcesChanged = await converge(ctx, h, sources);
    const repo = sources.find((x) => x.path === PATHS.kubernetesAptSource);
    if (repo && sourcesChanged) {
      await wetRun(
        ctx,
        h,
        `fetch the signing key of ${c.packages.repositoryBase}`,
        `mkdir -p ${PATHS.aptKeyringDir} && curl -fsSL ${shq(c.packages.repositoryBase + "Release.key")} | gpg --batch --yes --dearmor -o ${PATHS.kubernetesKeyring}`,
        { hint: "the host needs HTTPS access to the package repository (or set spec.packages.proxy / a mirror)" },
      );
    }
    const missing = debianPackages(c, h).filter((p) => !f.packages.has(p));
    if (missing.length || (repo && sourcesChanged)) {
      const env = "DEBIAN_FRONTEND=noninteractive";
      // apt's http method can wait forever on a half-closed proxy connection: bound every
      // transfer, retry inside apt, and bound the whole command so a re-try can start afresh.
      // No pipelining: with it, apt was seen waiting forever on a proxy connection the proxy had closed.
      const net = "-o Acquire::http::Pipeline-Depth=0 -o Acquire::http::Timeout=30 -o Acquire::https::Timeout=30 -o Acquire::Retries=3";
      const opts = `${net} -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold`;
      // A host that lost power while dpkg ran refuses every install until this finishes its work.
      const cmd = `${env} dpkg --configure -a && ${env} timeout 120 apt-get update -q ${net} && ${missing.length ? `${env} timeout 900 apt-get install -y -q ${opts} ${missing.map(shq).join(" ")}` : "true"}`;
      await retry(
        () => wetRun(ctx, h, `apt-get install ${missing.join(" ") || "(refresh package lists)"}`, cmd, { timeoutMs: 20 * 60_000, hint: "check the host's package sources and spec.packages.proxy" }),
        { attempts: 3, delayMs: 2000, retryIf: (e) => e instanceof StepError && e.detail.exitCode === 124 },
      );
      // Debian starts and enables daemons on install; kubeha configures them first and starts them itself.
      const held = missing.filter((p) => ["haproxy", "keepalived", "etcd-server"].includes(p)).map((p) => (p === "etcd-server" ? "etcd" : p));
      if (held.length) await wetRun(ctx, h, `stop ${held.join(", ")} until configured`, `systemctl stop ${held.join(" ")} || true`);
      for (const p of missing) f.packages.set(p, "installed");
      for (const u of held) f.units.set(u, "inactive");
    }
    if (isKubernetesNode(h) && c.packages.source === "bundle") await installBundle(ctx, h);
  },
};
