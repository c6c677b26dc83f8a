#!/usr/bin/env bash
# The full mixed-fleet run: 1,000 tasks from Node submitters to Python workers and 1,000 from Python submitters
# to Node workers (0 lost, 0 duplicated, counted by name on both sides), plus RPC and broadcasts both ways.
# The test command runs the same tests with 200 tasks. Needs the built packages/broker.
set -euo pipefail
PY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$PY_DIR/scripts/venv.sh"
cd "$PY_DIR"
MIXED_TASKS="${MIXED_TASKS:-1000}" exec .venv/bin/python -m pytest -p no:cacheprovider -q tests/test_mixed.py "$@"
