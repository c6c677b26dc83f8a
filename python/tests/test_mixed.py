"""Mixed fleets: Node and Python on one broker, tasks, RPC and broadcasts both ways.

The task runs here are a bounded sample (MIXED_TASKS, default 200); scripts/mixed-fleet.sh runs the full 1,000."""

import collections
import os

import kiwipy
import pytest

T = 5.0
N = int(os.environ.get('MIXED_TASKS', '200'))


def _check_outcomes(outcomes, prefix, count):
    names = collections.Counter(e['n'] for e in outcomes)
    expected = {f'{prefix}-{i}' for i in range(count)}
    assert set(names) == expected, f'lost: {sorted(expected - set(names))[:5]}'
    assert max(names.values()) == 1, 'duplicated outcome'


def _submitters_and_workers(broker, submitter_peer, worker_peer, prefix, by):
    """Two `worker_peer` workers (prefetch 4), two `submitter_peer` submitters of N // 2 tasks each: every outcome
    arrives once, from a worker `by`, and every task ran once (no redelivery without a failure)."""
    workers = [worker_peer(broker, 'worker', prefetch=4) for _ in range(2)]
    for w in workers:
        w.wait_for('ready')
    subs = [submitter_peer(broker, 'submitter', count=N // 2, prefix=f'{prefix}{i}') for i in range(2)]
    for i, s in enumerate(subs):
        done = s.wait_for('done', timeout=60)
        assert done['ok'] == N // 2 and done['failed'] == 0
        outcomes = s.of('outcome')
        _check_outcomes(outcomes, f'{prefix}{i}', N // 2)
        assert all(o['result']['by'] == by and o['result']['n'] == o['n'] for o in outcomes)
    assert sum(w.count('start') for w in workers) == N


def test_node_submitters_with_python_workers(broker, peers):
    node, python = peers
    _submitters_and_workers(broker, node, python, 'ns', 'python')


def test_python_submitters_with_node_workers(broker, peers):
    node, python = peers
    _submitters_and_workers(broker, python, node, 'ps', 'node')


def test_python_and_node_workers_side_by_side_share_the_queue(broker, peers):
    node, _ = peers
    comm = broker.connect()
    comm.add_task_subscriber(lambda _c, t: {'n': t['n'], 'by': 'python'}, prefetch=4)
    w = node(broker, 'worker', prefetch=4)
    w.wait_for('ready')
    futs = [comm.task_send({'n': i}) for i in range(100)]
    results = [f.result(30) for f in futs]
    assert [r['n'] for r in results] == list(range(100))
    assert {r['by'] for r in results} == {'python', 'node'}


def test_node_calls_a_python_rpc_subscriber(broker, peers):
    node, python = peers
    server = python(broker, 'rpc', identifier='py-svc')
    server.wait_for('ready')
    client = node(broker, 'call', recipient='py-svc', bodies=[{'x': 1}, {'fail': True}, [1, 'two']])
    client.wait_for('done')
    answers, failures = client.of('answer'), client.of('failure')
    assert [a['result'] for a in answers] == [{'echo': {'x': 1}, 'by': 'python'}, {'echo': [1, 'two'], 'by': 'python'}]
    assert failures == [dict(failures[0], code='REMOTE_EXCEPTION', remoteCode='ValueError', name='RemoteException')]


def test_python_calls_a_node_rpc_subscriber(broker, peers):
    node, _ = peers
    server = node(broker, 'rpc', identifier='node-svc')
    server.wait_for('ready')
    comm = broker.connect()
    assert comm.rpc_send('node-svc', {'x': 1}).result(T) == {'echo': {'x': 1}, 'by': 'node'}
    with pytest.raises(kiwipy.RemoteException) as info:
        comm.rpc_send('node-svc', {'fail': True}).result(T)
    assert info.value.remote_code == 'NODE_FAILED'
    with pytest.raises(kiwipy.UnroutableError):
        comm.rpc_send('node-svc-typo', 1).result(T)


MESSAGES = [
    {'body': 1, 'subject': 'purchase.car', 'sender': 'bob.jones'},
    {'body': 2, 'subject': 'purchase.car', 'sender': 'bob.smith'},
    {'body': 3, 'subject': 'sell.car', 'sender': 'alice.jones'},
    {'body': 4, 'subject': 'purchase.piano', 'sender': 'alice.jones'},
    {'body': 5, 'sender': 'carol.jones'},
]
EXPECTED = [1, 4, 5]  # subject purchase.* (or none) AND sender *.jones (or none)


def test_python_broadcasts_reach_a_filtered_node_subscriber(broker, peers):
    node, _ = peers
    listener = node(broker, 'listen', subject='purchase.*', sender='*.jones')
    listener.wait_for('ready')
    comm = broker.connect()
    for m in MESSAGES + [{'body': 'end', 'subject': 'purchase.end', 'sender': 'x.jones'}]:
        comm.broadcast_send(m['body'], sender=m.get('sender'), subject=m.get('subject'))
    listener.wait_for(lambda e: e['ev'] == 'broadcast' and e['body'] == 'end')
    assert [e['body'] for e in listener.of('broadcast')] == EXPECTED + ['end']


def test_node_broadcasts_reach_a_filtered_python_subscriber(broker, peers):
    node, _ = peers
    comm = broker.connect()
    got, end = [], kiwipy.Future()

    def on(_c, body, sender=None, subject=None, correlation_id=None):
        got.append(body)
        if body == 'end':
            end.set_result(True)

    comm.add_broadcast_subscriber(kiwipy.BroadcastFilter(on, subject='purchase.*', sender='*.jones'))
    sender = node(broker, 'broadcast', messages=MESSAGES + [{'body': 'end', 'subject': 'purchase.end',
                                                                  'sender': 'x.jones'}])
    sender.wait_for('done')
    end.result(T)
    assert got == EXPECTED + ['end']
