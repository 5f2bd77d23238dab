/** Shared by the render tests: fixture secrets, the clusters under test, running the real tools. */
import { readFileSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { spawnSync } from "node:child_process";
import { parseCluster } from "../../src/spec/read.ts";
import type { Cluster } from "../../src/spec/model.ts";
import type { Secrets } from "../../src/render/types.ts";

/** Fixed, obviously fake secrets so goldens are deterministic. */
export const FIXTURE_SECRETS: Secrets = {
  join: {
    token: "abcdef.0123456789abcdef",
    tokenTtlHours: 24,
    certificateKey: "f".repeat(8) + "0123456789abcdef".repeat(3) + "e".repeat(8),
    caCertHash: "sha256:" + "0a".repeat(32),
    issuedAt: "2025-01-01T00:00:00.000Z",
  },
  haproxyStatsPassword: "FixtureStatsPassw0rd",
  vrrpAuthPass: "Fixture8",
  // base64 of 32 bytes, as newEncryptionKey makes them ("FixtureEncryptionKey" padded with dots).
  encryptionKey: Buffer.from("FixtureEncryptionKey............").toString("base64"),
};

export const REPO = join(import.meta.dirname, "..", "..");

/** Every cluster rendered by the golden tests: examples/*.yaml plus test/render/fixtures/*.yaml. */
export function clustersUnderTest(): Array<{ name: string; cluster: Cluster }> {
  const dirs: Array<[string, string]> = [
    [join(REPO, "examples"), ""],
    [join(import.meta.dirname, "fixtures"), "fixture-"],
  ];
  const out: Array<{ name: string; cluster: Cluster }> = [];
  for (const [dir, prefix] of dirs) {
    for (const f of readdirSync(dir).filter((x) => x.endsWith(".yaml")).sort()) {
      const path = join(dir, f);
      const r = parseCluster(readFileSync(path, "utf8"), { sourcePath: path, home: "/home/kubeha-test" });
      const errors = r.problems.filter((p) => p.severity === "error");
      if (!r.cluster || errors.length > 0) throw new Error(`${path}: ${errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`);
      out.push({ name: prefix + basename(f, ".yaml"), cluster: r.cluster });
    }
  }
  return out;
}

/**
 * Runs a real tool, bounded: coreutils `timeout` signals the tool's whole process group, which
 * spawnSync's own timeout does not (it kills the direct child and then waits for every holder of
 * the output pipes). spawnSync's timeout stays as the backstop.
 */
export function run(cmd: string, args: string[], opts: { input?: string } = {}): { code: number; out: string } {
  const r = spawnSync("timeout", ["-k", "5", "60", cmd, ...args], { encoding: "utf8", input: opts.input, timeout: 90_000 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}${r.status === 124 ? `\n${cmd} did not finish within 60 s` : ""}` };
}
