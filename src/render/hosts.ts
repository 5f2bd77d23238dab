/**
 * /etc/hosts entries, kept in a marked block that install.sh merges (kubeha never rewrites the
 * rest of the file): every cluster host by name, and the endpoint's DNS name. For an external
 * L4 load balancer that cannot hairpin (Alibaba SLB/CLB: a backend cannot reach the LB
 * itself), control planes resolve the endpoint name to 127.0.0.1, i.e. their own API server,
 * and every other host resolves it to the load balancer.
 */
import type { Cluster, Host } from "../spec/model.ts";
import { KubehaError } from "../errors.ts";
import type { RenderedFile } from "./types.ts";
import { PATHS } from "./paths.ts";
import { file, header } from "./file.ts";
import { isIPv4 } from "../util/net.ts";
import { noHairpin } from "../spec/topology.ts";

/** Address this host must resolve the endpoint's DNS name to, or undefined without a name. */
export function endpointAddressFor(c: Cluster, h: Host): string | undefined {
  const e = c.endpoint;
  if (noHairpin(c)) {
    if (!e.dnsName) {
      throw new KubehaError(
        `cluster ${c.name}: an external load balancer with hairpin: false needs controlPlaneEndpoint.dnsName`,
        "set controlPlaneEndpoint.dnsName (e.g. k8s-api.internal); kubeha resolves it per host",
      );
    }
    return h.roles.includes("control-plane") ? "127.0.0.1" : e.address;
  }
  return e.dnsName ? e.address : undefined;
}

/**
 * Every host's line, the same for all hosts: made once per host list, not once per host; and the
 * whole file by its endpoint line, so hosts with the same file share one string (one copy in
 * memory, encoded once when written).
 */
const hostLines = new WeakMap<Host[], { count: number; text: string; files: Map<string, string> }>();

export function renderHosts(c: Cluster, h: Host): RenderedFile[] {
  let all = hostLines.get(c.hosts);
  if (!all || all.count !== c.hosts.length) {
    all = { count: c.hosts.length, text: c.hosts.map((x) => `${x.internalAddress} ${x.name}`).join("\n"), files: new Map() };
    hostLines.set(c.hosts, all);
  }
  const ep = endpointAddressFor(c, h);
  // A load balancer known only by a DNS name cannot go into /etc/hosts: DNS resolves it.
  const epLine = ep && isIPv4(ep) && c.endpoint.dnsName ? `${all.count ? "\n" : ""}${ep} ${c.endpoint.dnsName}` : "";
  let text = all.files.get(epLine);
  if (text === undefined) {
    text = file(PATHS.hostsFragment, header("#", "Lines install.sh keeps in /etc/hosts between kubeha markers.") + all.text + epLine).content;
    all.files.set(epLine, text);
  }
  return [file(PATHS.hostsFragment, text)];
}
