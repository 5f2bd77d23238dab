#!/usr/bin/env bash
# The test command (README): type-check, then every test file under test/ with node's test runner.
# Pass test files to run only those. Lab tests (test/lab, test/e2e) need root, debootstrap and
# systemd-nspawn; .ci/run installs them. The CLI under test (bin/kubeha.mjs) runs the compiled
# dist/, so the build comes first.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent build
npx tsc --noEmit
if [ $# -gt 0 ]; then files=("$@"); else mapfile -t files < <(find test -name '*.test.ts' | sort); fi

# Several e2e files share one lab within this run (test/helpers/e2e-lab.ts sharedLab): the run's
# name tells a lab of this run from one a killed run left; the lab goes down when the run ends.
export KUBEHA_TEST_RUN="$$-$(date +%s)"
shared="${KUBEHA_E2E_SHARED_LAB:-kt-shared}"
shared_down() {
  if [ -e "/run/kubeha/lab/$shared" ] || [ -e "/var/lib/kubeha/lab/$shared" ] || [ -e "${TMPDIR:-/tmp}/kubeha-$shared-shared" ]; then
    node bin/kubeha.mjs lab down --name "$shared" >/dev/null || echo "test.sh: the shared lab $shared was not fully removed" >&2
    rm -rf "${TMPDIR:-/tmp}/kubeha-$shared-shared"
  fi
}
trap shared_down EXIT
# Two chains at once, one per core: the files that need a lab (test/e2e, test/lab) one after the
# other, and beside them the rest (no lab, no root-wide state), also one at a time. The suite must
# pass with the other core busy anyway (bench/soak.sh), and CI's time is a budget. The unit chain's
# output is printed after the lab chain's, as its own block. Each chain: the spec reporter, then
# each file's wall time (test/helpers/file-times.mjs): where CI's time goes.
run_files() {
  node --import tsx --test --test-concurrency=1 \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=./test/helpers/file-times.mjs --test-reporter-destination=stdout \
    "$@"
}
labs=(); units=()
for f in "${files[@]}"; do
  if [[ "$f" =~ (^|/)test/(e2e|lab)/ ]]; then labs+=("$f"); else units+=("$f"); fi
done
if [ ${#labs[@]} -eq 0 ] || [ ${#units[@]} -eq 0 ]; then
  run_files "${files[@]}"
  exit
fi
unit_log=$(mktemp "${TMPDIR:-/tmp}/kubeha-unit-tests.XXXXXX")
trap 'shared_down; rm -f "$unit_log"' EXIT
run_files "${units[@]}" >"$unit_log" 2>&1 &
unit_pid=$!
lab_rc=0
run_files "${labs[@]}" || lab_rc=$?
unit_rc=0
wait "$unit_pid" || unit_rc=$?
echo
echo "== test.sh: the ${#units[@]} files without a lab (run beside the lab files): exit $unit_rc =="
cat "$unit_log"
echo "test.sh: ${#labs[@]} lab files exit $lab_rc, ${#units[@]} other files exit $unit_rc"
[ "$lab_rc" = 0 ] && [ "$unit_rc" = 0 ]
