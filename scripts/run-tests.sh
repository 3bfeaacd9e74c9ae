#!/usr/bin/env bash
# Runs the compiled tests of one tier: unit (beside the code, plus tests/*.test.js) or
# integration (tests/integration and tests/interop, which start real peers).
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-unit}" in
  unit) files=$(find dist/src -name '*.test.js' | sort; find dist/tests -maxdepth 1 -name '*.test.js' | sort); conc=2 ;;
  integration) files=$(find dist/tests -mindepth 2 -name '*.test.js' | sort); conc=1 ;;
  *) echo "usage: run-tests.sh unit|integration" >&2; exit 2 ;;
esac
[ -n "$files" ] || { echo "no $1 tests found (did the build run?)" >&2; exit 1; }
# shellcheck disable=SC2086
exec node --enable-source-maps --test --test-concurrency="$conc" $files
