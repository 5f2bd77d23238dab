#!/usr/bin/env bash
# The test command (README): type-check, then every test file under test/ with node's test runner.
# Lab tests (test/lab, test/e2e) need root, debootstrap and systemd-nspawn; .ci/run installs them.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc --noEmit
mapfile -t files < <(find test -name '*.test.ts' | sort)
exec node --import tsx --test --test-concurrency=1 --test-reporter=spec "$@" "${files[@]}"
