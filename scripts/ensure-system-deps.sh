#!/usr/bin/env bash
# Installs the system packages the test suites need when they are missing:
#  - python3-msgpack (Debian) for the cross-language interop tests (run with /usr/bin/python3)
#  - nats-server (Debian) for the @socketkit/nats tests, which start their own servers
#  - python3-venv (Debian) for the Python client's tests (python/scripts/venv.sh makes python/.venv)
#  - openssl (Debian) for the Python client's TLS test, which makes its own CA
# Safe to run repeatedly; does nothing when everything is present.
set -euo pipefail
need=()
if ! /usr/bin/python3 -c 'import msgpack' >/dev/null 2>&1; then need+=(python3-msgpack); fi
if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then need+=(nats-server); fi
if ! command -v openssl >/dev/null 2>&1; then need+=(openssl); fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ ! -x "$root/python/.venv/bin/python" ]; then
  probe="$(mktemp -d)"
  if ! python3 -m venv "$probe/venv" >/dev/null 2>&1; then need+=(python3-venv); fi
  rm -rf "$probe"
fi
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
echo "installing system packages: ${need[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq "${need[@]}" >/dev/null
