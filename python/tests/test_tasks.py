"""kiwipy's task semantics beyond the mixin, against a live Node broker."""

import threading
import time

import kiwipy
import pytest

import socketkit_broker

T = 5.0


def wait_until(cond, timeout=T):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError('condition not met in time')
        time.sleep(0.02)


def test_raise_is_a_remote_exception_outcome_and_the_task_is_not_redelivered(broker):
    worker, sender = broker.connect(), broker.connect()
    calls = []

    def boom(_c, task):
        calls.append(task)
        raise KeyError('missing')

    worker.add_task_subscriber(boom)
    other_calls = []
    sender.add_task_subscriber(lambda _c, t: other_calls.append(t))  # a second subscriber that must never see it
    with pytest.raises(socketkit_broker.RemoteException) as info:
        sender.task_send({'job': 1}).result(T)
    assert isinstance(info.value, kiwipy.RemoteException)
    assert info.value.remote_code == 'KeyError'
    time.sleep(0.3)
    assert len(calls) + len(other_calls) == 1
    stats = broker.stats()
    assert stats['pending'] == 0 and stats['inflight'] == 0


@pytest.mark.parametrize('reject_with', [kiwipy.TaskRejected, socketkit_broker.TaskRejected])
def test_task_rejected_passes_the_task_to_another_subscriber(broker, reject_with):
    picky, willing, sender = broker.connect(), broker.connect(), broker.connect()
    rejected = threading.Event()

    def no(_c, _t):
        rejected.set()
        raise reject_with('not for me')

    picky.add_task_subscriber(no)
    fut = sender.task_send('job')
    assert rejected.wait(T)
    willing.add_task_subscriber(lambda _c, t: f'done {t}')
    assert fut.result(T) == 'done job'


def test_a_returned_future_holds_the_task_until_it_resolves(broker):
    worker, sender = broker.connect(), broker.connect()
    held = kiwipy.Future()
    started = []

    def work(_c, t):
        started.append(t)
        return held if t == 'first' else t

    worker.add_task_subscriber(work, prefetch=1)
    first = sender.task_send('first')
    second = sender.task_send('second')
    inner = first.result(T)
    assert isinstance(inner, kiwipy.Future)
    time.sleep(0.5)  # prefetch 1: the second task may not start while the first is held
    assert started == ['first'] and not second.done()
    assert broker.stats()['inflight'] == 1
    held.set_result('finally')
    assert inner.result(T) == 'finally'
    assert second.result(T) == 'second'


def test_future_that_fails_is_a_remote_exception(broker):
    worker, sender = broker.connect(), broker.connect()
    later = kiwipy.Future()
    worker.add_task_subscriber(lambda *_: later)
    inner = sender.task_send('x').result(T)
    later.set_exception(ValueError('late failure'))
    with pytest.raises(kiwipy.RemoteException):
        inner.result(T)


def test_no_reply_returns_once_the_broker_accepted_the_task(broker):
    sender = broker.connect()
    assert sender.task_send({'n': 1}, no_reply=True) is None  # nobody subscribed yet: accepted, pending
    assert broker.stats()['pending'] == 1
    ran = kiwipy.Future()
    broker.connect().add_task_subscriber(lambda _c, t: ran.set_result(t))
    assert ran.result(T) == {'n': 1}


def test_no_reply_refused_by_a_broker_bound_raises(host):
    from conftest import Broker  # pylint: disable=import-outside-toplevel
    b = Broker(host, 'unix', maxPendingTasks=1)
    try:
        comm = b.connect()
        comm.task_send(1, no_reply=True)
        with pytest.raises(socketkit_broker.LimitExceeded) as info:
            comm.task_send(2, no_reply=True)
        assert info.value.details.get('limit') == 'maxPendingTasks'
    finally:
        b.stop()


@pytest.mark.parametrize('second', ['python', 'node'])
def test_python_worker_sigkilled_mid_task_is_redelivered_with_one_outcome(broker, peers, second):
    node, python = peers
    victim = python(broker, 'worker', sleepMs=60000)
    victim.wait_for('ready')
    sender = broker.connect()
    fut = sender.task_send({'n': 'k1'})
    victim.wait_for(lambda e: e['ev'] == 'start' and e['n'] == 'k1')
    victim.kill(9)
    rescuer = (python if second == 'python' else node)(broker, 'worker')
    result = fut.result(15)
    assert result['n'] == 'k1' and result['by'] == second
    if second == 'node':
        assert result['attempt'] == 2
    time.sleep(0.3)
    assert rescuer.count('start') == 1
    assert broker.stats()['inflight'] == 0


def test_durable_broker_restart_outcome_reattached_by_task_id(host, tmp_path):
    from conftest import Broker  # pylint: disable=import-outside-toplevel
    b = Broker(host, 'unix', store={'path': str(tmp_path / 'store')})
    try:
        sender = b.connect(reconnect_initial_delay=0.05)
        fut = sender.task_send({'n': 'durable'})
        wait_until(lambda: b.stats()['pending'] == 1)  # accepted (committed) before anyone works on it
        b.restart()  # a new broker process state on the same store: the task is still pending
        worker = b.connect()
        worker.add_task_subscriber(lambda _c, t: {'done': t['n']})
        assert fut.result(10) == {'done': 'durable'}  # the sender re-attached by taskId after its reconnect
    finally:
        b.stop()


def test_worker_lost_more_than_max_deliveries_is_delivery_limit_exceeded(host, peers):
    from conftest import Broker  # pylint: disable=import-outside-toplevel
    _, python = peers
    b = Broker(host, 'unix', maxDeliveries=1)
    try:
        victim = python(b, 'worker', sleepMs=60000)
        victim.wait_for('ready')
        fut = b.connect().task_send({'n': 'poison'})
        victim.wait_for('start')
        victim.kill(9)
        with pytest.raises(socketkit_broker.DeliveryLimitExceeded) as info:
            fut.result(10)
        assert isinstance(info.value, kiwipy.DeliveryFailed) and info.value.code == 'DELIVERY_LIMIT_EXCEEDED'
    finally:
        b.stop()
