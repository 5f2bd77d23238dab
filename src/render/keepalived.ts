/**
 * keepalived: the VRRP virtual IP in front of the HAProxy hosts.
 *
 * What makes failover fast (docs/lab-notes.md, "Sub-second failover"; docs/drill.md, "Detection at
 * the floor"): VRRPv3 with `advert_int 0.01` and `down_timer_adverts 7` (the first backup takes over
 * 75 ms after the holder's last advert, and a holder held off the CPU for up to 65 ms keeps the
 * VIP; the VRRP child real-time, so that it is scheduled in time), distinct priorities (equal ones
 * cost ~5 s), a track file that systemd flips the instant haproxy dies, and a 1 s check that the
 * LOCAL haproxy frontend answers (never `killall -0`, never
 * the remote apiservers: every LB host would fail that together).
 *
 * Real-time scheduling comes from the keepalived.service drop-in, not from keepalived: an
 * ExecStartPost= chrt puts the parent and the children it forked in SCHED_RR 10, and children it
 * forks later inherit it (keepalived's own reset_process_priorities only undoes what keepalived set
 * itself, so a reload keeps the policy; scripts it forks inherit it too, and they are short and
 * bounded by their timeouts). A SCHED_RR task preempts every CFS task, in any cgroup or container:
 * nice -20 did not, because the starvation is between groups (cgroups, autogroups), where nice
 * does not reach. Nothing sets RLIMIT_RTTIME (systemd leaves it unlimited), so there is no RT-time
 * limit for the kernel to SIGKILL on. The kernel's RT throttling (sched_rt_runtime_us, 95 % by
 * default) still leaves the rest of the machine CPU time should the child ever spin. Where
 * real-time scheduling is not allowed (a container without CAP_SYS_NICE, or CONFIG_RT_GROUP_SCHED
 * with no RT budget for the service's cgroup), keepalived runs as before, at nice -20, and says so
 * in its journal (KEEPALIVED_NO_RT).
 *
 * Why not keepalived's own real-time scheduling (`vrrp_rt_priority`): a reload (SIGHUP, how
 * apply hands existing LB hosts a new unicast peer list) must keep the VRRP state, and with RT
 * scheduling keepalived 2.2.7 cannot. On reload the VRRP child resets RLIMIT_RTTIME to an
 * "original" value it never saved (0/0, seen in /proc/PID/limits right after `systemctl reload`)
 * and then fails to raise it again to `vrrp_rlimit_rttime` ("child process cannot set realtime
 * rlimit": raising a hard limit needs CAP_SYS_RESOURCE, which containers such as systemd-nspawn,
 * LXC or unprivileged Docker do not grant). About a second later the kernel SIGKILLs the RT
 * child ("exited due to signal 9 (Killed) - has rlimit_rttime been exceeded?"), the parent
 * respawns it in BACKUP (init) state and the holder drops the VIP: every reload of every LB host
 * was a failover, and a newly added LB host could take the VIP while the others restarted their
 * VRRP children (the sticky-holder bonus then kept it there). With the policy set from outside,
 * keepalived sets no RT-time limit it could lose: the child keeps its state and the holder its VIP
 * across reloads (lab: 10 rounds of `systemctl reload keepalived` on all three LB hosts, the VIP
 * never moved, the VRRP children stayed SCHED_RR 10, no restarts, no rlimit or "Killed" lines in
 * the journal).
 *
 * Why not keepalived's `nopreempt`: with it a backup never takes over from a live master, so a
 * lowered priority moves nothing (vrrp.c `vrrp_state_backup`; acassen/keepalived#2483), and
 * `preempt_delay` delays that takeover by the whole delay. For `preempt: never` kubeha keeps
 * preemption on and makes the holder sticky instead: the notify script marks the current
 * master and a track file adds a bonus to its priority, so a host whose haproxy just came back
 * (150) stays below the new holder (e.g. 120 + bonus) and the VIP does not bounce back.
 * `preempt: delay` uses keepalived's `preempt_delay`, so its checks put the instance in FAULT
 * (priority 0 is announced and bypasses the delay).
 */
import type { Cluster, Host } from "../spec/model.ts";
import { KubehaError } from "../errors.ts";
import type { RenderedFile, Secrets } from "./types.ts";
import { PATHS } from "./paths.ts";
import { file, header } from "./file.ts";
import type { KeepalivedCluster } from "../spec/topology.ts";
import { keepalivedHosts, runsKeepalived, usesKeepalived } from "../spec/topology.ts";

/** The most LB hosts whose priorities, bonus and penalty still fit in VRRP's 1..254. */
export const MAX_LB_HOSTS = 8;

/**
 * How long (s) the holder's VRRP child may be held off the CPU, beyond one advert interval, before
 * a backup takes the VIP. A real-time task still waits for a task on its CPU to leave the kernel
 * on a kernel without full preemption (`preempt=none`, and `voluntary` between its preemption
 * points): ftrace in the lab showed the VRRP child woken and kept waiting 24.5 ms behind apt-get's
 * kernel work on another machine of the same kernel, and a whole-suite run under load once saw a
 * silence past the 71 ms that 3 adverts of 20 ms gave (docs/drill.md, "Detection at the floor").
 */
export const VRRP_STALL_TOLERANCE_S = 0.06;

/**
 * keepalived's `down_timer_adverts` for `advertS`: how many adverts a backup misses before it
 * takes over (VRRP's 3, unless the interval is so short that 3 would tolerate less than
 * VRRP_STALL_TOLERANCE_S of silence beyond one advert). At 10 ms adverts: 7 (a backup at priority
 * 120 waits 75 ms); at 20 and 25 ms: 4; at 30 ms and above: 3. Every LB host gets the same value.
 */
export function downTimerAdverts(advertS: number): number {
  return Math.max(3, Math.ceil(Math.round(((VRRP_STALL_TOLERANCE_S + advertS) / advertS) * 1000) / 1000));
}

/** kubeha's vrrp_script on the local HAProxy frontend: seconds between checks, their timeout, failures to fail, successes to recover. */
export const FRONTEND_CHECK = { intervalS: 1, timeoutS: 1, fall: 2, rise: 2 } as const;

/** VRRP priority of the LB host at `lbIndex`: 150, 120, 110, 100, ... (distinct, ordered). */
export function vrrpPriority(lbIndex: number): number {
  return lbIndex <= 0 ? 150 : 130 - 10 * lbIndex;
}

/** Priority arithmetic for a cluster with `lbCount` LB hosts. */
export interface VrrpWeights {
  priorities: number[];
  /** Added to the current holder's priority (`preempt: never` only). */
  holderBonus: number;
  /** Subtracted while haproxy is down or its frontend does not answer (0 = FAULT). */
  penalty: number;
}

/**
 * Chooses bonus and penalty so that (a) a recovered host (at most 150) stays below any holder
 * (at least the lowest priority + bonus) and (b) a failing holder (at most 150 + bonus - penalty)
 * drops below every healthy host. For three hosts: 150/120/110, bonus 50, penalty 100.
 */
export function vrrpWeights(c: KeepalivedCluster): VrrpWeights {
  const n = keepalivedHosts(c).length;
  if (n > MAX_LB_HOSTS) {
    throw new KubehaError(
      `cluster ${c.name} has ${n} lb hosts; kubeha renders keepalived for at most ${MAX_LB_HOSTS}`,
      "three LB hosts are enough for the VIP; give the others a different role",
    );
  }
  const priorities = Array.from({ length: n }, (_, i) => vrrpPriority(i));
  const pMin = priorities[priorities.length - 1] ?? 150;
  const mode = c.endpoint.keepalived.preempt;
  const holderBonus = mode === "never" ? 160 - pMin : 0;
  const penalty = mode === "delay" ? 0 : Math.max(100, 150 + holderBonus - pMin + 10);
  return { priorities, holderBonus, penalty };
}

function fmtInterval(s: number): string {
  return Number.isInteger(s) ? String(s) : String(Number(s.toFixed(2)));
}

/** keepalived.conf for one LB host. Secret only when it carries a VRRPv2 auth_pass. */
export function renderKeepalivedConf(c: KeepalivedCluster, h: Host, secrets: Secrets): RenderedFile {
  const ka = c.endpoint.keepalived;
  const lbs = keepalivedHosts(c);
  const w = vrrpWeights(c);
  const priority = w.priorities[h.lbIndex] ?? vrrpPriority(h.lbIndex);
  const v3 = ka.advertInterval < 1;
  const weight = (n: number) => (n === 0 ? "0" : `-${n}`);
  const L: string[] = [
    header("!", `keepalived VRRP for the Kubernetes API VIP of cluster ${c.name} (host ${h.name}).`).trimEnd(),
    "",
    "global_defs {",
    `    router_id ${c.name}-${h.name}`,
    "    script_user root",
    "    enable_script_security",
  ];
  if (v3) {
    L.push(
      "    vrrp_version 3",
      "    # Sub-second adverts: the keepalived.service drop-in makes keepalived real-time (SCHED_RR), never",
      "    # vrrp_rt_priority (a reload would kill the child). nice -20 counts where a host refuses real-time.",
      "    vrrp_priority -20",
    );
  }
  L.push(
    "}",
    "",
    "# The local HAProxy frontend answers (one TCP connect to 127.0.0.1; keepalived polls at most once a second).",
    "vrrp_script kubeha_haproxy_frontend {",
    `    script "${PATHS.keepalivedCheckScript}"`,
    `    interval ${FRONTEND_CHECK.intervalS}`,
    `    timeout ${FRONTEND_CHECK.timeoutS}`,
    `    fall ${FRONTEND_CHECK.fall}`,
    `    rise ${FRONTEND_CHECK.rise}`,
    `    weight ${weight(w.penalty)}`,
    "}",
    "",
    "# Written by systemd the instant haproxy.service starts (0) or stops/dies (1).",
    "vrrp_track_file kubeha_haproxy_down {",
    `    file ${PATHS.haproxyDownFile}`,
    `    weight ${weight(w.penalty)}`,
    "    init_file 1",
    "}",
  );
  if (w.holderBonus > 0) {
    L.push(
      "",
      "# 1 while this host holds the VIP (notify script): keeps the VIP from bouncing back.",
      "vrrp_track_file kubeha_vip_holder {",
      `    file ${PATHS.vipHolderFile}`,
      `    weight ${w.holderBonus}`,
      "    init_file 0 overwrite",
      "}",
    );
  }
  L.push(
    "",
    "vrrp_instance kube_apiserver {",
    "    # Every host starts as BACKUP: a restarted host never grabs the VIP before hearing the others.",
    "    state BACKUP",
    `    interface ${h.interface}`,
    `    virtual_router_id ${ka.routerId}`,
    `    priority ${priority}`,
    `    advert_int ${fmtInterval(ka.advertInterval)}`,
  );
  const downAdverts = downTimerAdverts(ka.advertInterval);
  if (downAdverts !== 3) {
    L.push(
      `    # A backup takes over after ${downAdverts} missed adverts (VRRP's 3 would leave a held-off holder too little time), the same on every LB host.`,
      `    down_timer_adverts ${downAdverts}`,
    );
  }
  if (ka.preempt === "delay") L.push(`    preempt_delay ${ka.preemptDelaySeconds}`);
  if (ka.unicast) {
    L.push(`    unicast_src_ip ${h.internalAddress}`, "    unicast_peer {");
    for (const p of lbs) if (p.name !== h.name) L.push(`        ${p.internalAddress}`);
    L.push("    }", "    # Adverts from anyone but the peers above are dropped.", "    check_unicast_src");
  }
  if (!v3) {
    L.push("    authentication {", "        auth_type PASS", `        auth_pass ${secrets.vrrpAuthPass}`, "    }");
  } else {
    L.push(
      ka.unicast
        ? "    # VRRPv3 has no authentication (keepalived ignores it); unicast peers + check_unicast_src stand in."
        : "    # VRRPv3 has no authentication (keepalived ignores it): keep VRRP traffic on a trusted segment.",
    );
  }
  L.push(
    "    virtual_ipaddress {",
    `        ${c.endpoint.address}/${c.endpoint.vipPrefix} dev ${h.interface}`,
    "    }",
    "    track_script {",
    "        kubeha_haproxy_frontend",
    "    }",
    "    track_file {",
    "        kubeha_haproxy_down",
  );
  if (w.holderBonus > 0) L.push("        kubeha_vip_holder");
  L.push("    }");
  if (w.holderBonus > 0) {
    for (const s of ["master", "backup", "fault", "stop"]) {
      L.push(`    notify_${s} "${PATHS.keepalivedNotifyScript} ${s.toUpperCase()}"`);
    }
  }
  L.push("}");
  return file(PATHS.keepalivedConf, L.join("\n"), { secret: !v3, restarts: ["keepalived.service"] });
}

/** The check script: does the local HAProxy frontend accept a connection? */
export function renderCheckScript(c: Cluster): RenderedFile {
  const content = [
    "#!/bin/bash",
    header("#", "keepalived check: the local HAProxy frontend accepts connections.").trimEnd(),
    "# Deliberately local: a check through the apiservers would fail on every LB host at once",
    "# (before `kubeadm init`, or when the control plane is down) and could leave no VIP at all.",
    "# keepalived refuses scripts that others can write (enable_script_security): keep mode 0755.",
    `exec timeout 0.8 bash -c 'exec 3<>/dev/tcp/127.0.0.1/${c.endpoint.port}' 2>/dev/null`,
  ].join("\n");
  return file(PATHS.keepalivedCheckScript, content, { mode: 0o755 });
}

/** The notify script that marks the current VIP holder (`preempt: never`). */
export function renderNotifyScript(): RenderedFile {
  const content = [
    "#!/bin/sh",
    header("#", "keepalived notify: record whether this host holds the VIP.").trimEnd(),
    "# Usage (from keepalived.conf): kubeha-notify.sh MASTER|BACKUP|FAULT|STOP",
    "set -eu",
    `mkdir -p ${PATHS.runDir}`,
    'case "${1:-}" in',
    `  MASTER) echo 1 > ${PATHS.vipHolderFile} ;;`,
    `  *) echo 0 > ${PATHS.vipHolderFile} ;;`,
    "esac",
  ].join("\n");
  return file(PATHS.keepalivedNotifyScript, content, { mode: 0o755 });
}

/** The real-time scheduling keepalived runs with (renderKeepalivedDropIn): SCHED_RR at priority 10. */
const KEEPALIVED_SCHED = { policy: "rr", priority: 10 } as const;

/** What keepalived's journal says when the host refuses it real-time scheduling (the unit still runs). */
export const KEEPALIVED_NO_RT = "kubeha: keepalived runs without real-time scheduling (chrt was refused: no CAP_SYS_NICE or no real-time budget here); VRRP adverts may be late on a busy host";

/**
 * The ExecStartPost= shell line that makes keepalived real-time: the main process first, then the
 * children it already forked (the VRRP and checker children; keepalived signals READY after forking
 * them). A child forked later, a respawn after a crash, forks from the real-time parent and inherits
 * the policy (chrt sets no reset-on-fork). In that order no child escapes: one forked before the
 * parent's change is listed by pgrep, which runs after it. `$$` is systemd's literal `$`: the shell
 * reads MAINPID from the environment systemd gives ExecStartPost= commands.
 */
export function keepalivedRtCommand(): string {
  const chrt = `chrt --all-tasks --${KEEPALIVED_SCHED.policy} --pid ${KEEPALIVED_SCHED.priority}`;
  return `/bin/sh -c 'ok=1; ${chrt} "$$MAINPID" || ok=; for p in $$(pgrep -P "$$MAINPID"); do ${chrt} "$$p" || ok=; done; [ -n "$$ok" ] || { echo "${KEEPALIVED_NO_RT}" >&2; exit 1; }'`;
}

/**
 * keepalived.service drop-in. Restart at once after a crash, and remove the VIP as soon as
 * keepalived is gone: a SIGKILLed keepalived leaves its VIP on the interface (two holders until it
 * restarts, lab: 8.6-11.6 s without a restart, ~0.5 s with one), and systemd runs ExecStopPost=
 * the moment the unit's processes are dead, before the restart, whatever killed them. The `-`
 * prefix: the address is usually gone already (a clean stop removes it; a backup never had it),
 * and `ip` then fails ("Error: ipv4: Address not found.", exit 2), which must not fail the unit.
 * Only keepalived's death runs this: the haproxy-dies path (track file, priority) is untouched.
 *
 * Real-time scheduling through an ExecStartPost= chrt, not systemd's CPUSchedulingPolicy=: a host
 * that refuses real-time scheduling (a container without CAP_SYS_NICE, a kernel with
 * CONFIG_RT_GROUP_SCHED and no budget for the service) makes systemd refuse to start the unit with
 * CPUSchedulingPolicy= (status 214/SETSCHEDULER): no VIP at all, where late adverts were the only
 * risk. chrt with the `-` prefix fails alone, with KEEPALIVED_NO_RT in the journal.
 */
export function renderKeepalivedDropIn(c: KeepalivedCluster, h: Host): RenderedFile {
  const content = [
    header("#", "Restart keepalived quickly; drop a dead keepalived's VIP; create the state directory its track files live in; run it real-time.").trimEnd(),
    "[Unit]",
    "StartLimitIntervalSec=60",
    "StartLimitBurst=30",
    "",
    "[Service]",
    `ExecStartPre=/bin/mkdir -p ${PATHS.runDir}`,
    "# Real-time round-robin for keepalived and the VRRP child it forked, so that no busy task in any cgroup",
    "# or container delays an advert. Not keepalived's vrrp_rt_priority: keepalived then never touches",
    "# RLIMIT_RTTIME, which a reload would break. A host that refuses it runs keepalived as before (journal).",
    `ExecStartPost=-${keepalivedRtCommand()}`,
    `ExecStopPost=-${PATHS.ipCommand} addr del ${c.endpoint.address}/${c.endpoint.vipPrefix} dev ${h.interface}`,
    "Restart=always",
    "RestartSec=500ms",
  ].join("\n");
  return file(PATHS.keepalivedDropIn, content, { restarts: ["keepalived.service"] });
}

/** Every keepalived file this host needs (none when it runs no keepalived). */
export function renderKeepalived(c: Cluster, h: Host, secrets: Secrets): RenderedFile[] {
  if (!usesKeepalived(c) || !runsKeepalived(c, h)) return [];
  const out = [renderKeepalivedConf(c, h, secrets), renderCheckScript(c), renderKeepalivedDropIn(c, h)];
  if (vrrpWeights(c).holderBonus > 0) out.push(renderNotifyScript());
  return out;
}
