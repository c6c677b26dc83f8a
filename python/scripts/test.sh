#!/usr/bin/env bash
# The Python client's tests, as the test command runs them (python/package.json "test"):
# makes or reuses python/.venv (scripts/venv.sh), runs pytest against live Node brokers started by the fixtures
# (packages/broker must be built), and writes .jest-results.json for scripts/test-all.mjs's totals.
set -uo pipefail
PY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$PY_DIR"
start=$(date +%s)
if ! bash scripts/venv.sh; then
  .venv/bin/python scripts/junit_to_jest.py --setup-failed 2>/dev/null ||
    python3 scripts/junit_to_jest.py --setup-failed
  exit 1
fi
echo "python: venv ready in $(( $(date +%s) - start )) s"
.venv/bin/python -m pytest -p no:cacheprovider -q --junitxml=junit.xml "$@"
status=$?
.venv/bin/python scripts/junit_to_jest.py junit.xml .jest-results.json || status=1
echo "python: tests done in $(( $(date +%s) - start )) s"
exit $status
