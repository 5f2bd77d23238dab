#!/usr/bin/env bash
# Soak: runs the test suite K times with one core kept busy (stress-ng --cpu 1, Debian) and prints,
# per test, how many runs it passed. A test that does not pass every run is a flake to fix.
#   bash bench/soak.sh [K] [test files...]      (K defaults to 3; no files = the whole suite)
# Runs add up per code: <code> is a hash of every tracked file but docs/ and *.md. Each run leaves
#   test-output/soak/<code>/runN.log   the suite's whole output (not tracked), and
#   docs/soak/<code>/runN.tsv          its result per test: "pass|fail<TAB>name" lines under a
#                                      "# ..." header (commit, exit status, seconds, start time).
# The tally is small and lives under docs/ so it can be committed without changing <code>: a
# whole-suite run takes ~50 min on 2 cores with the neighbour, so K >= 3 may take several sittings,
# each on a fresh checkout, and the committed tallies of earlier sittings count towards the total.
# A tree with uncommitted changes gets a tally of its own per invocation, under test-output/ only.
# Lab/e2e tests need root.
set -euo pipefail
cd "$(dirname "$0")/.."
k=${1:-3}
shift || true
[[ "$k" =~ ^[1-9][0-9]*$ ]] || { echo "soak.sh: K must be a positive integer, got '$k'" >&2; exit 2; }
command -v stress-ng >/dev/null || { echo "soak.sh: stress-ng is missing (apt-get install stress-ng, or bash scripts/setup.sh)" >&2; exit 2; }

rev="code-$(git ls-files -s -- ':!:docs/**' ':!:*.md' | sha256sum | cut -c1-12)"
tallies=docs/soak
if [ -n "$(git status --porcelain --untracked-files=no -- ':!:docs/**' ':!:*.md')" ]; then
  rev="$rev-dirty-$(date +%s)"
  tallies=test-output/soak
fi
[ $# -eq 0 ] || rev="$rev-files-$(printf '%s\n' "$@" | sha256sum | cut -c1-8)"
commit=$(git rev-parse --short=12 HEAD)
echo "soak: commit $commit, $rev"
logs="test-output/soak/$rev"
tally="$tallies/$rev"
mkdir -p "$logs" "$tally"
first=$(( $(find "$tally" -maxdepth 1 -name 'run*.tsv' | wc -l) + 1 ))
[ "$first" = 1 ] || echo "soak: $(( first - 1 )) earlier run(s) of this code in $tally count too"
stress-ng --cpu 1 --quiet &
stress=$!
trap 'kill "$stress" 2>/dev/null; wait "$stress" 2>/dev/null || true' EXIT

# spec reporter lines: "✔ name (12.3ms)" / "✖ name (12.3ms)", indented for subtests. The
# "failing tests:" recap at the end of a chain repeats its failures: skip from there to the next
# chain's block (scripts/test.sh prints the files without a lab after a "== test.sh:" line).
results() {
  awk '/^✖ failing tests:/ { skip = 1 } /^== test\.sh:/ { skip = 0 } !skip && /^ *(✔|✖) / { ok = ($0 ~ /✔/); sub(/^ *(✔|✖) /, ""); sub(/ \([0-9.]+m?s\)$/, ""); print (ok ? "pass" : "fail") "\t" $0 }' "$1"
}

for i in $(seq "$first" $(( first + k - 1 ))); do
  start=$(date +%s)
  began=$(date -u +%FT%TZ)
  # The suite's exit status is summarised below; a failing run must not stop the soak.
  bash scripts/test.sh "$@" >"$logs/run$i.log" 2>&1 && rc=0 || rc=$?
  secs=$(( $(date +%s) - start ))
  { echo "# commit $commit, exit $rc, $secs s, started $began, stress-ng --cpu 1"; results "$logs/run$i.log"; } >"$tally/run$i.tsv"
  echo "soak: run $i (of $k this time) at $rev: exit $rc in $secs s (log $logs/run$i.log, results $tally/run$i.tsv)"
done

total=$(( first + k - 1 ))
echo "soak: the $total run(s) of $rev:"
sed -s -n '1s/^# /  /p' $(for i in $(seq 1 "$total"); do echo "$tally/run$i.tsv"; done)
failed_runs=$(for i in $(seq 1 "$total"); do head -1 "$tally/run$i.tsv"; done | grep -vc ', exit 0,' || true)
for i in $(seq 1 "$total"); do
  grep -v '^#' "$tally/run$i.tsv" || true
done | awk -F'\t' -v k="$total" '
  { seen[$2] = 1; if ($1 == "pass") pass[$2]++; else fail[$2]++ }
  END {
    n = 0; bad = 0
    for (t in seen) { n++; p = pass[t] + 0; if (p < k) { bad++; printf "FLAKY %d/%d  %s\n", p, k, t } }
    for (t in seen) { p = pass[t] + 0; if (p == k) printf "ok    %d/%d  %s\n", p, k, t }
    printf "soak: %d tests, %d passed all %d runs, %d did not\n", n, n - bad, k, bad
    exit bad > 0
  }' && flaky=0 || flaky=1
[ "$failed_runs" = 0 ] || echo "soak: $failed_runs run(s) of $total exited non-zero (see their headers above)"
if [[ "$tally" == docs/* ]]; then
  echo "soak: commit $tally so that a later sitting on the same code counts these runs"
fi
[ "$flaky" = 0 ] && [ "$failed_runs" = 0 ]
