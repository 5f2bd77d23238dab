/** Nearest-rank percentiles and figure distributions (src/drill/stats.ts), edge cases n = 1, 2, 10. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { distribution, formatDistribution, percentile } from "../../src/drill/stats.ts";

test("n = 1: every percentile is the one value", () => {
  assert.equal(percentile([381], 50), 381);
  assert.equal(percentile([381], 95), 381);
  assert.equal(percentile([381], 100), 381);
  assert.deepEqual(distribution([381]), { n: 1, min: 381, p50: 381, p95: 381, max: 381 });
});

test("n = 2: p50 is the smaller value (rank ceil(1) = 1), p95 the larger (rank ceil(1.9) = 2)", () => {
  assert.equal(percentile([900, 100], 50), 100);
  assert.equal(percentile([900, 100], 95), 900);
  assert.equal(percentile([900, 100], 51), 900);
});

test("n = 10: p50 is the 5th smallest, p95 the largest, p90 the 9th; input order does not matter", () => {
  const xs = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5].map((x) => x * 100);
  assert.equal(percentile(xs, 50), 500);
  assert.equal(percentile(xs, 90), 900);
  assert.equal(percentile(xs, 95), 1000);
  assert.equal(percentile(xs, 10), 100);
  assert.deepEqual(distribution(xs), { n: 10, min: 100, p50: 500, p95: 1000, max: 1000 });
  assert.deepEqual(xs.slice(0, 3), [1000, 100, 900], "the input was not sorted in place");
});

test("n = 20: p95 is the 19th value, below the max", () => {
  const xs = Array.from({ length: 20 }, (_, i) => i + 1);
  assert.equal(percentile(xs, 95), 19);
  assert.equal(distribution(xs)!.max, 20);
});

test("null figures (the VIP never moved) are left out of n; all null gives no distribution", () => {
  assert.deepEqual(distribution([null, 300, null, 100]), { n: 2, min: 100, p50: 100, p95: 300, max: 300 });
  assert.equal(distribution([null, null]), null);
  assert.equal(distribution([]), null);
  assert.equal(formatDistribution(null), "-");
  assert.equal(formatDistribution(distribution([4, 1, 2])), "1 / 2 / 4 / 4");
});

test("an empty list or a percentile outside (0, 100] is an error, not a number", () => {
  assert.throws(() => percentile([], 50), /empty/);
  assert.throws(() => percentile([1], 0), /\(0, 100\]/);
  assert.throws(() => percentile([1], 101), /\(0, 100\]/);
  assert.throws(() => percentile([1], Number.NaN), /\(0, 100\]/);
});
