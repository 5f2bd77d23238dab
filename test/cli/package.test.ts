/**
 * The npm package as a user gets it: `npm pack`, a global install of the tarball into a temporary
 * prefix (dependencies from the npm cache, the registry only for what the cache lacks), the library
 * imported from plain Node (no TypeScript loader) and the installed CLI run. The tarball holds the
 * compiled dist/ (scripts/test.sh builds it first), never test/, bench/ or scripts/.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "../helpers/cli.ts";

const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { name: string; version: string; files: string[] };

function run(cmd: string, args: string[], opts: { cwd: string; timeoutMs: number; env?: NodeJS.ProcessEnv }) {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, encoding: "utf8", timeout: opts.timeoutMs, env: { ...process.env, NO_COLOR: "1", ...opts.env } });
  return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

test("npm pack -> npm install -g into a prefix -> import from plain Node and run the CLI", { timeout: 300_000 }, () => {
  // tmpfs when there is one: extracting the dependencies is the slow part on a busy disk.
  const root = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "kubeha-pack-"));
  try {
    assert.ok(existsSync(join(REPO, "dist/index.js")), "dist/ is built (npm run build; scripts/test.sh does it)");
    // prepack would build again; the build is already fresh here.
    const pack = run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", root], { cwd: REPO, timeoutMs: 120_000 });
    assert.equal(pack.code, 0, pack.stderr);
    const [info] = JSON.parse(pack.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = info!.files.map((f) => f.path);
    for (const f of ["LICENSE", "README.md", "package.json", "bin/kubeha.mjs", "dist/index.js", "dist/index.d.ts", "dist/cli/main.js", "cluster.schema.json", "status.schema.json", "docs/library.md", "examples/seed-000-single-proxy.yaml"]) {
      assert.ok(files.includes(f), `${f} is in the package`);
    }
    for (const f of files) {
      assert.doesNotMatch(f, /^(test|bench|scripts|src|node_modules)\//, `${f} must not be shipped`);
      assert.ok(!f.endsWith(".ts") || f.endsWith(".d.ts"), `${f}: no TypeScript sources`);
    }

    const prefix = join(root, "prefix");
    const install = run("npm", ["install", "-g", "--prefix", prefix, "--prefer-offline", "--no-audit", "--no-fund", join(root, info!.filename)], { cwd: root, timeoutMs: 240_000 });
    assert.equal(install.code, 0, install.stderr);
    const installed = join(prefix, "lib/node_modules", pkg.name);
    assert.ok(!existsSync(join(installed, "node_modules/tsx")), "tsx is not a run-time dependency");

    // The library, from plain Node: ESM import by package name, typed entry points present.
    const lib = run(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { loadCluster, renderCluster, apply, status, drill, Reporter, version, ValidationError } from "kubeha";
         const { cluster } = await loadCluster(${JSON.stringify(join(installed, "examples/seed-000-single-proxy.yaml"))});
         for (const f of [renderCluster, apply, status, drill]) if (typeof f !== "function") throw new Error("missing export");
         let events = 0; const r = new Reporter(); r.on(() => events++); r.emit({ type: "note", message: "x" });
         console.log(JSON.stringify({ hosts: cluster.hosts.length, version: version(), events, err: new ValidationError("f", []).exitCode }));`,
      ],
      { cwd: join(prefix, "lib"), timeoutMs: 60_000 },
    );
    assert.equal(lib.code, 0, lib.stderr);
    assert.deepEqual(JSON.parse(lib.stdout), { hosts: 6, version: pkg.version, events: 1, err: 3 });

    // The installed CLI, with a TMPDIR it cannot write (tsx used to die there even for --version).
    const bin = join(prefix, "bin/kubeha");
    const env = { TMPDIR: "/proc/nope" };
    const v = run(bin, ["--version"], { cwd: root, timeoutMs: 60_000, env });
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout, `kubeha ${pkg.version}\n`);
    const val = run(bin, ["validate", join(installed, "examples/seed-002-colocated-16443.yaml")], { cwd: root, timeoutMs: 60_000, env });
    assert.equal(val.code, 0, val.stderr);
    assert.match(val.stdout, /: valid \(/);
    const sch = run(bin, ["schema"], { cwd: root, timeoutMs: 60_000, env });
    assert.equal(sch.code, 0, sch.stderr);
    assert.equal(JSON.parse(sch.stdout).title, "kubeha cluster file");
    const lab = run(bin, ["lab", "up", "--kube-standins", "--name", "nopack15"], { cwd: root, timeoutMs: 60_000, env });
    assert.equal(lab.code, 2, lab.stderr);
    assert.match(lab.stderr, /not in the npm package/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
