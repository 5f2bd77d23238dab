/**
 * A node:test reporter that prints, after the run, how long each test file took (wall clock,
 * hooks and lab set-up included), slowest first: CI time is a budget, and this is where it goes.
 * Files run one at a time (--test-concurrency=1), so a file's time is from the previous file's
 * last event to its own last one. Used next to the spec reporter by scripts/test.sh.
 */
export default async function* fileTimes(source) {
  const last = new Map();
  const t0 = Date.now();
  for await (const ev of source) {
    const f = ev.data?.file;
    if (f && ev.type !== "test:enqueue") last.set(f, Date.now());
  }
  const order = [...last.entries()].sort((a, b) => a[1] - b[1]);
  let prev = t0;
  const rows = order.map(([f, t]) => {
    const row = { f: f.replace(`${process.cwd()}/`, ""), ms: t - prev };
    prev = t;
    return row;
  });
  rows.sort((a, b) => b.ms - a.ms);
  const total = rows.reduce((s, r) => s + r.ms, 0);
  yield `\nwall time per test file (slowest first; ${(total / 60000).toFixed(1)} min in all):\n`;
  for (const r of rows.slice(0, 25)) yield `  ${(r.ms / 1000).toFixed(1).padStart(7)} s  ${r.f}\n`;
  if (rows.length > 25) yield `  ${((rows.slice(25).reduce((s, r) => s + r.ms, 0)) / 1000).toFixed(1).padStart(7)} s  the other ${rows.length - 25} files\n`;
}
