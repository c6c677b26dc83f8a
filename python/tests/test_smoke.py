import kiwipy


def test_task_roundtrip(broker):
    comm = broker.connect()
    comm.add_task_subscriber(lambda _c, t: t * 2)
    assert comm.task_send(21).result(timeout=5) == 42
