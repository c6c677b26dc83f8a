"""Bad input from either side gets a typed error, and the connection and the other peers carry on."""

import os
import socket
import threading
import time

import kiwipy
import pytest

import socketkit_broker
from socketkit_broker import wire
from fakebroker import FakeBroker

T = 5.0


def _raw_peer(broker):
    """A plain socket that says hello like any non-Node client, for sending what our client never would."""
    if broker.transport == 'unix':
        s = socket.socket(socket.AF_UNIX)
        s.connect(os.path.join(broker.dir, f'{broker.event}.sock'))
    else:
        s = socket.create_connection(('127.0.0.1', broker.port))
    s.sendall(wire.encode_frame(broker.event, 'control', {'op': 'hello', 'protocol': 3, 'event': broker.event}, 1 << 20))
    return s


def _read_until(sock, reader, pred, timeout=T):
    sock.settimeout(timeout)
    while True:
        payload = reader.next_payload()
        if payload:
            mtype, data = wire.decode_payload(payload)
            if pred(mtype, data):
                return data
            continue
        chunk = sock.recv(65536)
        assert chunk, 'the broker closed the connection'
        reader.feed(chunk)


def test_frame_that_is_not_a_message_is_skipped_by_the_broker_and_the_connection_carries_on(broker):
    other = broker.connect()
    other.add_task_subscriber(lambda _c, t: t + 1)
    s = _raw_peer(broker)
    reader = wire.FrameReader(1 << 20)
    _read_until(s, reader, lambda t, d: d.get('op') == 'welcome')
    before = broker.server_totals()['invalidMessages']
    for junk in (b'\xc1', b'not msgpack at all', b'\x93\x01\x02\x03', b'\xd4\x01\x00'):  # reserved, text, array, ext
        s.sendall(len(junk).to_bytes(4, 'big') + junk)
    s.sendall(wire.encode_frame(broker.event, 'data', {'kind': 'task', 'ref': 7, 'taskId': 'raw-1', 'body': 41,
                                                       'noReply': False}, 1 << 20))
    reply = _read_until(s, reader, lambda t, d: d.get('kind') == 'reply')
    assert reply == {'kind': 'reply', 'ref': 7, 'ok': True}
    outcome = _read_until(s, reader, lambda t, d: d.get('kind') == 'outcome')
    assert outcome['ok'] is True and outcome['result'] == 42
    assert broker.server_totals()['invalidMessages'] == before + 4  # the broker's typed INVALID_MESSAGE, counted
    assert other.task_send(1).result(T) == 2  # the other peers carry on
    s.close()


def test_unknown_kind_is_invalid_request_and_the_connection_carries_on(broker):
    comm = broker.connect()
    with pytest.raises(socketkit_broker.InvalidRequest) as info:
        comm.request({'kind': 'frobnicate'}).result(T)
    assert info.value.code == 'INVALID_REQUEST' and 'frobnicate' in str(info.value)
    with pytest.raises(socketkit_broker.InvalidRequest):
        comm.request({'kind': 'subscribe', 'type': 'nonsense', 'identifier': 'x'}).result(T)
    comm.add_task_subscriber(lambda _c, t: t)
    assert comm.task_send('still fine').result(T) == 'still fine'


@pytest.mark.parametrize('body', [{1: 'int key'}, {'n': 2**70}, {'s': {1, 2}}, object(), [[[]]] * 0 + [{'k': None}]])
def test_body_the_other_side_cannot_read_is_refused_at_send(broker, body):
    comm = broker.connect()
    comm.add_task_subscriber(lambda _c, t: 'ok')
    if body == [{'k': None}]:  # a control: fine
        assert comm.task_send(body).result(T) == 'ok'
        return
    with pytest.raises(socketkit_broker.InvalidRequest):
        comm.task_send(body)
    with pytest.raises(ValueError):  # InvalidRequest is a ValueError, as kiwipy's argument errors are
        comm.rpc_send('x', body)
    with pytest.raises(socketkit_broker.InvalidRequest):
        comm.broadcast_send(body)
    assert comm.task_send('after').result(T) == 'ok'


def test_nesting_deeper_than_512_is_refused_at_send(broker):
    comm = broker.connect()
    deep = []
    for _ in range(600):
        deep = [deep]
    with pytest.raises(socketkit_broker.InvalidRequest):
        comm.task_send(deep)


def test_message_larger_than_the_brokers_limit_is_limit_exceeded(broker):
    comm = broker.connect()
    with pytest.raises(socketkit_broker.LimitExceeded) as info:
        comm.task_send('x' * (2 << 20))
    assert info.value.details['limit'] == 'maxMessageSize'


def test_python_worker_result_the_wire_cannot_carry_is_a_remote_exception(broker, peers):
    node, _ = peers
    comm = broker.connect()
    comm.add_task_subscriber(lambda _c, t: {'bad': {1, 2}} if t['n'].endswith('-0') else 'ok')
    comm.add_rpc_subscriber(lambda _c, m: {7: 'int key'}, 'bad-rpc')
    sub = node(broker, 'submitter', count=2, prefix='r')
    sub.wait_for('done')
    failure, = sub.of('failure')
    assert failure['n'] == 'r-0' and failure['code'] == 'REMOTE_EXCEPTION' and failure['remoteCode'] == 'INVALID_REQUEST'
    assert [o['result'] for o in sub.of('outcome')] == ['ok']
    with pytest.raises(kiwipy.RemoteException):
        comm.rpc_send('bad-rpc', None).result(T)


def test_node_body_python_could_not_read_is_refused_in_node_and_python_workers_carry_on(broker, peers):
    node, python = peers
    w = python(broker, 'worker')
    w.wait_for('ready')
    sub = node(broker, 'submitter', count=4, prefix='b', bigBodyEvery=2)  # a 70-bit integer in tasks 0 and 2
    done = sub.wait_for('done')
    assert done == dict(done, ok=2, failed=2)
    assert {f['code'] for f in sub.of('failure')} == {'INVALID_REQUEST'}
    assert sorted(o['n'] for o in sub.of('outcome')) == ['b-1', 'b-3']


def test_junk_from_the_broker_is_reported_as_invalid_message_and_skipped():
    def script(conn):
        conn.read()  # hello
        conn.welcome()
        while conn.read()[0] != 'data':  # the client's "go" broadcast (pings are control)
            pass
        for junk in (b'\xc1', b'\x92\x01\x02', b'\xd4\x01\x00', b'\x81\x01\x02', b'\xa3\xff\xfe\xfd'):
            conn.raw(len(junk).to_bytes(4, 'big') + junk)
        conn.send('data', {'kind': 'broadcast', 'body': 'after the junk', 'subject': 's'})
        while True:
            conn.read(30)

    fake = FakeBroker(script)
    errors, got = [], kiwipy.Future()
    comm = socketkit_broker.connect(fake.url, on_error=errors.append)
    try:
        # The fake answers nothing, so the subscriber is registered locally only.
        comm._bcast_subs['l'] = lambda _c, body, **_: got.set_result(body)  # pylint: disable=protected-access
        comm.broadcast_send('go')
        assert got.result(T) == 'after the junk'
        assert comm.invalid_messages == 5
        assert all(isinstance(e, socketkit_broker.InvalidMessage) for e in errors) and len(errors) == 5
    finally:
        comm.close()
        fake.close()
