/**
 * Checks rendered load-balancer files with the real tools: `haproxy -c`, `keepalived -t` and
 * `systemd-analyze verify` (the systemd drop-ins).
 * Shared by the render goldens and the drill profiles. Nothing outlives the call: files go to a
 * throw-away directory, and keepalived runs in a private mount + network namespace.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import type { RenderedFile } from "../../src/render/types.ts";

export interface ToolResult {
  code: number;
  /** stdout then stderr. */
  out: string;
}

/**
 * Runs a real tool, bounded: coreutils `timeout` signals the tool's whole process group (keepalived
 * under unshare and sh included), which spawnSync's own timeout does not, and spawnSync waits for
 * every holder of the output pipes. spawnSync's timeout stays as the backstop.
 */
function run(cmd: string, args: string[]): ToolResult {
  const r = spawnSync("timeout", ["-k", "5", "60", cmd, ...args], { encoding: "utf8", timeout: 90_000 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}${r.status === 124 ? `\n${cmd} did not finish within 60 s` : ""}` };
}

function withTmp<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "kubeha-lbcheck-"));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `haproxy -c -f` on a haproxy.cfg's content. */
export function haproxyCheck(cfg: string): ToolResult {
  return withTmp((dir) => {
    writeFileSync(join(dir, "haproxy.cfg"), cfg);
    return run("haproxy", ["-c", "-f", join(dir, "haproxy.cfg")]);
  });
}

/**
 * `keepalived -t` on the `/etc/keepalived/` files among `files` (keepalived.conf and the scripts it
 * names, with their modes), with those files at their real paths and an interface named `iface`
 * present: a private mount + network namespace, so the real /etc/keepalived and interfaces are
 * untouched and everything disappears with the process.
 */
export function keepalivedCheck(files: RenderedFile[], iface: string): ToolResult {
  return withTmp((dir) => {
    const etc = join(dir, "keepalived");
    mkdirSync(etc, { mode: 0o755 });
    for (const f of files.filter((f) => f.path.startsWith("/etc/keepalived/"))) {
      const p = join(etc, f.path.slice("/etc/keepalived/".length));
      writeFileSync(p, f.content);
      chmodSync(p, f.mode);
    }
    chmodSync(dir, 0o755);
    const script = `ip link add ${iface} type veth peer name khpeer0 && ip link set ${iface} up && mount --bind ${etc} /etc/keepalived && keepalived -t -l -f /etc/keepalived/keepalived.conf`;
    return run("unshare", ["--mount", "--net", "sh", "-c", script]);
  });
}

/**
 * `systemd-analyze verify` of a Debian unit (its file under /lib/systemd/system) with `dropIn`'s
 * content as `UNIT.d/10-kubeha.conf`, from a throw-away unit directory. systemd-analyze exits 0
 * even when it ignores a bad line, so callers assert `out` is empty.
 */
export function systemdVerify(unit: string, dropIn: string): ToolResult {
  return withTmp((dir) => {
    writeFileSync(join(dir, unit), readFileSync(join("/lib/systemd/system", unit)));
    mkdirSync(join(dir, `${unit}.d`));
    writeFileSync(join(dir, `${unit}.d`, "10-kubeha.conf"), dropIn);
    const r = spawnSync("systemd-analyze", ["verify", join(dir, unit)], {
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` },
    });
    if (r.error) throw r.error;
    return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
  });
}
