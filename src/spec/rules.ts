/**
 * Semantic rules on a structurally valid cluster file (pure). Each rule is a named function that
 * reports problems by YAML path; read.ts adds line:column. Warnings never block; errors do, except
 * `degraded` ones (a cluster that works but cannot lose a member) for commands that operate a
 * running cluster (ReadOptions.operate).
 */
import type { ClusterFile } from "./file.ts";
import type { Cluster, Host } from "./model.ts";
import { SUPPORTED_MINORS, parseVersion } from "./normalize.ts";
import type { Problem } from "../errors.ts";
import { hasVip, holdsVip, listenPorts, noHairpin, usesKeepalived, usesKubeVip, vipHolders, vipPrefix } from "./topology.ts";
import { CRYPT_HASH, UNIX_NAME, imageRepositoryProblem, interfaceProblem, kubeletLabelProblem, labelValueProblem, qualifiedNameProblem, taintProblem } from "./names.ts";
import { OWNED, flagProblem, type Component } from "./flags.ts";
import { cidrContains, cidrsOverlap, isDnsName, isIPv4, parseCidr } from "../util/net.ts";

type Finding = Omit<Problem, "line" | "col" | "rule">;
type Rule = (f: ClusterFile, c: Cluster) => Finding[];

const err = (path: string, message: string, hint?: string): Finding => ({ severity: "error", path, message, ...(hint ? { hint } : {}) });
const warn = (path: string, message: string, hint?: string): Finding => ({ severity: "warning", path, message, ...(hint ? { hint } : {}) });
/** An error for building, a warning for operating a running cluster (Problem.degraded). */
const degraded = (path: string, message: string, hint?: string): Finding => ({ ...err(path, message, hint), degraded: true });

export const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;
/** `.key` for a plain key, `["example.com/x"]` for one that would not survive splitting on dots. */
export const keySegment = (k: string) => (PLAIN_KEY.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`);

const hostPath = (c: Cluster, h: Host, field?: string) => `spec.hosts[${c.hosts.indexOf(h)}]${field ? `.${field}` : ""}`;
const EP = "spec.controlPlaneEndpoint";

function quorum(n: number): string {
  const q = Math.floor(n / 2) + 1;
  return `${n} members need ${q} for quorum and survive ${n - q} failure${n - q === 1 ? "" : "s"}`;
}

export const rules = {
  "host-addresses": (_f, c) =>
    c.hosts.flatMap((h, i) => {
      const out: Finding[] = [];
      if (!isIPv4(h.address)) out.push(err(`spec.hosts[${i}].address`, `"${h.address}" is not an IPv4 address`, "kubeha supports IPv4 host addresses, e.g. 198.18.0.11"));
      if (!isIPv4(h.internalAddress)) out.push(err(`spec.hosts[${i}].internalAddress`, `"${h.internalAddress}" is not an IPv4 address`));
      return out;
    }),

  "unique-hosts": (_f, c) => {
    const out: Finding[] = [];
    const names = new Map<string, number>();
    const addrs = new Map<string, number>();
    c.hosts.forEach((h, i) => {
      const n = names.get(h.name);
      if (n !== undefined) out.push(err(`spec.hosts[${i}].name`, `duplicate host name "${h.name}" (also spec.hosts[${n}])`, "every host needs its own name"));
      else names.set(h.name, i);
      for (const [field, a] of [["address", h.address], ["internalAddress", h.internalAddress]] as const) {
        if (field === "internalAddress" && h.internalAddress === h.address) continue;
        const m = addrs.get(a);
        if (m !== undefined && m !== i) out.push(err(`spec.hosts[${i}].${field}`, `duplicate address ${a} (also spec.hosts[${m}])`, "every host needs its own address"));
        else addrs.set(a, i);
      }
    });
    return out;
  },

  "control-plane-count": (_f, c) => {
    const n = c.hosts.filter((h) => h.roles.includes("control-plane")).length;
    if (n === 0) return [err("spec.hosts", "no host has the role control-plane", "give three hosts `roles: [control-plane]`")];
    if (n === 2 && c.etcd.mode === "stacked")
      return [degraded("spec.hosts", "2 control planes with stacked etcd have no fault tolerance: losing either loses etcd quorum", "use 3 control planes (or 1 for a non-HA test cluster)")];
    if (n === 1) return [warn("spec.hosts", "1 control plane: the cluster is not highly available", "use 3 control planes for HA")];
    if (n % 2 === 0 && c.etcd.mode === "stacked")
      return [warn("spec.hosts", `even number of control planes with stacked etcd: ${quorum(n)}, no more than ${quorum(n - 1)}`, `use ${n - 1} or ${n + 1}`)];
    return [];
  },

  "etcd-members": (_f, c) => {
    const etcdHosts = c.hosts.filter((h) => h.roles.includes("etcd"));
    if (c.etcd.mode === "stacked") {
      return etcdHosts.map((h) => err(hostPath(c, h, "roles"), `host "${h.name}" has the role etcd but etcd.mode is stacked (kubeadm runs etcd on the control planes)`, "set `spec.etcd.mode: external`, or remove the etcd role"));
    }
    const n = etcdHosts.length;
    if (n === 0) return [err("spec.etcd.mode", "etcd.mode is external but no host has the role etcd", "give 3 hosts the role etcd")];
    if (n === 2) return [degraded("spec.etcd.mode", "2 etcd members have no fault tolerance: losing either loses quorum", "use 3 or 5 etcd members")];
    if (n === 1) return [warn("spec.etcd.mode", "1 etcd member: etcd is not highly available", "use 3 etcd members")];
    if (n % 2 === 0) return [warn("spec.etcd.mode", `even number of etcd members: ${quorum(n)}, no more than ${quorum(n - 1)}`, `use ${n - 1} or ${n + 1} members`)];
    return [];
  },

  "lb-hosts": (_f, c) => {
    const lbs = c.hosts.filter((h) => h.roles.includes("lb"));
    const mode = c.endpoint.mode;
    if (mode === "haproxy-keepalived") {
      if (lbs.length === 0) return [err(`${EP}.mode`, "haproxy-keepalived needs hosts with the role lb", "add `lb` to the roles of the control planes (co-located) or of 2-3 dedicated hosts")];
      if (lbs.length === 1) return [warn(`${EP}.mode`, "only one lb host: the VIP has nowhere to move", "use 2 or more lb hosts, or `mode: haproxy` for a single proxy")];
    } else if (mode === "haproxy") {
      if (lbs.length !== 1) return [err(`${EP}.mode`, `mode haproxy needs exactly one host with the role lb (found ${lbs.length})`, lbs.length ? "use `mode: haproxy-keepalived` with a VIP for several proxies" : "give the proxy host `roles: [lb]`")];
      return [warn(`${EP}.mode`, `the proxy host "${lbs[0]!.name}" is a single point of failure`, "use `mode: haproxy-keepalived` with 2+ lb hosts for HA")];
    } else if (lbs.length) {
      return lbs.map((h) => err(hostPath(c, h, "roles"), `host "${h.name}" has the role lb, but mode ${mode} runs no kubeha load balancer`, "remove the lb role"));
    }
    return [];
  },

  "lb-interface": (f, c) =>
    hasVip(c)
      ? c.hosts
          .filter((h, i) => holdsVip(c, h) && f.spec.hosts[i]?.interface === undefined)
          .map((h) => warn(hostPath(c, h), `no interface set for the VIP on "${h.name}"; assuming eth0`, "set `interface:` (see `ip -br addr` on the host); apply's preflight fails if it is missing"))
      : [],

  "vip": (_f, c) => {
    if (!hasVip(c)) return [];
    const e = c.endpoint;
    if (!isIPv4(e.address)) return [err(`${EP}.vip`, `"${e.address}" is not an IPv4 address`)];
    const out: Finding[] = [];
    const clash = c.hosts.find((h) => h.address === e.address || h.internalAddress === e.address);
    if (clash) out.push(err(`${EP}.vip`, `the VIP ${e.address} is the address of host "${clash.name}"`, "pick an unused address in the hosts' subnet"));
    const prefix = vipPrefix(c);
    const subnet = parseCidr(`${e.address}/${prefix}`);
    if (subnet && prefix < 32) {
      for (const h of vipHolders(c))
        if (isIPv4(h.internalAddress) && !cidrContains(subnet, h.internalAddress))
          out.push(err(`${EP}.vip`, `the VIP ${e.address}/${prefix} is outside the subnet of ${h.name} (${h.internalAddress})`, "the VIP must be in the L2 subnet the VIP holders share; check vipPrefix"));
    }
    return out;
  },

  "networks": (_f, c) => {
    const out: Finding[] = [];
    const k = c.kubernetes;
    const pod = parseCidr(k.podSubnet);
    const svc = parseCidr(k.serviceSubnet);
    if (!pod) out.push(err("spec.kubernetes.podSubnet", `"${k.podSubnet}" is not an IPv4 CIDR`, "e.g. 10.244.0.0/16"));
    if (!svc) out.push(err("spec.kubernetes.serviceSubnet", `"${k.serviceSubnet}" is not an IPv4 CIDR`, "e.g. 10.96.0.0/12"));
    else if (svc.prefix < 12) out.push(err("spec.kubernetes.serviceSubnet", `service subnet /${svc.prefix} is too large`, "the apiserver allows at most /12 (20 bits)"));
    if (pod && svc && cidrsOverlap(pod, svc)) out.push(err("spec.kubernetes.serviceSubnet", `service subnet ${k.serviceSubnet} overlaps the pod subnet ${k.podSubnet}`, "pick disjoint ranges"));
    if (pod && pod.prefix > 24) out.push(err("spec.kubernetes.podSubnet", `pod subnet /${pod.prefix} is too small: every node takes a /24`, "use /16"));
    const addrs: Array<[string, string]> = c.hosts.flatMap((h, i): Array<[string, string]> =>
      isIPv4(h.internalAddress) ? [[`spec.hosts[${i}].${h.internalAddress === h.address ? "address" : "internalAddress"}`, h.internalAddress]] : [],
    );
    if (hasVip(c) && isIPv4(c.endpoint.address)) addrs.push([`${EP}.vip`, c.endpoint.address]);
    for (const [path, a] of addrs) {
      if (pod && cidrContains(pod, a)) out.push(err(path, `${a} lies inside the pod subnet ${k.podSubnet}`, "pod, service and host networks must not overlap; change spec.kubernetes.podSubnet"));
      if (svc && cidrContains(svc, a)) out.push(err(path, `${a} lies inside the service subnet ${k.serviceSubnet}`, "pod, service and host networks must not overlap; change spec.kubernetes.serviceSubnet"));
    }
    return out;
  },

  "ports": (_f, c) => {
    // Every port a host will listen on, by role: two services on one port is the classic
    // "haproxy and kube-apiserver both on 6443" failure (kubeadm#2472).
    const out: Finding[] = [];
    for (const h of c.hosts) {
      const ports = new Map<number, string>();
      for (const { port, what, path } of listenPorts(c, h)) {
        const other = ports.get(port);
        if (other) {
          const hint = what === "HAProxy frontend" || other === "HAProxy frontend" ? "use 8443 or 16443 for the load balancer when it shares hosts with an API server" : "give one of them another port";
          out.push(err(path, `port ${port} on ${h.name} would be used by both ${other} and ${what}`, hint));
        } else ports.set(port, what);
      }
    }
    return out.filter((p, i) => out.findIndex((q) => q.path === p.path && q.message.replace(/ on \S+ /, " ") === p.message.replace(/ on \S+ /, " ")) === i);
  },

  "kubernetes-version": (f, c) => {
    const raw = f.spec.kubernetes?.version;
    if (raw === undefined) return [];
    const v = parseVersion(raw);
    const range = `1.${SUPPORTED_MINORS.min} to 1.${SUPPORTED_MINORS.max}`;
    if (!v) return [err("spec.kubernetes.version", `"${raw}" is not a Kubernetes version`, `write it as 1.MINOR.PATCH, e.g. 1.34.2 (supported: ${range})`)];
    if (v.minor < SUPPORTED_MINORS.min || v.minor > SUPPORTED_MINORS.max)
      return [err("spec.kubernetes.version", `Kubernetes ${v.version} is not supported`, `kubeha supports ${range}`)];
    if (c.kubernetes.minor < 31) return [warn("spec.kubernetes.version", `kubeadm ${c.kubernetes.version} uses the deprecated v1beta3 config API`, "v1beta3 is removed in 1.36; plan an upgrade to 1.31+")];
    return [];
  },

  "endpoint-names": (f, c) => {
    const out: Finding[] = [];
    const e = f.spec.controlPlaneEndpoint;
    if (e.dnsName !== undefined && !isDnsName(e.dnsName)) out.push(err(`${EP}.dnsName`, `"${e.dnsName}" is not a valid DNS name`, "lower-case letters, digits, '-' and '.'"));
    if (e.mode === "external" && !isIPv4(e.address) && !isDnsName(e.address)) out.push(err(`${EP}.address`, `"${e.address}" is neither an IPv4 address nor a DNS name`));
    if (e.mode === "haproxy" && e.address !== undefined && !isIPv4(e.address))
      out.push(err(`${EP}.address`, `"${e.address}" is not an IPv4 address`, "the address clients use to reach the proxy host, e.g. its second interface's address"));
    (f.spec.kubernetes?.certSANs ?? []).forEach((s, i) => {
      if (!isIPv4(s) && !isDnsName(s.replace(/^\*\./, "x.")))
        out.push(err(`spec.kubernetes.certSANs[${i}]`, `"${s}" is neither an IPv4 address nor a DNS name`, "kubeadm would drop it with a warning"));
    });
    if (noHairpin(c) && c.endpoint.port !== c.kubernetes.apiServerPort)
      out.push(err(`${EP}.port`, `with hairpin: false the control planes reach the endpoint name at 127.0.0.1:${c.endpoint.port}, but their apiservers listen on ${c.kubernetes.apiServerPort}`, `make the load balancer listen on ${c.kubernetes.apiServerPort}`));
    return out;
  },

  "kube-vip-super-admin": (_f, c) =>
    usesKubeVip(c) && c.bootstrap === "kubeadm" && c.kubernetes.minor >= 29
      ? [warn(`${EP}.mode`, `kube-vip with kubeadm ${c.kubernetes.version}: admin.conf has no rights until kubeadm init has finished (kube-vip#684)`, "kubeha handles it: the first control plane's kube-vip pod mounts super-admin.conf during init and is switched to admin.conf right after")]
      : [],

  "keepalived": (_f, c) => {
    if (!usesKeepalived(c)) return [];
    const k = c.endpoint.keepalived;
    const out: Finding[] = [];
    const a = k.advertInterval;
    if (a <= 0 || (a < 1 && Math.abs(a * 100 - Math.round(a * 100)) > 1e-9) || (a >= 1 && (!Number.isInteger(a) || a > 255)))
      out.push(err(`${EP}.keepalived.advertInterval`, `advertInterval ${a} is not valid`, "use hundredths of a second below 1 (VRRPv3, e.g. 0.1) or whole seconds 1-255"));
    if (k.preempt !== "delay" && _f.spec.controlPlaneEndpoint.mode === "haproxy-keepalived" && _f.spec.controlPlaneEndpoint.keepalived?.preemptDelaySeconds !== undefined)
      out.push(warn(`${EP}.keepalived.preemptDelaySeconds`, "preemptDelaySeconds has no effect unless preempt is `delay`"));
    if (k.preempt === "always") out.push(warn(`${EP}.keepalived.preempt`, "preempt: always moves the VIP back as soon as the preferred host returns, a second interruption", "prefer `never` (default) or `delay`"));
    return out;
  },

  "packages": (f, c) => {
    const p = f.spec.packages ?? {};
    const out: Finding[] = [];
    if (c.packages.source === "mirror" && !p.mirror) out.push(err("spec.packages.source", "source mirror needs `mirror:` (the base URL of a pkgs.k8s.io mirror)", "e.g. https://mirrors.aliyun.com/kubernetes-new/core/stable"));
    if (c.packages.source === "bundle" && !p.bundle) out.push(err("spec.packages.source", "source bundle needs `bundle:` (a directory on this machine)", "see docs/bundle.md"));
    if (p.mirror !== undefined && !/^https?:\/\/\S+$/.test(p.mirror)) out.push(err("spec.packages.mirror", `"${p.mirror}" is not an http(s) URL`));
    if (p.proxy !== undefined && !/^https?:\/\/[^\s/]+(:\d+)?\/?$/.test(p.proxy)) out.push(err("spec.packages.proxy", `"${p.proxy}" is not a proxy URL`, "e.g. http://proxy.example:3128"));
    if (p.mirror !== undefined && c.packages.source !== "mirror") out.push(warn("spec.packages.mirror", "mirror is set but source is not `mirror`; it is ignored"));
    return out;
  },

  "interface-names": (f) => {
    const out: Finding[] = [];
    f.spec.hosts.forEach((h, i) => {
      const p = h.interface !== undefined ? interfaceProblem(h.interface) : undefined;
      if (p) out.push(err(`spec.hosts[${i}].interface`, p, "see `ip -br link` on the host"));
    });
    const cni = f.spec.kubernetes?.cni?.interface;
    const p = cni !== undefined ? interfaceProblem(cni) : undefined;
    if (p) out.push(err("spec.kubernetes.cni.interface", p, "see `ip -br link` on the nodes"));
    return out;
  },

  "image-repository": (f) => {
    const r = f.spec.kubernetes?.imageRepository;
    const p = r !== undefined ? imageRepositoryProblem(r) : undefined;
    return p ? [err("spec.kubernetes.imageRepository", p, "e.g. registry.k8s.io or registry.example.com:5000/k8s")] : [];
  },

  "node-labels": (f) =>
    f.spec.hosts.flatMap((h, i) =>
      Object.entries(h.labels ?? {}).flatMap(([k, v]) => {
        const path = `spec.hosts[${i}].labels${keySegment(k)}`;
        const out: Finding[] = [];
        const keyProblem = qualifiedNameProblem(k);
        if (keyProblem) out.push(err(path, `label key: ${keyProblem}`));
        else {
          const kubelet = kubeletLabelProblem(k);
          if (kubelet)
            out.push(err(path, kubelet, /^node-role\.kubernetes\.io\//.test(k)
              ? `set the role after the node joined: \`kubectl label node ${h.name} ${k}=\`, or use a label of your own prefix (e.g. example.com/role)`
              : "use a label under node.kubernetes.io/ or your own prefix, or set it with `kubectl label node` after the join"));
        }
        const valueProblem = typeof v === "string" ? labelValueProblem(v) : `label values are strings; quote ${String(v)}`;
        if (valueProblem) out.push(err(path, valueProblem, "quote the value in YAML if it looks like a number or boolean"));
        return out;
      }),
    ),

  "taints": (f) =>
    f.spec.hosts.flatMap((h, i) =>
      (h.taints ?? []).flatMap((t, j) => {
        const p = taintProblem(t);
        return p ? [err(`spec.hosts[${i}].taints[${j}]`, p, "e.g. dedicated=infra:NoSchedule")] : [];
      }),
    ),

  "provisioning": (_f, c) => {
    const P = "spec.provisioning";
    const p = c.provisioning;
    const out: Finding[] = [];
    if (p.network.gateway !== undefined && !isIPv4(p.network.gateway)) out.push(err(`${P}.network.gateway`, `"${p.network.gateway}" is not an IPv4 address`));
    p.network.dns.forEach((d, i) => {
      if (!isIPv4(d)) out.push(err(`${P}.network.dns[${i}]`, `"${d}" is not an IPv4 address`));
    });
    p.sshAuthorizedKeys.forEach((k, i) => {
      if (!/^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp(256|384|521)|sk-\S+) [A-Za-z0-9+/]+=*( .*)?$/.test(k) || k.includes("\n"))
        out.push(err(`${P}.sshAuthorizedKeys[${i}]`, "not an SSH public key line", "paste one line of a .pub file, e.g. `ssh-ed25519 AAAA... you@host`"));
    });
    const u = p.user;
    u.groups.forEach((g, i) => {
      if (!UNIX_NAME.test(g)) out.push(err(`${P}.user.groups[${i}]`, `"${g}" is not a group name`, "lower-case letters, digits, `_` and `-`, starting with a letter or `_`, e.g. wheel"));
      else if (u.groups.indexOf(g) !== i) out.push(err(`${P}.user.groups[${i}]`, `group "${g}" is listed twice`));
    });
    // The value is a secret: the message never quotes it.
    if (u.passwordHash !== undefined && !CRYPT_HASH.test(u.passwordHash))
      out.push(err(`${P}.user.passwordHash`, "not a crypt(3) password hash (`$id$salt$hash`, e.g. `$6$...` or `$y$...`); the value is not shown", "paste the output of `openssl passwd -6` or `mkpasswd -m sha-512` (`mkpasswd -m yescrypt` as in seed 004), never the password itself"));
    if (u.passwordlessSudo) {
      for (const user of [...new Set(c.hosts.map((h) => h.ssh.user))]) {
        if (user === "root") out.push(err(`${P}.user.passwordlessSudo`, "the SSH user is root, which needs no sudo", "drop passwordlessSudo, or set `spec.ssh.user` to the user that should get it"));
        // sudo skips files in /etc/sudoers.d whose name holds a `.`: the drop-in is named after the user.
        else if (!UNIX_NAME.test(user)) out.push(err(`${P}.user.passwordlessSudo`, `SSH user "${user}" cannot name a sudoers drop-in`, "a user name of lower-case letters, digits, `_` and `-`, starting with a letter or `_`"));
      }
    }
    const d = p.dataDisk;
    if (d && !d.device.startsWith("/dev/")) out.push(err(`${P}.dataDisk.device`, `"${d.device}" is not a device path`, "e.g. /dev/sdb or /dev/vdb"));
    if (d && (!d.path.startsWith("/") || d.path === "/" || /\/\.\.?(\/|$)/.test(d.path))) out.push(err(`${P}.dataDisk.path`, `"${d.path}" is not an absolute mount point`, "e.g. /var/mnt/data"));
    return out;
  },

  /** Extra flags the chosen minor's component has, that are not going away, and that kubeha does not set itself. */
  "extra-args": (_f, c) => {
    const components: Array<[keyof Cluster["kubernetes"]["extraArgs"], Component]> = [["apiServer", "kube-apiserver"], ["scheduler", "kube-scheduler"]];
    return components.flatMap(([field, component]) =>
      c.kubernetes.extraArgs[field].flatMap(([name, value]): Finding[] => {
        const path = `spec.kubernetes.extraArgs.${field}${keySegment(name)}`;
        if (name.startsWith("-")) return [err(path, `"${name}": write the flag name without dashes`, `e.g. ${name.replace(/^-+/, "")}: "..."`)];
        const owned = OWNED[component]?.[name];
        if (owned) return [err(path, `kubeha sets --${name} of ${component} itself`, `set ${owned}`)];
        const p = flagProblem(component, c.kubernetes.minor, name, value);
        return p ? [err(path, p.message, p.hint)] : [];
      }),
    );
  },

  /** What `bootstrap: binary` needs that kubeadm would otherwise provide. */
  "bootstrap": (_f, c) => {
    if (c.bootstrap !== "binary") return [];
    const out: Finding[] = [];
    if (c.etcd.mode === "stacked")
      out.push(err("spec.etcd.mode", "bootstrap binary has no kubeadm to run stacked etcd as static pods", "set `spec.etcd.mode: external` and give the etcd role to 3 hosts (the control planes themselves for co-located etcd)"));
    if (c.packages.source !== "bundle")
      out.push(err("spec.packages.source", `bootstrap binary needs the kube-apiserver, kube-controller-manager, kube-scheduler and kube-proxy binaries, which ${c.packages.source === "mirror" ? "a pkgs.k8s.io mirror" : "pkgs.k8s.io"} does not ship`, "set `spec.packages.source: bundle` with a bundle holding them (docs/bundle.md)"));
    if (usesKubeVip(c))
      out.push(err(`${EP}.mode`, "bootstrap binary cannot run kube-vip: its static pod and kubeconfig come from kubeadm", "use `mode: haproxy-keepalived`, `haproxy` or `external`"));
    return out;
  },

  "workers": (_f, c) =>
    c.hosts.some((h) => h.roles.includes("worker"))
      ? []
      : [warn("spec.hosts", "no host has the role worker: pods will not schedule while the control planes keep their NoSchedule taint", "add workers, or set `taints: []` on the control planes")],
} satisfies Record<string, Rule>;

const H = "spec.hosts", K = "spec.kubernetes", E = EP, ETCD = "spec.etcd";

/**
 * The parts of the file each rule reads (YAML paths; a rule reads everything below them). A rule
 * runs even when the file has schema errors, as long as none of them lies in or above what it
 * reads: the user sees every problem in one run, and no rule sees a structurally broken value.
 */
export const RULE_READS: Record<keyof typeof rules, string[]> = {
  "host-addresses": [H],
  "unique-hosts": [H],
  "control-plane-count": [H, ETCD],
  "etcd-members": [H, ETCD],
  "lb-hosts": [H, E],
  "lb-interface": [H, E],
  "vip": [H, E],
  "networks": [H, K, E],
  "ports": [H, K, ETCD, E],
  "kubernetes-version": [K],
  "endpoint-names": [E, K, "metadata"],
  "kube-vip-super-admin": [E, K],
  "keepalived": [E],
  "packages": ["spec.packages"],
  "bootstrap": ["spec.bootstrap", ETCD, "spec.packages", E],
  "extra-args": [K],
  "workers": [H],
  "interface-names": [H, K],
  "image-repository": [K],
  "node-labels": [H],
  "taints": [H],
  "provisioning": ["spec.provisioning", H, "spec.ssh"],
};

/**
 * Runs every rule, or only those `runs(reads)` allows. With `lenient` (the file has schema
 * errors elsewhere) a rule that throws is skipped: the schema error already covers its input.
 */
export function runRules(file: ClusterFile, cluster: Cluster, runs: (reads: string[]) => boolean = () => true, lenient = false): Problem[] {
  return (Object.entries(rules) as Array<[keyof typeof rules, Rule]>).flatMap(([rule, fn]) => {
    if (!runs(RULE_READS[rule])) return [];
    try {
      return fn(file, cluster).map((p) => ({ ...p, rule }));
    } catch (err) {
      if (lenient) return [];
      throw err;
    }
  });
}
