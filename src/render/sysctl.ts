/**
 * Kernel settings: modules and sysctls for Kubernetes nodes (bridge CNIs, IP forwarding) and
 * `ip_nonlocal_bind` on LB hosts so HAProxy can bind the VIP before keepalived assigns it.
 */
import type { Cluster, Host } from "../spec/model.ts";
import type { RenderedFile } from "./types.ts";
import { PATHS } from "./paths.ts";
import { file, header } from "./file.ts";
import { isKubernetesNode, runsHaproxy } from "../spec/topology.ts";

export function renderSysctl(c: Cluster, h: Host): RenderedFile[] {
  const out: RenderedFile[] = [];
  if (isKubernetesNode(h)) {
    out.push(
      file(PATHS.modulesLoad, header("#", "Modules Kubernetes needs: overlayfs snapshots, bridge netfilter.") + "overlay\nbr_netfilter"),
      file(
        PATHS.sysctlK8s,
        header("#", "Kubernetes node networking.") +
          ["net.ipv4.ip_forward = 1", "net.bridge.bridge-nf-call-iptables = 1", "net.bridge.bridge-nf-call-ip6tables = 1"].join("\n"),
        { restarts: ["systemd-sysctl.service"] },
      ),
    );
  }
  if (runsHaproxy(c, h)) {
    out.push(
      file(PATHS.sysctlLb, header("#", "Let HAProxy bind the VIP on hosts that do not hold it.") + "net.ipv4.ip_nonlocal_bind = 1", {
        restarts: ["systemd-sysctl.service"],
      }),
    );
  }
  return out;
}
