"""Fixtures: a live Node broker (packages/broker dist) per test, on unix and tcp, and Node/Python peer processes."""

import itertools
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import pytest

import socketkit_broker

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_PEER = os.path.join(HERE, 'node_peer.mjs')
PY_PEER = os.path.join(HERE, 'py_peer.py')
NODE = os.environ.get('NODE', shutil.which('node') or 'node')
ENV = dict(os.environ, SOCKET_LOG_LEVEL='silent')
# Short heartbeats so lost workers are noticed quickly (the broker drops a silent peer after 3 x interval).
HEARTBEAT = {'heartbeatIntervalMs': 300, 'heartbeatTimeoutMs': 1200}


class Host:
    """One Node process hosting brokers started on demand (one per test)."""

    def __init__(self):
        self.proc = subprocess.Popen([NODE, NODE_PEER, json.dumps({'role': 'host'})], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=ENV, text=True, bufsize=1)
        self.replies = {}
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self.ready = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        assert self.ready.get(timeout=30)['ev'] == 'ready'

    def _read(self):
        for line in self.proc.stdout:
            ev = json.loads(line)
            if 'id' in ev:
                with self.lock:
                    q = self.replies.setdefault(ev['id'], queue.Queue())
                q.put(ev)
            else:
                self.ready.put(ev)

    def command(self, cmd, **kw):
        bid = kw.pop('id', None) or next(self.ids)
        with self.lock:
            q = self.replies.setdefault(bid, queue.Queue())
        self.proc.stdin.write(json.dumps(dict(cmd=cmd, id=bid, **kw)) + '\n')
        self.proc.stdin.flush()
        ev = q.get(timeout=30)
        if ev['ev'] == 'error':
            raise RuntimeError(f"broker host: {ev['code']}: {ev['message']}")
        return ev

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Broker:
    """A broker of the host: ``url``, ``node_conn`` (options for a Node connect()), ``connect(**kw)``."""

    seq = itertools.count(1)

    def __init__(self, host: Host, transport: str, **options):
        self.host = host
        self.transport = transport
        self.dir = tempfile.mkdtemp(prefix='skpy-')
        self.event = f'pyb{os.getpid()}x{next(Broker.seq)}'
        server = dict(HEARTBEAT, transport=transport, eventName=self.event, **options)
        if transport == 'unix':
            server['socketDir'] = self.dir
        else:
            server.update(port=0, host='127.0.0.1', socketDir=self.dir)
        self.options = server
        ev = host.command('start', options=server)
        self.id = ev['id']
        self.port = ev.get('port')
        if transport == 'tcp':
            self.options = dict(server, port=self.port)
        self.node_conn = dict(HEARTBEAT, transport=transport, eventName=self.event)
        if transport == 'unix':
            self.node_conn['socketDir'] = self.dir
            self.url = f'unix://{self.dir}?event={self.event}'
        else:
            self.node_conn.update(host='127.0.0.1', port=self.port)
            self.url = f'tcp://127.0.0.1:{self.port}?event={self.event}'
        self.comms = []

    def connect(self, **kw):
        kw.setdefault('heartbeat_interval', 0.3)
        kw.setdefault('heartbeat_timeout', 1.2)
        comm = socketkit_broker.connect(self.url, **kw)
        self.comms.append(comm)
        return comm

    def restart(self):
        """Stops the broker (memory mode: it forgets everything) and starts it again on the same address."""
        self.host.command('stop', id=self.id)
        self.host.command('start', id=self.id, options=self.options)

    def server_totals(self):
        return self.host.command('serverTotals', id=self.id)['totals']

    def stats(self):
        return self.host.command('stats', id=self.id)['stats']

    def stop(self):
        for c in self.comms:
            c.close()
        self.host.command('stop', id=self.id)
        shutil.rmtree(self.dir, ignore_errors=True)


class Peer:
    """A child process printing one JSON event a line (Node's node_peer.mjs or Python's py_peer.py)."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, env=ENV, text=True, bufsize=1)
        self.events = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            with self.cond:
                self.events.append(ev)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_for(self, pred, timeout=20.0):
        if isinstance(pred, str):
            name = pred
            pred = lambda e: e['ev'] == name  # noqa: E731
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for e in self.events:
                    if pred(e):
                        return e
                if not self.reader.is_alive():
                    raise AssertionError(f'peer exited ({self.proc.poll()}); last events {self.events[-5:]}')
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f'no matching event in {timeout} s; last events {self.events[-5:]}')
                self.cond.wait(min(left, 0.5))

    def count(self, name):
        with self.cond:
            return sum(1 for e in self.events if e['ev'] == name)

    def of(self, name):
        with self.cond:
            return [e for e in self.events if e['ev'] == name]

    def kill(self, sig=9):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(timeout=10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope='session')
def host():
    h = Host()
    yield h
    h.close()


@pytest.fixture(params=['unix', 'tcp'])
def broker(request, host):
    b = Broker(host, request.param)
    yield b
    b.stop()


@pytest.fixture
def peers():
    started = []

    def node(broker, role, **cfg):
        p = Peer([NODE, NODE_PEER, json.dumps(dict(cfg, role=role, conn=broker.node_conn))])
        started.append(p)
        return p

    def python(broker, role, **cfg):
        p = Peer([sys.executable, PY_PEER, json.dumps(dict(cfg, role=role, url=broker.url))])
        started.append(p)
        return p

    yield node, python
    for p in started:
        p.stop()
