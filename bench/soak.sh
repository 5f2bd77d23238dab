#!/usr/bin/env bash
# Soak: runs the test suite K times with one core kept busy (stress-ng --cpu 1, Debian) and prints,
# per test, how many runs it passed. A test that does not pass every run is a flake to fix.
#   bash bench/soak.sh [K] [test files...]      (K defaults to 3; no files = the whole suite)
# Logs go to test-output/soak/code-<hash>/runN.log, and runs add up per code: <hash> covers every
# tracked file but docs/ and *.md, so two invocations with K=2 and K=1 on one commit, or on two
# commits that differ only in documentation, report 3 runs (a whole-suite run takes ~50 min on 2
# cores with the neighbour, so K >= 3 may not fit in one sitting). A tree with uncommitted changes
# gets a directory of its own per run.
# Lab/e2e tests need root.
set -euo pipefail
cd "$(dirname "$0")/.."
k=${1:-3}
shift || true
[[ "$k" =~ ^[1-9][0-9]*$ ]] || { echo "soak.sh: K must be a positive integer, got '$k'" >&2; exit 2; }
command -v stress-ng >/dev/null || { echo "soak.sh: stress-ng is missing (apt-get install stress-ng, or bash scripts/setup.sh)" >&2; exit 2; }

rev="code-$(git ls-files -s -- ':!:docs/**' ':!:*.md' | sha256sum | cut -c1-12)"
[ -z "$(git status --porcelain --untracked-files=no)" ] || rev="$rev-dirty-$(date +%s)"
echo "soak: commit $(git rev-parse --short=12 HEAD), code $rev"
[ $# -eq 0 ] || rev="$rev-files-$(printf '%s\n' "$@" | sha256sum | cut -c1-8)"
out="test-output/soak/$rev"
mkdir -p "$out"
first=$(( $(find "$out" -maxdepth 1 -name 'run*.log' | wc -l) + 1 ))
stress-ng --cpu 1 --quiet &
stress=$!
trap 'kill "$stress" 2>/dev/null; wait "$stress" 2>/dev/null || true' EXIT

for i in $(seq "$first" $(( first + k - 1 ))); do
  start=$(date +%s)
  # The suite's exit status is summarised below; a failing run must not stop the soak.
  bash scripts/test.sh "$@" >"$out/run$i.log" 2>&1 && rc=0 || rc=$?
  echo "soak: run $i (of $k this time) at $rev: exit $rc in $(( $(date +%s) - start )) s (log $out/run$i.log)"
done

# spec reporter lines: "✔ name (12.3ms)" / "✖ name (12.3ms)", indented for subtests. The
# "failing tests:" recap at the end of a chain repeats its failures: skip from there to the next
# chain's block (scripts/test.sh prints the files without a lab after a "== test.sh:" line).
total=$(( first + k - 1 ))
for i in $(seq 1 "$total"); do
  awk '/^✖ failing tests:/ { skip = 1 } /^== test\.sh:/ { skip = 0 } !skip && /^ *(✔|✖) / { ok = ($0 ~ /✔/); sub(/^ *(✔|✖) /, ""); sub(/ \([0-9.]+m?s\)$/, ""); print (ok ? "pass" : "fail") "\t" $0 }' "$out/run$i.log"
done | awk -F'\t' -v k="$total" '
  { seen[$2] = 1; if ($1 == "pass") pass[$2]++; else fail[$2]++ }
  END {
    n = 0; bad = 0
    for (t in seen) { n++; p = pass[t] + 0; if (p < k) { bad++; printf "FLAKY %d/%d  %s\n", p, k, t } }
    for (t in seen) { p = pass[t] + 0; if (p == k) printf "ok    %d/%d  %s\n", p, k, t }
    printf "soak: %d tests, %d passed all %d runs, %d did not\n", n, n - bad, k, bad
    exit bad > 0
  }'
