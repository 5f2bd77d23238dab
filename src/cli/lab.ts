/** `kubeha lab`: local systemd-nspawn machines to prove kubeha on (library: src/lab). */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import type { Command } from "./main.ts";
import { parseFlags } from "./flags.ts";
import { UsageError } from "../errors.ts";
import type { Bootstrap } from "../spec/model.ts";
import type { LabEndpoint, LabEtcd, LabProvision } from "../lab/plan.ts";

const help = `kubeha lab: a lab of Debian bookworm machines (systemd-nspawn) on this host

Usage:
  kubeha lab up [--masters 3] [--workers 2] [--lbs 0] [--name lab] [--subnet 198.18.X.0/24]
                [--endpoint haproxy-keepalived|kube-vip] [--etcd external|stacked] [--kube-standins]
                [--bundle DIR] [--install-deps] [--provision ssh|ignition] [--bootstrap kubeadm|binary]
  kubeha lab status [--name lab]
  kubeha lab ssh <machine> [--name lab] [-- command...]
  kubeha lab exec <machine> [--name lab] -- command [args...]
  kubeha lab stop <machine> [--hard] [--name lab]     power a machine off (--hard: pull the plug)
  kubeha lab start <machine> [--name lab]             power it on again
  kubeha lab recreate <machine> [--keep-old-host-keys] [--name lab]
                                                      replace a dead machine by a fresh one (same name
                                                      and address, empty disk, new SSH host keys)
  kubeha lab partition <a> <b> [--name lab]           cut all traffic between two machines
  kubeha lab heal [--name lab]                        undo every partition
  kubeha lab down [--name lab]                        remove everything the lab made

\`up\` builds (once, cached in /var/cache/kubeha/base) a Debian bookworm base with debootstrap,
boots the machines on bridge kh-<name> in one /24 of 198.18.0.0/15 (bridge .1, machines from .11,
VIP .100), starts apt-cacher-ng on <bridge>:3142 (Debian mirror only; the machines have no other
way out) and writes lab/<name>/cluster.yaml, id_ed25519 and known_hosts. Needs root and the Debian
packages debootstrap, systemd-container and apt-cacher-ng.

Flags:
  --name NAME        lab name (1-12 of a-z 0-9 -). Default lab
  --masters N        control-plane + etcd machines (master1..N). Default 3
  --workers N        worker machines (worker1..N). Default 2
  --lbs N            separate load-balancer machines (lb1..N). Default 0: the masters carry the LB
  --subnet CIDR      a /24 inside 198.18.0.0/15. Default: derived from the name
  --endpoint MODE    haproxy-keepalived (HAProxy + keepalived on the masters or --lbs machines) or
                     kube-vip (kube-vip static pods on the masters hold the VIP). Default haproxy-keepalived
  --etcd MODE        external (kubeha's etcd.service on the masters, role etcd) or stacked (kubeadm's
                     etcd static pod on each master; with --kube-standins the bundle then ships this
                     machine's real etcd, /usr/bin/etcd, as the pod's image). Default external
  --kube-standins    give cluster.yaml an offline bundle of the Kubernetes stand-ins (not real Kubernetes)
  --bundle DIR       the bundle to copy with --kube-standins. Default: test/standins/bundle of the
                     kubeha checkout this runs from. The stand-ins are test tools: the npm package
                     does not ship them, so an installed kubeha needs --bundle (or a checkout)
  --install-deps     install missing host packages with apt-get
  --provision MODE   ssh (default): fresh servers that \`kubeha apply\` installs over SSH. ignition: before
                     each machine's first boot the real Ignition (Debian's ignition package) writes its
                     config (lab/<name>/ignition/<host>.ign, as \`kubeha render --format ignition\`)
                     into its root; the machines come up into the cluster by themselves, nothing is
                     installed over SSH. Needs --kube-standins (the bundle goes in through Ignition)
                     and a second cached base that carries the packages (docs/ignition.md)
  --bootstrap MODE   kubeadm (default) or binary: the cluster file says \`bootstrap: binary\` (the control
                     plane as kubeha's systemd units, no kubeadm; docs/binary.md). Needs --kube-standins
                     and --etcd external
  --hard             (stop) kill the machine's processes at once instead of a clean poweroff
  --keep-old-host-keys
                     (recreate) leave the old host keys in the lab's known_hosts: kubeha and ssh
                     then refuse the machine (HOST KEY CHANGED) until they are replaced, as with a
                     real reinstalled server. Default: the new keys are pinned

Examples:
  sudo kubeha lab up --masters 3 --workers 2
  sudo kubeha apply lab/lab/cluster.yaml
  sudo kubeha lab up --name st --etcd stacked --workers 0 --kube-standins
  sudo kubeha lab up --name hw --lbs 2 --kube-standins --bootstrap binary
  sudo kubeha lab exec master1 -- systemctl is-system-running
  sudo kubeha lab stop master1 --hard && sudo kubeha lab start master1
  sudo kubeha lab partition master1 master2 && sudo kubeha lab heal
  sudo kubeha lab recreate master2 && sudo kubeha apply lab/lab/cluster.yaml
  sudo kubeha lab down
  sudo kubeha lab up --name ign --masters 3 --workers 1 --kube-standins --provision ignition
  sudo kubeha status lab/ign/cluster.yaml          # healthy once the machines finished by themselves
`;

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");

/** The stand-in bundle of the checkout kubeha runs from; the npm package has none. */
function checkoutBundle(): string {
  const dir = path.join(repoRoot, "test/standins/bundle");
  if (!existsSync(dir)) {
    throw new UsageError(
      `--kube-standins: no stand-in bundle at ${dir}: the stand-ins are test tools that live in a kubeha checkout and are not in the npm package`,
      "run kubeha from a checkout (git clone, npm ci), or pass --bundle DIR",
    );
  }
  return dir;
}

function int(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${flag} ${v}: not a whole number`, `for example --${flag} 3`);
  return Number(v);
}

export const command: Command = {
  name: "lab",
  help,
  async run(args) {
    // Everything after `--` belongs to the command run in the machine.
    const dd = args.indexOf("--");
    const own = dd >= 0 ? args.slice(0, dd) : args;
    const rest = dd >= 0 ? args.slice(dd + 1) : [];
    const { values: f, positionals: pos } = parseFlags("lab", own, {
      name: { type: "string" },
      masters: { type: "string" },
      workers: { type: "string" },
      lbs: { type: "string" },
      subnet: { type: "string" },
      endpoint: { type: "string" },
      etcd: { type: "string" },
      "kube-standins": { type: "boolean" },
      bundle: { type: "string" },
      "install-deps": { type: "boolean" },
      hard: { type: "boolean" },
      "keep-old-host-keys": { type: "boolean" },
      provision: { type: "string" },
      bootstrap: { type: "string" },
    });
    const [sub, ...operands] = pos;
    const name = f.name ?? "lab";
    const lab = await import("../lab/index.ts");
    const say = (s: string) => process.stdout.write(s + "\n");
    const want = (n: number, usage: string) => {
      if (operands.length !== n) throw new UsageError(`usage: kubeha lab ${usage}`, "see `kubeha lab --help`");
    };
    switch (sub) {
      case "up": {
        want(0, "up [flags]");
        if (f.bundle && !f["kube-standins"]) throw new UsageError("--bundle only goes with --kube-standins");
        const info = await lab.labUp({
          name,
          masters: int("masters", f.masters),
          workers: int("workers", f.workers),
          lbs: int("lbs", f.lbs),
          ...(f.subnet ? { subnet: f.subnet } : {}),
          ...(f.endpoint ? { endpoint: f.endpoint as LabEndpoint } : {}),
          ...(f.etcd ? { etcd: f.etcd as LabEtcd } : {}),
          ...(f.provision ? { provision: f.provision as LabProvision } : {}),
          ...(f.bootstrap ? { bootstrap: f.bootstrap as Bootstrap } : {}),
          ...(f["kube-standins"] ? { bundle: f.bundle ?? checkoutBundle() } : {}),
          installDeps: f["install-deps"] ?? false,
          progress: say,
        });
        const rel = path.relative(process.cwd(), info.clusterFile) || info.clusterFile;
        say("");
        for (const m of info.machines) say(`  ${m.name.padEnd(8)} ${m.address}`);
        say(`  VIP ${info.vip}${info.provision === "ignition" ? " (no package proxy: the machines install nothing)" : `, package proxy ${info.proxyUrl}`}`);
        say(
          info.provision === "ignition"
            ? `\nThe machines are installing themselves (journalctl -u kubeha-install). Next: kubeha status ${rel}`
            : `\nNext: kubeha apply ${rel}`,
        );
        return 0;
      }
      case "down": {
        want(0, "down [--name NAME]");
        const left = await lab.labDown(name, { progress: say });
        if (left.length) {
          process.stderr.write(`kubeha: lab "${name}" not fully removed:\n${left.map((l) => `  ${l}\n`).join("")}`);
          return 1;
        }
        say(`Lab "${name}" removed`);
        return 0;
      }
      case "status": {
        want(0, "status [--name NAME]");
        const st = await lab.labStatus(name);
        say(`lab ${st.info.name}: bridge ${st.info.bridge} ${st.info.subnet}, VIP ${st.info.vip}, proxy ${st.proxy} (${st.info.proxyUrl})`);
        for (const m of st.machines) say(`  ${m.name.padEnd(8)} ${m.address.padEnd(15)} ${m.role.padEnd(7)} ${m.state}`);
        for (const [a, b] of st.partitions) say(`  partitioned: ${a} <-/-> ${b}`);
        say(`cluster file: ${st.info.clusterFile}`);
        return st.machines.every((m) => m.state === "running") ? 0 : 1;
      }
      case "exec": {
        want(1, "exec <machine> -- command [args...]");
        if (!rest.length) throw new UsageError("nothing to run", "e.g. kubeha lab exec master1 -- hostname");
        const r = await lab.labExec(name, operands[0]!, rest, { timeoutMs: 3_600_000 });
        process.stdout.write(r.stdout);
        process.stderr.write(r.stderr);
        return r.code;
      }
      case "ssh": {
        want(1, "ssh <machine> [-- command...]");
        const sshArgs = await lab.labSshArgs(name, operands[0]!);
        return await new Promise<number>((resolve) => {
          const c = spawn("ssh", [...sshArgs, ...rest], { stdio: "inherit" });
          c.on("error", () => resolve(127));
          c.on("close", (code) => resolve(code ?? 1));
        });
      }
      case "stop": {
        want(1, "stop <machine> [--hard]");
        await lab.labStop(name, operands[0]!, { hard: f.hard ?? false });
        say(`${operands[0]} ${f.hard ? "killed (plug pulled)" : "powered off"}`);
        return 0;
      }
      case "start": {
        want(1, "start <machine>");
        say(`${operands[0]} ${await lab.labStart(name, operands[0]!)}`);
        return 0;
      }
      case "recreate": {
        want(1, "recreate <machine> [--keep-old-host-keys]");
        const r = await lab.labRecreate(name, operands[0]!, { keepOldHostKeys: f["keep-old-host-keys"] ?? false });
        say(`${operands[0]} recreated from the base: empty disk, same name and address, ${r.state}`);
        say(`  new host keys: ${r.fingerprints.join(", ")}`);
        say(
          f["keep-old-host-keys"]
            ? "  the lab's known_hosts still holds the old keys: kubeha and ssh refuse this machine until they are replaced"
            : `  the lab's known_hosts pins them (${r.removedKnownHosts} old line(s) removed)`,
        );
        return 0;
      }
      case "partition": {
        want(2, "partition <a> <b>");
        await lab.labPartition(name, operands[0]!, operands[1]!);
        say(`${operands[0]} and ${operands[1]} can no longer reach each other (\`kubeha lab heal\` undoes it)`);
        return 0;
      }
      case "heal": {
        want(0, "heal");
        await lab.labHeal(name);
        say("all partitions removed");
        return 0;
      }
      default:
        throw new UsageError(
          sub ? `unknown lab command "${sub}"` : "missing lab command",
          "one of: up, down, status, ssh, exec, stop, start, recreate, partition, heal (see `kubeha lab --help`)",
        );
    }
  },
};
