import type { Phase } from "./types.ts";
import { converge, factsOf, wetRun, type ApplyData } from "./data.ts";
import { renderHosts } from "../render/hosts.ts";
import { renderSysctl } from "../render/sysctl.ts";
import { PATHS } from "../render/paths.ts";
import { shq } from "../exec/transport.ts";

const BEGIN = "# BEGIN kubeha";
const END = "# END kubeha";

/** Hostname, /etc/hosts block, kernel modules and sysctls, swap off: what every host needs first. */
export const prepareOs: Phase<ApplyData> = {
  id: "os",
  title: "Prepare the operating system",
  async runHost(ctx, h) {
    const f = factsOf(ctx, h);
    if (f.hostname !== h.name)
      await wetRun(ctx, h, `set hostname ${h.name} (was ${f.hostname})`, `hostname ${shq(h.name)} && echo ${shq(h.name)} > /etc/hostname`);
    const hostsChanged = await converge(ctx, h, renderHosts(ctx.data.cluster, h));
    if (hostsChanged) {
      // Replace only kubeha's marked block; the rest of /etc/hosts stays the user's.
      const script = `tmp=$(mktemp) && awk '$0=="${BEGIN}"{s=1;next} $0=="${END}"{s=0;next} !s' /etc/hosts > "$tmp" && { echo '${BEGIN}'; grep -v '^#' ${PATHS.hostsFragment}; echo '${END}'; } >> "$tmp" && cat "$tmp" > /etc/hosts && rm -f "$tmp"`;
      await wetRun(ctx, h, "update the kubeha block in /etc/hosts", script);
    }
    const sysctl = renderSysctl(ctx.data.cluster, h);
    const modulesChanged = await converge(ctx, h, sysctl);
    if (modulesChanged && sysctl.some((x) => x.path === PATHS.modulesLoad)) {
      // Built-in or already loaded modules need nothing; a missing one is loaded now (and at boot).
      await wetRun(ctx, h, "load kernel modules overlay, br_netfilter", `for m in overlay br_netfilter; do [ -d /sys/module/$m ] || modprobe $m || echo "warning: cannot load $m" >&2; done`);
    }
    if (f.swapOn && (h.roles.includes("control-plane") || h.roles.includes("worker")))
      await wetRun(ctx, h, "turn swap off now and in /etc/fstab", `swapoff -a && sed -i.kubeha-bak -E 's|^([^#].*\\sswap\\s.*)$|# \\1 # disabled by kubeha|' /etc/fstab`);
  },
};
