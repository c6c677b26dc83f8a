"""Python peers for the tests (and the mixed-fleet script): one JSON argument, one JSON event a line on stdout.

  worker:    task subscriber returning {n, by: "python", pid, attempt}; body.fail raises; body.sleepMs sleeps;
             body.hold: returns a future resolved after hold seconds (the task stays leased meanwhile)
  submitter: sends `count` tasks {n: prefix-i}, reports each outcome, then {ev: "done"}
  rpc:       RPC subscriber `identifier` answering {echo: body, by: "python"}; body.fail raises
  call:      calls `recipient` with each of `bodies`
  listen:    broadcast subscriber through kiwipy.BroadcastFilter(subject, sender)
  broadcast: sends each of `messages` ({body, subject, sender})
"""
import concurrent.futures
import json
import os
import signal
import sys
import threading
import time

import kiwipy

import socketkit_broker

cfg = json.loads(sys.argv[1])
lock = threading.Lock()


def out(**ev):
    with lock:
        sys.stdout.write(json.dumps(dict(ev, pid=os.getpid())) + '\n')
        sys.stdout.flush()


comm = socketkit_broker.connect(cfg['url'], heartbeat_interval=0.3, heartbeat_timeout=1.2, wait_for_server=10,
                                reconnect_max_delay=0.5, reconnect_max_retries=1000)
role = cfg['role']
done = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: done.set())

if role == 'worker':

    def on_task(_comm, body):
        n = body.get('n') if isinstance(body, dict) else None
        out(ev='start', n=n)
        if cfg.get('sleepMs'):
            time.sleep(cfg['sleepMs'] / 1000)
        if isinstance(body, dict):
            if body.get('sleepMs'):
                time.sleep(body['sleepMs'] / 1000)
            if body.get('fail'):
                raise RuntimeError(f'task {n} failed')
            if body.get('hold'):
                fut = kiwipy.Future()
                threading.Timer(body['hold'], lambda: fut.set_result({'n': n, 'by': 'python', 'held': True})).start()
                return fut
        return {'n': n, 'by': 'python', 'pid': os.getpid()}

    comm.add_task_subscriber(on_task, prefetch=cfg.get('prefetch', 1))
    out(ev='ready')
elif role == 'submitter':
    out(ev='ready')
    futs = {}
    for i in range(cfg['count']):
        n = f"{cfg['prefix']}-{i}"
        futs[comm.task_send(dict(cfg.get('body', {}), n=n))] = n
    ok = failed = 0
    for fut in concurrent.futures.as_completed(futs, timeout=cfg.get('timeout', 120)):
        n = futs[fut]
        try:
            out(ev='outcome', n=n, result=fut.result())
            ok += 1
        except Exception as exc:  # pylint: disable=broad-except
            out(ev='failure', n=n, code=getattr(exc, 'code', None), name=type(exc).__name__)
            failed += 1
    out(ev='done', ok=ok, failed=failed)
    done.set()
elif role == 'rpc':

    def on_rpc(_comm, body):
        if isinstance(body, dict) and body.get('fail'):
            raise ValueError('python handler failed')
        if isinstance(body, dict) and body.get('hang'):
            out(ev='call', body=body)
            time.sleep(600)
        return {'echo': body, 'by': 'python'}

    comm.add_rpc_subscriber(on_rpc, cfg['identifier'])
    out(ev='ready')
elif role == 'call':
    for body in cfg['bodies']:
        try:
            out(ev='answer', result=comm.rpc_send(cfg['recipient'], body).result(timeout=5))
        except Exception as exc:  # pylint: disable=broad-except
            out(ev='failure', code=getattr(exc, 'code', None), name=type(exc).__name__)
    out(ev='done')
    done.set()
elif role == 'listen':

    def on_broadcast(_comm, body, sender=None, subject=None, correlation_id=None):
        out(ev='broadcast', body=body, sender=sender, subject=subject)

    comm.add_broadcast_subscriber(kiwipy.BroadcastFilter(on_broadcast, subject=cfg.get('subject'),
                                                         sender=cfg.get('sender')))
    out(ev='ready')
elif role == 'broadcast':
    for m in cfg['messages']:
        comm.broadcast_send(m.get('body'), sender=m.get('sender'), subject=m.get('subject'))
    time.sleep(0.1)
    out(ev='done')
    done.set()

done.wait()
comm.close()
sys.stdout.flush()
os._exit(0)  # worker threads may still be busy (a killed test): do not wait for them
