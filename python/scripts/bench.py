"""Throughput with Python workers beside Node workers (report only; no target yet).

    python/.venv/bin/python python/scripts/bench.py [--tasks 4000] [--json]

One Node broker (unix, memory mode); no-op tasks sent by one Node submitter (all at once); the workers change:
4 Node, 2 Node + 2 Python, 4 Python, each prefetch 8. Prints tasks/s per fleet (and JSON with --json).
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests'))
from conftest import Broker, Host, NODE, NODE_PEER, PY_PEER, Peer  # noqa: E402  pylint: disable=wrong-import-position

FLEETS = [('4 Node workers', 4, 0), ('2 Node + 2 Python workers', 2, 2), ('4 Python workers', 0, 4)]


def run(host, tasks, node_workers, py_workers, transport):
    b = Broker(host, transport)
    peers = []
    try:
        for _ in range(node_workers):
            peers.append(Peer([NODE, NODE_PEER, json.dumps({'role': 'worker', 'prefetch': 8, 'conn': b.node_conn})]))
        for _ in range(py_workers):
            peers.append(Peer([sys.executable, PY_PEER, json.dumps({'role': 'worker', 'prefetch': 8, 'url': b.url})]))
        for p in peers:
            p.wait_for('ready', timeout=30)
        sub = Peer([NODE, NODE_PEER, json.dumps({'role': 'submitter', 'count': tasks, 'prefix': 'b',
                                                 'conn': b.node_conn})])
        peers.append(sub)
        done = sub.wait_for('done', timeout=300)
        by = {}
        for o in sub.of('outcome'):
            who = o['result']['by']
            by[who] = by.get(who, 0) + 1
        return {'tasks': tasks, 'ok': done['ok'], 'failed': done['failed'], 'seconds': done['elapsedMs'] / 1000,
                'tasksPerSecond': round(done['ok'] / (done['elapsedMs'] / 1000)), 'executedBy': by}
    finally:
        for p in peers:
            p.stop()
        b.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--tasks', type=int, default=4000)
    ap.add_argument('--transport', default='unix')
    ap.add_argument('--json', action='store_true')
    args = ap.parse_args()
    host = Host()
    rows = []
    try:
        run(host, max(200, args.tasks // 4), 2, 2, args.transport)  # warm-up (JIT, page cache), not reported
        for name, nw, pw in FLEETS:
            r = run(host, args.tasks, nw, pw, args.transport)
            rows.append(dict(r, fleet=name))
            if not args.json:
                print(f"{name:28s} {r['tasksPerSecond']:>7,} tasks/s  ({r['ok']}/{r['tasks']} in {r['seconds']:.2f} s, "
                      f"executed by {r['executedBy']})", flush=True)
    finally:
        host.close()
    if args.json:
        print(json.dumps({'scenario': 'broker tasks/s, Python workers beside Node workers', 'transport': args.transport,
                          'at': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()), 'rows': rows}, indent=2))


if __name__ == '__main__':
    main()
