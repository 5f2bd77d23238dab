/**
 * Uploads by content: compare the sha256 of what we would write with what the host has (one round
 * trip for any number of files), write only what differs (one more round trip), and tell the caller
 * which units to restart because their configuration really changed.
 */
import { createHash } from "node:crypto";
import { shq, type FileUpload, type Transport } from "./transport.ts";

/** Hex sha256 of file content, as `sha256sum` prints it. */
export function sha256(content: string | Buffer): string {
  return createHash("sha256").update(content).digest("hex");
}

/** The files whose content on the host differs from `files` (or that are missing), in input order. */
export async function changedFiles<F extends FileUpload>(t: Transport, files: readonly F[]): Promise<F[]> {
  if (files.length === 0) return [];
  const remote = await t.hashes(files.map((f) => f.path));
  return files.filter((f) => remote.get(f.path) !== sha256(f.content));
}

/**
 * The wet gate of the phase runner (`ctx.wet` bound to a host): in a dry run it records
 * `description` and does not call `fn`.
 */
export type WetGate = (description: string, fn: () => Promise<void>) => Promise<void>;

export interface SyncResult<F> {
  /** Files that differed (written unless dry run). */
  changed: F[];
  /** Units named in the changed files' `restarts`, first mention first, without duplicates. */
  units: string[];
}

/**
 * Writes the files that differ, each behind its own `gate` call ("write PATH"), all in one round
 * trip. Mode changes alone are not detected: modes are set on every write.
 */
export async function syncFiles<F extends FileUpload & { restarts?: string[] }>(
  t: Transport,
  files: readonly F[],
  gate: WetGate,
): Promise<SyncResult<F>> {
  const changed = await changedFiles(t, files);
  const approved: F[] = [];
  for (const f of changed) {
    const size = Buffer.byteLength(f.content);
    await gate(`write ${f.path} (${size} bytes, mode ${f.mode.toString(8).padStart(4, "0")})`, async () => {
      approved.push(f);
    });
  }
  await t.putMany(approved);
  const units = [...new Set(changed.flatMap((f) => f.restarts ?? []))];
  return { changed, units };
}

/**
 * Restarts (or reloads) `units` in order, each behind its own gate call ("restart haproxy"), one
 * round trip each. Pass `SyncResult.units` so services restart only when their files changed.
 */
export async function restartUnits(t: Transport, units: readonly string[], gate: WetGate, action: "restart" | "reload" = "restart"): Promise<void> {
  for (const u of units) {
    await gate(`${action} ${u}`, async () => {
      await t.mustRun(`systemctl ${action} ${shq(u)}`, {
        sudo: true,
        hint: `see why with: journalctl -u ${u} -n 50 --no-pager (on ${t.host})`,
      });
    });
  }
}
