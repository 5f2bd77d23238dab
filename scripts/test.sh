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
# The spec reporter, then each file's wall time (test/helpers/file-times.mjs): where CI's time goes.
node --import tsx --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=./test/helpers/file-times.mjs --test-reporter-destination=stdout \
  "${files[@]}"
