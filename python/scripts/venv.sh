#!/usr/bin/env bash
# Creates (or reuses) python/.venv with python/ installed in editable mode and the pinned test requirements.
# Reused as long as requirements-test.txt and pyproject.toml are unchanged (their hash is kept in the venv).
set -euo pipefail
PY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$PY_DIR/.venv"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.socketkit-requirements"
WANT="$(cat "$PY_DIR/requirements-test.txt" "$PY_DIR/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
  exit 0
fi
rm -rf "$VENV"
if ! "$PYTHON" -m venv "$VENV" >/dev/null 2>&1; then
  echo "python: '$PYTHON -m venv' failed: install python3-venv (scripts/ensure-system-deps.sh does it on Debian)" >&2
  exit 1
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$PY_DIR/requirements-test.txt"
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input --no-deps -e "$PY_DIR"
echo "$WANT" > "$STAMP"
