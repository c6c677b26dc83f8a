"""The Communicator contract kiwipy's CommunicatorTester checks (21 behaviours), in this project's own words,
against a live Node broker on unix and tcp. kiwipy's own mixin runs unchanged in scripts/kiwipy-mixin.sh."""

import re

import kiwipy
import pytest

import socketkit_broker

T = 5.0


def test_every_operation_after_close_raises_communicator_closed(broker):
    comm = broker.connect()
    comm.close()
    assert comm.is_closed()
    for op in (
            lambda: comm.add_rpc_subscriber(None, 'x'),
            lambda: comm.rpc_send('x', 1).result(T),
            lambda: comm.add_task_subscriber(None),
            lambda: comm.task_send(1).result(T),
            lambda: comm.add_broadcast_subscriber(None),
            lambda: comm.broadcast_send(1),
    ):
        with pytest.raises(kiwipy.CommunicatorClosed):
            op()


def test_leaving_the_with_block_closes_the_communicator(broker):
    comm = broker.connect()
    with comm as inside:
        assert inside is comm and not comm.is_closed()
    assert comm.is_closed()


def test_rpc_call_reaches_the_subscriber_and_returns_its_answer(broker):
    comm = broker.connect()
    seen = []
    comm.add_rpc_subscriber(lambda _c, m: seen.append(m) or {'got': m}, 'echo')
    assert comm.rpc_send('echo', ['hi', 1]).result(T) == {'got': ['hi', 1]}
    assert seen == [['hi', 1]]


def test_rpc_subscriber_removed_is_unroutable_and_can_be_added_again(broker):
    comm = broker.connect()
    handler = lambda _c, _m: 'yes'  # noqa: E731
    comm.add_rpc_subscriber(handler, 'svc')
    assert comm.rpc_send('svc', None).result(T) == 'yes'
    comm.remove_rpc_subscriber('svc')
    with pytest.raises(kiwipy.UnroutableError):
        comm.rpc_send('svc', None).result(T)
    comm.add_rpc_subscriber(handler, 'svc')
    assert comm.rpc_send('svc', None).result(T) == 'yes'


def test_rpc_answer_that_is_a_future_of_a_future_arrives_as_nested_futures(broker):
    comm = broker.connect()

    def handler(_c, _m):
        outer, inner = kiwipy.Future(), kiwipy.Future()
        inner.set_result('bottom')
        outer.set_result(inner)
        return outer

    comm.add_rpc_subscriber(handler, 'deep')
    level1 = comm.rpc_send('deep', None).result(T)
    assert isinstance(level1, kiwipy.Future)
    level2 = level1.result(T)
    assert isinstance(level2, kiwipy.Future)
    assert level2.result(T) == 'bottom'


def test_rpc_handler_that_raises_gives_the_caller_remote_exception(broker):
    comm = broker.connect()
    seen = []

    def handler(_c, m):
        seen.append(m)
        raise RuntimeError('no can do')

    comm.add_rpc_subscriber(handler, 'bad')
    with pytest.raises(kiwipy.RemoteException) as info:
        comm.rpc_send('bad', 'q').result(T)
    assert seen == ['q']
    assert info.value.remote_code == 'RuntimeError' and 'no can do' in str(info.value)


def test_rpc_to_nobody_is_unroutable_at_once(broker):
    comm = broker.connect()
    with pytest.raises(kiwipy.UnroutableError) as info:
        comm.rpc_send('nobody-home', 'x').result(1.0)
    assert isinstance(info.value, socketkit_broker.UnroutableError) and info.value.code == 'UNROUTABLE'


def test_task_goes_to_the_subscriber_and_its_return_value_is_the_outcome(broker):
    comm = broker.connect()
    got = []
    comm.add_task_subscriber(lambda _c, t: got.append(t) or 42)
    assert comm.task_send('meaning?').result(T) == 42
    assert got == ['meaning?']


def test_task_subscriber_returning_a_future_gives_the_sender_a_future_first(broker):
    comm = broker.connect()
    later = kiwipy.Future()
    got = []
    comm.add_task_subscriber(lambda _c, t: got.append(t) or later)
    pending = comm.task_send('slow one').result(T)
    assert isinstance(pending, kiwipy.Future) and not pending.done()
    later.set_result(42)
    assert pending.result(T) == 42
    assert got == ['slow one']


def test_task_subscriber_that_raises_gives_the_sender_remote_exception(broker):
    comm = broker.connect()
    got = []

    def worker(_c, t):
        got.append(t)
        raise RuntimeError('cannot')

    comm.add_task_subscriber(worker)
    with pytest.raises(kiwipy.RemoteException):
        comm.task_send('x').result(T)
    assert got == ['x']


def test_task_sent_without_reply_returns_none_and_still_runs(broker):
    comm = broker.connect()
    ran = kiwipy.Future()
    comm.add_task_subscriber(lambda _c, t: ran.set_result(t))
    assert comm.task_send('fire and forget', no_reply=True) is None
    assert ran.result(T) == 'fire and forget'


def test_removed_task_subscriber_takes_no_more_tasks(broker):
    comm = broker.connect()
    ident = comm.add_task_subscriber(lambda *_: None)
    comm.remove_task_subscriber(ident)
    fut = comm.task_send('nobody takes this')
    with pytest.raises(kiwipy.TimeoutError):
        fut.result(0.3)


def test_removing_an_unknown_task_subscriber_is_a_value_error(broker):
    comm = broker.connect()
    with pytest.raises(ValueError):
        comm.remove_task_subscriber('never added')


def test_every_broadcast_subscriber_gets_body_sender_subject_and_correlation_id(broker):
    comm = broker.connect()
    a, b = kiwipy.Future(), kiwipy.Future()
    comm.add_broadcast_subscriber(lambda _c, body, sender, subject, correlation_id: a.set_result(
        (body, sender, subject, correlation_id)))
    comm.add_broadcast_subscriber(lambda _c, body, sender, subject, correlation_id: b.set_result(
        (body, sender, subject, correlation_id)))
    comm.broadcast_send('hello all', sender='me', subject='greeting', correlation_id=None)
    kiwipy.wait([a, b], timeout=T)
    assert a.result() == b.result() == ('hello all', 'me', 'greeting', None)


def _collect(comm, n, flt):
    seen, done = [], kiwipy.Future()

    def on(_c, _body, sender=None, subject=None, correlation_id=None):
        seen.append((sender, subject))
        if len(seen) == n:
            done.set_result(True)

    comm.add_broadcast_subscriber(flt(on))
    return seen, done


SENDERS = ['bob.jones', 'bob.smith', 'martin.uhrin', 'alice.jones']
SUBJECTS = ['purchase.car', 'purchase.piano', 'sell.guitar', 'sell.house']


def test_subject_filter_star_spans_the_rest(broker):
    comm = broker.connect()
    seen, done = _collect(comm, 2, lambda on: kiwipy.BroadcastFilter(on, subject='purchase.*'))
    for s in SUBJECTS:
        comm.broadcast_send(None, subject=s)
    done.result(T)
    assert [s for _, s in seen] == ['purchase.car', 'purchase.piano']


def test_sender_filter_star_matches_a_prefix(broker):
    comm = broker.connect()
    seen, done = _collect(comm, 2, lambda on: kiwipy.BroadcastFilter(on, sender='*.jones'))
    for s in SENDERS:
        comm.broadcast_send(None, sender=s)
    done.result(T)
    assert [s for s, _ in seen] == ['bob.jones', 'alice.jones']


def _both(flt):

    def make(on):
        f = kiwipy.BroadcastFilter(on)
        f.add_sender_filter(flt[0])
        f.add_subject_filter(flt[1])
        return f

    return make


@pytest.mark.parametrize('filters', [('*.jones', 'purchase.*'), (re.compile('.*.jones'), re.compile('purchase.*'))],
                         ids=['wildcards', 'regex'])
def test_sender_and_subject_filters_must_both_pass(broker, filters):
    comm = broker.connect()
    seen, done = _collect(comm, 4, _both(filters))
    for sender in SENDERS:
        for subject in SUBJECTS:
            comm.broadcast_send(None, sender=sender, subject=subject)
    done.result(T)
    assert set(seen) == {(a, b) for a in ('bob.jones', 'alice.jones') for b in ('purchase.car', 'purchase.piano')}


def test_filter_without_wildcard_matches_exactly_that_sender(broker):
    comm = broker.connect()
    seen, done = _collect(comm, 1, lambda on: kiwipy.BroadcastFilter(on, sender='alice.jones'))
    for s in SENDERS:
        comm.broadcast_send(None, sender=s)
    done.result(T)
    assert [s for s, _ in seen] == ['alice.jones']


def test_broadcast_subscriber_removed_hears_nothing_and_can_be_added_again(broker):
    comm = broker.connect()
    box = [kiwipy.Future()]
    sub = lambda *_a, **_k: box[0].set_result(True)  # noqa: E731
    comm.add_broadcast_subscriber(sub, 'ears')
    comm.broadcast_send(None)
    assert box[0].result(T)
    comm.remove_broadcast_subscriber('ears')
    box[0] = kiwipy.Future()
    comm.broadcast_send(None)
    with pytest.raises(kiwipy.TimeoutError):
        box[0].result(0.5)
    comm.add_broadcast_subscriber(sub, 'ears')
    comm.broadcast_send(None)
    assert box[0].result(T)


def test_broadcast_with_nobody_listening_is_not_an_error(broker):
    comm = broker.connect()
    assert comm.broadcast_send('into the void') is True
