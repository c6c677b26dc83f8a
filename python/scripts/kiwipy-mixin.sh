#!/usr/bin/env bash
# Runs kiwipy's generic CommunicatorTester (test/utils.py of a kiwipy checkout, loaded UNCHANGED from that file)
# against socketkit_broker talking to a live Node broker, on unix and on tcp, a fresh broker per test.
#   python/scripts/kiwipy-mixin.sh /path/to/kiwipy-checkout [pytest args...]
# Needs the built packages/broker (pnpm --filter @socketkit/broker... build).
set -euo pipefail
KIWIPY="${1:?usage: kiwipy-mixin.sh <path-to-kiwipy-checkout> [pytest args]}"
shift
PY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KIWIPY="$(cd "$KIWIPY" && pwd)"
[[ -f "$KIWIPY/test/utils.py" ]] || { echo "no test/utils.py in $KIWIPY" >&2; exit 2; }
"$PY_DIR/scripts/venv.sh"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cat > "$WORK/test_kiwipy_mixin.py" <<PYEOF
import importlib.util
import sys
import unittest

sys.path.insert(0, "$PY_DIR/tests")
from conftest import Broker, Host  # noqa: E402  (the project's own fixtures: a Node broker per test)

_spec = importlib.util.spec_from_file_location('kiwipy_test_utils', "$KIWIPY/test/utils.py")
_utils = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_utils)
CommunicatorTester = _utils.CommunicatorTester

HOST = None


def setUpModule():
    global HOST
    HOST = Host()


def tearDownModule():
    HOST.close()


class _Base(CommunicatorTester):
    TRANSPORT = None

    def create_communicator(self):
        self._broker = Broker(HOST, self.TRANSPORT)
        return self._broker.connect()

    def destroy_communicator(self, communicator):
        communicator.close()
        self._broker.stop()


class TestUnix(_Base, unittest.TestCase):
    TRANSPORT = 'unix'


class TestTcp(_Base, unittest.TestCase):
    TRANSPORT = 'tcp'
PYEOF
echo "kiwipy checkout: $KIWIPY ($(git -C "$KIWIPY" rev-parse --short HEAD 2>/dev/null || echo 'not a git checkout')), sha256 of test/utils.py: $(sha256sum "$KIWIPY/test/utils.py" | cut -c1-16)"
cd "$WORK"
exec "$PY_DIR/.venv/bin/python" -m pytest -p no:cacheprovider -q "$WORK/test_kiwipy_mixin.py" "$@"
