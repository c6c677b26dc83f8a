"""The connection: token challenge-response (the broker proves itself first), TLS with verification, heartbeats,
reconnect with backoff (subscribers re-registered, pending outcomes re-attached)."""

import os
import subprocess
import tempfile
import time

import kiwipy
import pytest

import socketkit_broker
from socketkit_broker import wire
from conftest import Broker
from fakebroker import FakeBroker

T = 5.0
TOKEN = 'a-token-of-at-least-16-bytes'


@pytest.mark.parametrize('transport', ['unix', 'tcp'])
def test_token_broker_admits_the_right_token_only(host, transport):
    b = Broker(host, transport, token=TOKEN)
    try:
        comm = b.connect(token=TOKEN)
        comm.add_task_subscriber(lambda _c, t: t)
        assert comm.task_send('authenticated').result(T) == 'authenticated'
        with pytest.raises(socketkit_broker.Unauthorized):
            b.connect(token='another-token-of-16-bytes')
        with pytest.raises(socketkit_broker.BrokerUnavailable):
            b.connect()  # no token at all
    finally:
        b.stop()


def test_short_token_is_refused_before_connecting():
    with pytest.raises(socketkit_broker.InvalidRequest):
        socketkit_broker.connect('tcp://127.0.0.1:1', token='short')


def _impostor(proof):
    def script(conn):
        _, hello = conn.read()
        if proof == 'skip':
            conn.welcome()
        else:
            ns = os.urandom(32).hex()
            good = wire.server_proof(TOKEN, conn.event, hello['nonce'], ns)
            conn.send('control', {'op': 'auth_challenge', 'protocol': 2, 'nonce': ns,
                                  'proof': good if proof == 'good' else '0' * 64})
        while True:
            mtype, data = conn.read(10)
            if data.get('op') == 'auth_proof':
                conn.welcome()

    return script


@pytest.mark.parametrize('proof', ['wrong', 'skip'])
def test_server_that_cannot_prove_the_token_is_refused_and_learns_nothing(proof):
    fake = FakeBroker(_impostor(proof))
    try:
        with pytest.raises(socketkit_broker.Unauthorized):
            socketkit_broker.connect(fake.url, token=TOKEN, reconnect_initial_delay=0.01)
        time.sleep(0.2)
        assert len(fake.conns) == 1  # no retry against an impostor
        assert [d.get('op') for _, d in fake.conns[0].seen] == ['hello']  # never an auth_proof
    finally:
        fake.close()


def test_server_proof_checked_then_client_proof_sent():
    fake = FakeBroker(_impostor('good'))
    try:
        comm = socketkit_broker.connect(fake.url, token=TOKEN)
        ops = [d.get('op') for _, d in fake.conns[0].seen]
        assert ops[:2] == ['hello', 'auth_proof']
        comm.close()
    finally:
        fake.close()


@pytest.fixture(scope='module')
def pki():
    d = tempfile.mkdtemp(prefix='skpy-pki-')

    def run(*args):
        subprocess.run(['openssl', *args], cwd=d, check=True, capture_output=True)

    ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
    run('req', '-x509', *ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=socketkit test CA')
    run('req', *ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost')
    with open(os.path.join(d, 'ext.cnf'), 'w', encoding='utf-8') as f:
        f.write('subjectAltName=DNS:localhost,IP:127.0.0.1\n')
    run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out',
        'server.pem', '-days', '2', '-extfile', 'ext.cnf')
    yield {k: os.path.join(d, f) for k, f in (('ca', 'ca.pem'), ('cert', 'server.pem'), ('key', 'server.key'))}
    subprocess.run(['rm', '-rf', d], check=False)


def test_tls_with_verification(host, pki):
    b = Broker(host, 'tcp', tls={'cert': pki['cert'], 'key': pki['key']}, token=TOKEN)
    try:
        comm = b.connect(tls={'ca': pki['ca']}, token=TOKEN)
        comm.add_rpc_subscriber(lambda _c, m: m * 2, 'double')
        assert comm.rpc_send('double', 21).result(T) == 42
        with pytest.raises(socketkit_broker.Unauthorized, match='TLS verification'):
            b.connect(tls=True, token=TOKEN)  # the system CAs do not know the test CA
        with pytest.raises(socketkit_broker.Unauthorized, match='TLS verification'):
            b.connect(tls={'ca': pki['ca']}, server_hostname='elsewhere.example', token=TOKEN)
    finally:
        b.stop()


def test_silent_broker_is_dropped_after_the_heartbeat_timeout_and_redialled():
    def script(conn):
        conn.read()
        conn.welcome()
        while True:
            conn.read(30)  # never a ping, never a pong

    fake = FakeBroker(script)
    try:
        comm = socketkit_broker.connect(fake.url, heartbeat_interval=0.1, heartbeat_timeout=0.4,
                                        reconnect_initial_delay=0.05)
        end = time.monotonic() + T
        while len(fake.conns) < 3 and time.monotonic() < end:
            time.sleep(0.05)
        assert len(fake.conns) >= 3
        assert any(d.get('op') == 'ping' for _, d in fake.conns[0].seen)  # the client pings too
        comm.close()
    finally:
        fake.close()


def test_broker_restart_resubscribes_and_pending_tasks_are_resent(broker):
    worker, sender = broker.connect(reconnect_initial_delay=0.05), broker.connect(reconnect_initial_delay=0.05)
    worker.add_task_subscriber(lambda _c, t: f'done {t}')
    worker.add_rpc_subscriber(lambda _c, m: m, 'svc')
    assert sender.task_send('before').result(T) == 'done before'
    broker.restart()
    # A task sent while the broker is away is resent once it is back; the subscribers are registered again.
    fut = sender.task_send('after')
    assert fut.result(10) == 'done after'
    assert sender.rpc_send('svc', 'again').result(T) == 'again'


def test_broker_gone_for_good_fails_everything_with_broker_unavailable(host):
    b = Broker(host, 'unix')
    comm = b.connect(reconnect_initial_delay=0.02, reconnect_max_delay=0.05, reconnect_max_retries=3)
    fut = comm.task_send('never run')
    host.command('stop', id=b.id)
    with pytest.raises(socketkit_broker.BrokerUnavailable):
        fut.result(T)
    with pytest.raises(socketkit_broker.BrokerUnavailable):
        comm.task_send('x')
    b.comms.clear()
    comm.close()
    b.host.command('start', id=b.id, options=b.options)
    b.stop()


def test_rpc_in_flight_when_the_recipient_dies_is_recipient_lost(broker, peers):
    _, python = peers
    server = python(broker, 'rpc', identifier='mortal')
    server.wait_for('ready')
    comm = broker.connect()
    assert comm.rpc_send('mortal', 1).result(T)['by'] == 'python'
    fut = comm.rpc_send('mortal', {'hang': True})
    server.wait_for('call')
    server.kill(9)
    with pytest.raises(socketkit_broker.RecipientLost) as info:
        fut.result(T)
    assert isinstance(info.value, kiwipy.DeliveryFailed)
    with pytest.raises(kiwipy.UnroutableError):  # its identifier died with it
        comm.rpc_send('mortal', 2).result(T)


def test_connect_to_nothing_is_broker_unavailable_unless_waiting():
    with pytest.raises(socketkit_broker.BrokerUnavailable):
        socketkit_broker.connect(socket_dir=tempfile.gettempdir(), event='no-such-broker-here')


@pytest.mark.parametrize('mode,insecure', [(0o777, True), (0o775, True), (0o1777, False), (0o700, False)])
def test_socket_directory_others_can_write_is_refused(tmp_path, mode, insecure):
    d = tmp_path / 'sockets'
    d.mkdir()
    os.chmod(d, mode)
    url = f'unix://{d}?event=broker'
    if insecure:
        with pytest.raises(socketkit_broker.InsecureSocketDir) as info:
            socketkit_broker.connect(url)
        assert info.value.code == 'INSECURE_SOCKET_DIR' and str(d) in str(info.value)
        with pytest.raises(socketkit_broker.BrokerUnavailable):  # checked no more: nothing listens there
            socketkit_broker.connect(url, allow_insecure_dir=True)
    else:
        with pytest.raises(socketkit_broker.BrokerUnavailable):
            socketkit_broker.connect(url)


def test_socket_path_that_is_not_a_socket_is_refused(tmp_path):
    os.chmod(tmp_path, 0o700)
    (tmp_path / 'broker.sock').write_text('not a socket')
    with pytest.raises(socketkit_broker.InsecureSocketDir):
        socketkit_broker.connect(f'unix://{tmp_path}?event=broker')


def test_tcp_without_port_reads_the_brokers_address_file(host, tmp_path):
    d = tmp_path / 'dir'
    d.mkdir(mode=0o700)
    ev = host.command('start', options={'transport': 'tcp', 'eventName': 'addrfile', 'socketDir': str(d),
                                        'host': '127.0.0.1', 'logLevel': 'silent'})
    try:
        assert (d / 'addrfile.tcp').exists()
        with socketkit_broker.connect(transport='tcp', socket_dir=str(d), event='addrfile') as comm:
            comm.add_rpc_subscriber(lambda _c, m: m, 'echo')
            assert comm.rpc_send('echo', 'via the address file').result(T) == 'via the address file'
        with pytest.raises(socketkit_broker.BrokerUnavailable, match='no address file'):
            socketkit_broker.connect(transport='tcp', socket_dir=str(d), event='other')
    finally:
        host.command('stop', id=ev['id'])
