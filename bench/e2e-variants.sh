#!/usr/bin/env bash
# Long e2e variants kept out of CI's run (CI has a time budget; each variant's base case is in
# test/e2e): runs bench/e2e/*.test.ts through the test command, so they build, share its lab
# clean-up and print each file's wall time. Needs root, like every lab test.
#   sudo bash bench/e2e-variants.sh [bench/e2e/FILE.test.ts ...]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then files=("$@"); else files=(bench/e2e/*.test.ts); fi
exec bash scripts/test.sh "${files[@]}"
