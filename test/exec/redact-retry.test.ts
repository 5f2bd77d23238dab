import { test } from "node:test";
import assert from "node:assert/strict";
import { StepError } from "../../src/errors.ts";
import { clearSecrets, redact, redactedTail, registerSecret, stepError } from "../../src/util/redact.ts";
import { retry } from "../../src/util/retry.ts";

test("redact masks registered values, extra values, tokens, certificate keys and PEM private keys", () => {
  registerSecret("hunter22", "hunter2", undefined, "ab");
  try {
    const text = [
      "pass=hunter22 other=hunter2 short=ab",
      "kubeadm join 198.18.0.10:6443 --token k8s0ab.0123456789abcdef --discovery-token-ca-cert-hash sha256:x",
      `--certificate-key ${"0f".repeat(32)}`,
      "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----",
      "vrrp pw12secret",
    ].join("\n");
    assert.equal(
      redact(text, ["pw12secret"]),
      [
        "pass=*** other=*** short=ab",
        "kubeadm join 198.18.0.10:6443 --token *** --discovery-token-ca-cert-hash sha256:x",
        "--certificate-key ***",
        "***",
        "vrrp ***",
      ].join("\n"),
    );
    assert.equal(redactedTail("a\nb\nc hunter22\n\n", [], 2), "b\nc ***");
  } finally {
    clearSecrets();
  }
  assert.equal(redact("hunter22"), "hunter22");
});

test("stepError redacts message, command, stderr and hint", () => {
  const e = stepError("failed: tok", { host: "h", command: "echo tok", exitCode: 2, stderrTail: "tok!" }, "retry tok", ["tok"]);
  assert.ok(e instanceof StepError);
  assert.equal(e.message, "failed: tok"); // 3 characters: below the minimum, would mask ordinary words
  const f = stepError("failed: token1", { command: "echo token1", stderrTail: "token1!" }, "retry token1", ["token1"]);
  assert.deepEqual([f.message, f.detail.command, f.detail.stderrTail, f.hint], ["failed: ***", "echo ***", "***!", "retry ***"]);
});

test("retry: retries until success, with backoff, bounded by attempts", async () => {
  const waits: number[] = [];
  let n = 0;
  const v = await retry(
    async () => {
      if (++n < 3) throw new Error(`fail ${n}`);
      return "ok";
    },
    { attempts: 5, delayMs: 1, backoff: 3, onRetry: (_e, _a, d) => waits.push(d) },
  );
  assert.equal(v, "ok");
  assert.deepEqual(waits, [1, 3]);
  n = 0;
  await assert.rejects(retry(async () => { throw new Error(`fail ${++n}`); }, { attempts: 3, delayMs: 1 }), /fail 3/);
});

test("retry: retryIf false and the deadline stop early", async (t) => {
  let n = 0;
  await assert.rejects(retry(async () => { n++; throw new Error("fatal"); }, { retryIf: () => false, delayMs: 1 }), /fatal/);
  assert.equal(n, 1);
  // The deadline on a fake clock (Date and setTimeout): exact, at any machine load.
  t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: 0 });
  n = 0;
  const waits: number[] = [];
  let outcome: string | undefined;
  let at = -1;
  retry(async () => { n++; throw new Error("slow"); }, { attempts: 100, delayMs: 30, backoff: 1, deadlineMs: 100, onRetry: (_e, _a, w) => waits.push(w) })
    .then(() => (outcome = "resolved"), (e: Error) => ((at = Date.now()), (outcome = e.message)));
  // Let each attempt run (setImmediate is not faked), then move the clock on: bounded to 1 s of fake time.
  for (let ms = 0; outcome === undefined && ms <= 1000; ms += 5) {
    await new Promise((r) => setImmediate(r));
    t.mock.timers.tick(5);
  }
  assert.equal(outcome, "slow");
  // 30 + 30 + 30, then only the 10 ms left before the deadline; the attempt after it is the last.
  assert.deepEqual(waits, [30, 30, 30, 10]);
  assert.equal(n, 5);
  assert.equal(at, 100, "gave up at the deadline, on the fake clock");
});
