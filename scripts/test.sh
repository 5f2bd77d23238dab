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
exec node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
