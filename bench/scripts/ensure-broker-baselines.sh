#!/bin/sh
# Issue 25's broker bench: installs the servers of its baselines, rabbitmq-server and redis-server
# (Debian packages), when they are missing. The bench starts them itself, on private ports and
# directories; it never uses a system service. Never fails the bench: without apt, root or the
# network the baselines are skipped by the run, with a note saying why.
# BENCH_NO_APT=1 skips the install.
missing=""
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || [ -x /usr/sbin/rabbitmq-server ] || missing="$missing rabbitmq-server"
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing="$missing redis-server"
[ -z "$missing" ] && exit 0
if [ "${BENCH_NO_APT:-0}" = "1" ]; then
  echo "ensure-broker-baselines: BENCH_NO_APT=1, not installing:$missing (those baselines will be skipped)" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-broker-baselines: no apt-get; install$missing yourself (those baselines will be skipped)" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "ensure-broker-baselines: not root; run: sudo apt-get install$missing (those baselines will be skipped)" >&2
    exit 0
  fi
fi
# Where systemd runs, Debian also starts the packages' system services; the bench does not use them.
echo "ensure-broker-baselines: installing$missing with apt-get (the bench starts its own instances)" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2 ||
  echo "ensure-broker-baselines: apt-get failed; those baselines will be skipped" >&2
exit 0
