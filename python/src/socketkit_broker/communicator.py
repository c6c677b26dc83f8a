"""A kiwipy Communicator speaking socketkit's broker protocol (PROTOCOL.md "Broker protocol").

Threading follows kiwipy's thread communicator: one I/O thread owns the socket (reads, writes, heartbeats,
reconnects); subscribers run on worker threads, never on the caller's; results are ``concurrent.futures.Future``s
(``kiwipy.Future``). Calls that register something (``add_*_subscriber``) block until the broker answered.
"""

import collections
import concurrent.futures
import logging
import os
import random
import select
import socket
import ssl
import threading
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Tuple

import kiwipy

from . import errors as E
from . import wire
from .socketdir import InsecureSocketDir, check_socket_path

__all__ = ('BrokerCommunicator', )

_LOGGER = logging.getLogger('socketkit_broker')

# Errors from the server that end the attempt for good (no reconnect).
_FATAL_CODES = {'UNAUTHORIZED', 'WRONG_EVENT', 'PROTOCOL_MISMATCH', 'INVALID_CONFIG'}


class _Pending:
    """A client message waiting for its reply (``ref``)."""

    __slots__ = ('message', 'future', 'gen', 'replay', 'written')

    def __init__(self, message: dict, future: concurrent.futures.Future, gen: int, replay: bool):
        self.message = message
        self.future = future
        self.gen = gen
        self.replay = replay
        self.written = False


class _Submitted:
    """A task sent by this communicator whose outcome is awaited."""

    __slots__ = ('task_id', 'future', 'accepted')

    def __init__(self, task_id: str, future: concurrent.futures.Future):
        self.task_id = task_id
        self.future = future  # the innermost future: replaced by a new one on each "pending"
        self.accepted = False


class _ConnectionLost(Exception):
    pass


class _Fatal(Exception):

    def __init__(self, error: E.BrokerError):
        super().__init__(str(error))
        self.error = error


class BrokerCommunicator(kiwipy.Communicator):  # pylint: disable=too-many-instance-attributes
    """kiwipy's ``Communicator`` over a socketkit broker (create one with :func:`socketkit_broker.connect`).

    Tasks are at least once with exactly one outcome; a task subscriber that returns a future keeps the task leased
    until the future resolves (the submitter's future first resolves to a future, as in kiwipy). RPC is at most once;
    broadcasts are at most once and reach every connection with a broadcast subscriber.
    """

    def __init__(  # pylint: disable=too-many-arguments,too-many-locals
        self,
        *,
        family: str,
        address: Any,
        event: str = 'broker',
        token: Optional[str] = None,
        ssl_context: Optional[ssl.SSLContext] = None,
        server_hostname: Optional[str] = None,
        heartbeat_interval: float = 1.0,
        heartbeat_timeout: Optional[float] = None,
        connect_timeout: float = 5.0,
        reconnect_initial_delay: float = 0.1,
        reconnect_max_delay: float = 5.0,
        reconnect_max_retries: int = 30,
        reconnect_jitter: float = 0.2,
        wait_for_server: float = 0.0,
        prefetch: int = 1,
        max_workers: int = 32,
        max_message_size: int = wire.DEFAULT_MAX_MESSAGE_SIZE,
        on_error: Optional[Callable[[Exception], None]] = None,
        allow_insecure_dir: bool = False,
    ):
        if token is not None and len(token.encode('utf-8')) < 16:
            raise E.InvalidRequest('the token must be at least 16 bytes (a shorter one can be guessed offline)')
        self._family = family
        self._address = address
        self._event = event
        self._token = token
        self._ssl = ssl_context
        self._server_hostname = server_hostname
        self._hb_interval = heartbeat_interval
        self._hb_timeout = heartbeat_timeout if heartbeat_timeout is not None else 3 * heartbeat_interval
        self._connect_timeout = connect_timeout
        self._backoff = (reconnect_initial_delay, reconnect_max_delay, reconnect_max_retries, reconnect_jitter)
        self._default_prefetch = prefetch
        self._max_message_size = max_message_size
        self._on_error = on_error
        self._allow_insecure_dir = allow_insecure_dir

        self._lock = threading.RLock()
        self._closed = False
        self._failed: Optional[E.BrokerError] = None
        self._up = False
        self._gen = 0
        self._ref = 0
        self._pending: Dict[int, _Pending] = {}
        self._submitted: Dict[str, _Submitted] = {}
        self._task_subs: Dict[str, Tuple[Callable, int]] = {}
        self._rpc_subs: Dict[str, Callable] = {}
        self._bcast_subs: Dict[str, Callable] = {}
        self._deliveries: Dict[str, Tuple[int, int]] = {}  # taskId -> (attempt, gen)
        self._stale = 0
        self._invalid = 0
        self.client_id: Optional[str] = None

        self._outbox: collections.deque = collections.deque()
        self._sock: Optional[socket.socket] = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._workers = concurrent.futures.ThreadPoolExecutor(max_workers, thread_name_prefix='socketkit-broker-worker')
        # Broadcasts are handed to their subscribers in order, on one thread of their own.
        self._bcast_worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix='socketkit-broker-broadcast')
        self._first = threading.Event()
        self._stop = threading.Event()
        self._wait_for_server = wait_for_server
        self._io = threading.Thread(target=self._run, name='socketkit-broker-io', daemon=True)
        self._io.start()
        self._first.wait()
        with self._lock:
            failed = self._failed
        if failed is not None:
            self._shutdown()
            raise failed

    # ------------------------------------------------------------------ public API (kiwipy.Communicator)

    def is_closed(self) -> bool:
        return self._closed

    @property
    def stale_deliveries(self) -> int:
        """Results or rejections the broker refused as stale so far (their lease had been lost)."""
        return self._stale

    @property
    def invalid_messages(self) -> int:
        """Frames received that were not valid messages (each reported and skipped)."""
        return self._invalid

    def close(self):
        """Close: pending futures fail with CommunicatorClosed; subscribers get nothing more. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._reject_all(E.CommunicatorClosed('the communicator was closed while this was pending'))
            self._deliveries.clear()
        self._shutdown()

    def _shutdown(self):
        self._stop.set()
        self._wake()
        if threading.current_thread() is not self._io:
            self._io.join(timeout=5)
        self._workers.shutdown(wait=False)
        self._bcast_worker.shutdown(wait=False)
        for s in (self._wake_r, self._wake_w):
            try:
                s.close()
            except OSError:
                pass

    def add_task_subscriber(self, subscriber, identifier=None, prefetch: Optional[int] = None):
        """Adds a task subscriber ``subscriber(communicator, task)``; returns its identifier once the broker has it.

        Its return value is the result; raising is a RemoteException outcome (not a retry); raising
        ``kiwipy.TaskRejected`` hands the task to another subscriber; returning a future holds the task until the
        future resolves. ``prefetch``: most tasks in flight to this subscriber (default: the communicator's).
        """
        self._ensure_open()
        identifier = identifier or uuid.uuid4().hex
        prefetch = prefetch or self._default_prefetch
        with self._lock:
            if identifier in self._task_subs:
                raise E.DuplicateSubscriberIdentifier(f'task subscriber {identifier!r} already exists on this communicator')
            self._task_subs[identifier] = (subscriber, prefetch)
        try:
            self._call({'kind': 'subscribe', 'type': 'task', 'identifier': identifier, 'prefetch': prefetch})
        except BaseException:
            with self._lock:
                self._task_subs.pop(identifier, None)
            raise
        return identifier

    def remove_task_subscriber(self, identifier):
        """Removes a task subscriber (deliveries it is running still finish). Raises ValueError if unknown."""
        self._ensure_open()
        with self._lock:
            if self._task_subs.pop(identifier, None) is None:
                raise E.UnknownSubscriber(f'no task subscriber {identifier!r} on this communicator')
        self._unsubscribe('task', identifier)

    def add_rpc_subscriber(self, subscriber, identifier=None):
        """Adds an RPC subscriber ``subscriber(communicator, msg)`` under an identifier unique across the broker."""
        self._ensure_open()
        identifier = identifier or uuid.uuid4().hex
        with self._lock:
            if identifier in self._rpc_subs:
                raise E.DuplicateSubscriberIdentifier(f'RPC subscriber {identifier!r} already exists on this communicator')
            self._rpc_subs[identifier] = subscriber
        try:
            self._call({'kind': 'subscribe', 'type': 'rpc', 'identifier': identifier})
        except BaseException:
            with self._lock:
                self._rpc_subs.pop(identifier, None)
            raise
        return identifier

    def remove_rpc_subscriber(self, identifier):
        """Removes an RPC subscriber. Raises ValueError (UnknownSubscriber) if unknown."""
        self._ensure_open()
        with self._lock:
            if self._rpc_subs.pop(identifier, None) is None:
                raise E.UnknownSubscriber(f'no RPC subscriber {identifier!r} on this communicator')
        self._unsubscribe('rpc', identifier)

    def add_broadcast_subscriber(self, subscriber, identifier=None):
        """Adds ``subscriber(communicator, body, sender, subject, correlation_id)`` (or a kiwipy.BroadcastFilter)."""
        self._ensure_open()
        identifier = identifier or uuid.uuid4().hex
        with self._lock:
            if identifier in self._bcast_subs:
                raise E.DuplicateSubscriberIdentifier(f'broadcast subscriber {identifier!r} already exists')
            self._bcast_subs[identifier] = subscriber
        try:
            self._call({'kind': 'subscribe', 'type': 'broadcast', 'identifier': identifier})
        except BaseException:
            with self._lock:
                self._bcast_subs.pop(identifier, None)
            raise
        return identifier

    def remove_broadcast_subscriber(self, identifier):
        """Removes a broadcast subscriber. Raises ValueError (UnknownSubscriber) if unknown."""
        self._ensure_open()
        with self._lock:
            if self._bcast_subs.pop(identifier, None) is None:
                raise E.UnknownSubscriber(f'no broadcast subscriber {identifier!r} on this communicator')
        self._unsubscribe('broadcast', identifier)

    def task_send(self, task, no_reply=False):
        """Sends a task. Returns a future of its outcome; with ``no_reply=True`` returns None once the broker has
        accepted it (stored, in durable mode), raising if it refused.

        The future fails with RemoteException (the subscriber raised), DeliveryLimitExceeded (dead-lettered),
        BrokerUnavailable (the broker is gone or forgot the task), LimitExceeded, InvalidRequest.
        """
        self._ensure_open()
        task_id = str(uuid.uuid4())
        message = {'kind': 'task', 'taskId': task_id, 'body': task, 'noReply': bool(no_reply)}
        if no_reply:
            self._call(message, replay=True)
            return None
        outcome = kiwipy.Future()
        submitted = _Submitted(task_id, outcome)
        with self._lock:
            self._submitted[task_id] = submitted
        accepted = self._request(message, replay=True)

        def on_accepted(fut: concurrent.futures.Future):
            exc = fut.exception()
            with self._lock:
                if exc is None:
                    submitted.accepted = True
                    return
                self._submitted.pop(task_id, None)
            _fail(submitted.future, exc)

        accepted.add_done_callback(on_accepted)
        return outcome

    def rpc_send(self, recipient_id, msg, timeout: Optional[float] = None):
        """Calls the RPC subscriber ``recipient_id`` (at most once); returns a future of its answer.

        The future fails with UnroutableError at once when nobody holds the identifier, RecipientLost when its
        connection ends first, RemoteException when it raised, RpcTimeout after ``timeout`` seconds (if given).
        """
        self._ensure_open()
        fut = self._request({'kind': 'rpc', 'recipient': recipient_id, 'body': msg}, replay=False)
        if timeout is not None:
            timer = threading.Timer(
                timeout, lambda: _fail(fut, E.RpcTimeout(f'no answer from RPC subscriber {recipient_id!r} within '
                                                         f'{timeout} s: raise the timeout for slow handlers')))
            timer.daemon = True
            timer.start()
            fut.add_done_callback(lambda _: timer.cancel())
        return fut

    def broadcast_send(self, body, sender=None, subject=None, correlation_id=None):
        """Sends a broadcast to every connection with a broadcast subscriber (this one too); at most once.

        Returns True once written (False while the broker is away: nobody hears it).
        """
        self._ensure_open()
        message = {'kind': 'broadcast', 'body': body}
        if sender is not None:
            message['sender'] = sender
        if subject is not None:
            message['subject'] = subject
        if correlation_id is not None:
            message['correlationId'] = correlation_id
        frame = self._encode(message)
        with self._lock:
            if not self._up:
                return False
            self._write(frame)
        return True

    def request(self, message: Dict[str, Any]) -> concurrent.futures.Future:
        """Low level: sends one broker message with a fresh ``ref``; the future gets the reply's result or its
        typed error. For tools and tests (an unknown kind answers InvalidRequest)."""
        self._ensure_open()
        return self._request(dict(message), replay=False)

    # ------------------------------------------------------------------ internals: calls

    def _ensure_open(self):
        if self._closed:
            raise E.CommunicatorClosed('the communicator is closed: create a new one with connect()')
        if self._failed is not None:
            raise E.BrokerUnavailable(f'the broker is unavailable: {self._failed}')

    def _encode(self, message: dict, message_type: str = 'data') -> bytes:
        return wire.encode_frame(self._event, message_type, message, self._max_message_size)

    def _call(self, message: dict, replay: bool = False, timeout: Optional[float] = None):
        fut = self._request(message, replay)
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError as exc:
            raise E.BrokerUnavailable('no answer from the broker in time') from exc

    def _request(self, message: dict, replay: bool) -> concurrent.futures.Future:
        fut = kiwipy.Future()
        with self._lock:
            self._ref += 1
            ref = self._ref
            message = dict(message, ref=ref)
            frame = self._encode(message)  # raises InvalidRequest / LimitExceeded to the caller
            p = _Pending(message, fut, self._gen, replay)
            self._pending[ref] = p
            if self._up:
                p.written = True
                self._write(frame)
        return fut

    def _unsubscribe(self, kind: str, identifier: str):
        try:
            self._call({'kind': 'unsubscribe', 'type': kind, 'identifier': identifier})
        except E.UnknownSubscriber:
            pass  # gone with an earlier connection already

    def _write(self, frame: bytes):
        """Queues a frame for the I/O thread (caller holds the lock)."""
        self._outbox.append(frame)
        self._wake()

    def _send_now(self, message: dict, gen: Optional[int] = None) -> bool:
        """Writes a message without a reply (or with one already registered) if the link is up (and still ``gen``)."""
        try:
            frame = self._encode(message)
        except E.BrokerError as exc:
            self._report(exc)
            return False
        with self._lock:
            if not self._up or self._closed or (gen is not None and gen != self._gen):
                return False
            self._write(frame)
        return True

    def _wake(self):
        try:
            self._wake_w.send(b'\0')
        except (BlockingIOError, OSError):
            pass

    def _report(self, exc: Exception):
        if self._closed:
            return
        if self._on_error is not None:
            try:
                self._on_error(exc)
                return
            except Exception:  # pylint: disable=broad-except
                pass
        _LOGGER.warning('%s', exc)

    def _reject_all(self, exc: Exception):
        pending, self._pending = self._pending, {}
        submitted, self._submitted = self._submitted, {}
        for p in pending.values():
            _fail(p.future, exc)
        for s in submitted.values():
            _fail(s.future, exc)

    # ------------------------------------------------------------------ internals: the I/O thread

    def _run(self):  # pylint: disable=too-many-branches
        initial, max_delay, max_retries, jitter = self._backoff
        attempts = 0
        deadline = time.monotonic() + self._wait_for_server
        ever_up = False
        while not self._stop.is_set():
            sock = None
            try:
                sock = self._dial()
                self._handshake(sock)
                attempts = 0
                ever_up = True
                self._on_up(sock)
                self._first.set()
                self._loop(sock)
            except _Fatal as fatal:
                self._on_down(str(fatal))
                self._on_failed(fatal.error)
                break
            except (OSError, _ConnectionLost, ssl.SSLError, E.BrokerError) as exc:
                reason = f'{type(exc).__name__}: {exc}'
                self._on_down(reason)
                if self._stop.is_set():
                    break
                if not ever_up and time.monotonic() >= deadline:
                    self._on_failed(E.BrokerUnavailable(f'cannot reach the broker at {self._describe()}: {reason}'))
                    break
                attempts += 1
                if ever_up and attempts > max_retries:
                    self._on_failed(E.BrokerUnavailable(f'gave up reconnecting after {max_retries} attempts: {reason}'))
                    break
                delay = min(max_delay, initial * 2**min(attempts - 1, 30))
                delay *= 1 + random.uniform(-jitter, jitter)
                if not ever_up:
                    delay = min(delay, max(0.0, deadline - time.monotonic()))
                self._stop.wait(delay)
            finally:
                if sock is not None:
                    try:
                        sock.close()
                    except OSError:
                        pass
        with self._lock:
            self._up = False
        self._first.set()

    def _describe(self) -> str:
        return self._address if self._family == 'unix' else f'{self._address[0]}:{self._address[1]}'

    def _dial(self) -> socket.socket:
        if self._family == 'unix' and not self._allow_insecure_dir:
            try:
                check_socket_path(self._address)
            except InsecureSocketDir as exc:
                raise _Fatal(exc) from exc
        fam = socket.AF_UNIX if self._family == 'unix' else socket.AF_INET6 if ':' in self._address[0] else socket.AF_INET
        sock = socket.socket(fam, socket.SOCK_STREAM)
        sock.settimeout(self._connect_timeout)
        try:
            sock.connect(self._address)
            if self._family == 'tcp':
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._ssl is not None:
                hostname = self._server_hostname or self._address[0]
                try:
                    sock = self._ssl.wrap_socket(sock, server_hostname=hostname)
                except ssl.SSLCertVerificationError as exc:
                    raise _Fatal(E.Unauthorized(
                        f'TLS verification of the broker failed ({exc.verify_message}): pass tls_ca (the CA that signed '
                        'its certificate) and server_hostname (a name in its certificate)')) from exc
        except BaseException:
            sock.close()
            raise
        return sock

    def _read_frame_blocking(self, sock: socket.socket, reader: wire.FrameReader, until: float) -> Tuple[str, dict]:
        while True:
            payload = reader.next_payload()
            if payload == b'':
                raise _ConnectionLost('the broker ended the stream')
            if payload is not None:
                try:
                    return wire.decode_payload(payload)
                except E.InvalidMessage as exc:
                    self._invalid += 1
                    self._report(exc)
                    continue
            left = until - time.monotonic()
            if left <= 0:
                raise _ConnectionLost('no welcome from the broker in time')
            sock.settimeout(left)
            chunk = sock.recv(65536)
            if not chunk:
                raise _ConnectionLost('the broker closed the connection during the handshake')
            reader.feed(chunk)

    def _handshake(self, sock: socket.socket):
        """hello → [auth_challenge (server proves first) → auth_proof] → welcome."""
        reader = wire.FrameReader(wire.DEFAULT_MAX_MESSAGE_SIZE)
        hello = {'op': 'hello', 'protocol': wire.PROTOCOL_VERSION, 'event': self._event}
        nonce = os.urandom(32).hex()
        if self._token is not None:
            hello['nonce'] = nonce
        sock.sendall(self._encode(hello, 'control'))
        until = time.monotonic() + self._connect_timeout
        proved = False
        while True:
            mtype, data = self._read_frame_blocking(sock, reader, until)
            if mtype == 'error':
                code = str(data.get('code'))
                text = f"the broker refused the connection: {code}: {data.get('error')}"
                if code in _FATAL_CODES:
                    raise _Fatal(E.Unauthorized(text) if code == 'UNAUTHORIZED' else E.BrokerUnavailable(text))
                raise _ConnectionLost(text)  # ADMISSION_FULL, MAX_CONNECTIONS, ...: retry with backoff
            if mtype != 'control':
                continue  # nothing else may come before welcome; drop it
            op = data.get('op')
            if op == 'auth_challenge' and self._token is not None and not proved:
                ns = data.get('nonce')
                expected = wire.server_proof(self._token, self._event, nonce, str(ns))
                if not isinstance(ns, str) or not _hmac_eq(str(data.get('proof', '')), expected):
                    raise _Fatal(E.Unauthorized(
                        'the broker could not prove it knows the token (another token, or an impostor): check the '
                        'token on both sides'))
                proved = True
                proof = wire.client_proof(self._token, self._event, nonce, ns)
                sock.sendall(self._encode({'op': 'auth_proof', 'proof': proof}, 'control'))
            elif op == 'welcome':
                if self._token is not None and not proved:
                    raise _Fatal(E.Unauthorized('the broker welcomed us without proving it knows the token: refused'))
                if 'event' in data and data['event'] != self._event:
                    raise _Fatal(E.BrokerUnavailable(
                        f"the server serves the event {data['event']!r}, not {self._event!r}: check the address"))
                size = data.get('max_message_size')
                if isinstance(size, int) and size > 0:
                    self._max_message_size = size
                self.client_id = data.get('client_id')
                self._leftover = reader
                return

    def _loop(self, sock: socket.socket):  # pylint: disable=too-many-branches,too-many-statements
        reader: wire.FrameReader = self._leftover
        reader.max_size = max(self._max_message_size, wire.DEFAULT_MAX_MESSAGE_SIZE)
        sock.setblocking(False)
        last_rx = time.monotonic()
        next_ping = last_rx + self._hb_interval
        out = b''
        while not self._stop.is_set():
            # Frames already buffered (also what came with the welcome).
            while True:
                payload = reader.next_payload()
                if payload is None:
                    break
                if payload == b'':
                    raise _ConnectionLost('the broker ended the stream')
                self._on_payload(payload)
            with self._lock:
                while self._outbox:
                    out += self._outbox.popleft()
            now = time.monotonic()
            if now >= next_ping:
                out += self._encode({'op': 'ping'}, 'control')
                next_ping = now + self._hb_interval
            if now - last_rx > self._hb_timeout:
                raise _ConnectionLost(f'no frame from the broker for {self._hb_timeout:.1f} s (heartbeat timeout)')
            timeout = max(0.0, min(next_ping, last_rx + self._hb_timeout) - now)
            pending_tls = isinstance(sock, ssl.SSLSocket) and sock.pending() > 0
            r, w, _ = select.select([sock, self._wake_r], [sock] if out else [], [], 0 if pending_tls else timeout)
            if self._wake_r in r:
                try:
                    while self._wake_r.recv(4096):
                        pass
                except (BlockingIOError, InterruptedError):
                    pass
            if sock in w and out:
                try:
                    n = sock.send(out[:262144])
                    out = out[n:]
                except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                    pass
            if sock in r or pending_tls:
                while True:
                    try:
                        chunk = sock.recv(262144)
                    except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                        break
                    if not chunk:
                        raise _ConnectionLost('the broker closed the connection')
                    last_rx = time.monotonic()
                    reader.feed(chunk)
                    if not (isinstance(sock, ssl.SSLSocket) and sock.pending() > 0) and len(chunk) < 262144:
                        break
        # Closing: flush what is queued (best effort), then end our side.
        with self._lock:
            while self._outbox:
                out += self._outbox.popleft()
        if out:
            try:
                sock.setblocking(True)
                sock.settimeout(1.0)
                sock.sendall(out)
            except OSError:
                pass

    # ------------------------------------------------------------------ internals: link events

    def _on_up(self, sock):  # pylint: disable=unused-argument
        with self._lock:
            if self._closed:
                return
            self._up = True
            self._outbox.clear()
            subscribing = {(p.message.get('type'), p.message.get('identifier'))
                           for p in self._pending.values() if p.message.get('kind') == 'subscribe'}
            backlog = list(self._pending.values())
            again: List[dict] = []
            for ident, (_, prefetch) in self._task_subs.items():
                again.append({'kind': 'subscribe', 'type': 'task', 'identifier': ident, 'prefetch': prefetch})
            for ident in self._rpc_subs:
                again.append({'kind': 'subscribe', 'type': 'rpc', 'identifier': ident})
            for ident in self._bcast_subs:
                again.append({'kind': 'subscribe', 'type': 'broadcast', 'identifier': ident})
            for m in again:
                if (m['type'], m['identifier']) in subscribing:
                    continue
                fut = self._request(m, replay=False)
                fut.add_done_callback(self._report_failure)
            for s in list(self._submitted.values()):
                if s.accepted:
                    fut = self._request({'kind': 'attach', 'taskId': s.task_id}, replay=False)
                    fut.add_done_callback(lambda f, s=s: self._attach_failed(f, s))
            for p in backlog:
                p.gen = self._gen
                p.written = True
                try:
                    self._write(self._encode(p.message))
                except E.BrokerError as exc:
                    self._pending.pop(p.message['ref'], None)
                    _fail(p.future, exc)

    def _report_failure(self, fut: concurrent.futures.Future):
        exc = fut.exception()
        if exc is not None and not isinstance(exc, (E.CommunicatorClosed, E.BrokerUnavailable)):
            self._report(exc)

    def _attach_failed(self, fut: concurrent.futures.Future, s: _Submitted):
        exc = fut.exception()
        if exc is None:
            return
        with self._lock:
            if self._submitted.pop(s.task_id, None) is None:
                return
        _fail(s.future, exc)

    def _on_down(self, reason: str):
        with self._lock:
            was_up = self._up
            self._up = False
            if not was_up:
                return
            old = self._gen
            self._gen += 1
            self._deliveries.clear()  # their leases died with the connection
            for ref, p in list(self._pending.items()):
                if p.gen != old or p.replay or not p.written:
                    continue
                del self._pending[ref]
                if p.message.get('kind') in ('subscribe', 'unsubscribe', 'attach'):
                    # Subscriptions are re-registered from the communicator's own lists; attaches are redone.
                    p.future.set_result(None) if not p.future.done() else None
                    continue
                _fail(p.future, E.BrokerUnavailable(
                    f'the connection to the broker dropped during the call ({reason}): it may or may not have run'))
        _LOGGER.info('lost the broker (%s): reconnecting', reason)

    def _on_failed(self, error: E.BrokerError):
        with self._lock:
            self._up = False
            self._failed = error
            self._reject_all(E.BrokerUnavailable(f'the broker is unavailable ({error}): nothing more will arrive'))
        self._first.set()

    # ------------------------------------------------------------------ internals: incoming messages

    def _on_payload(self, payload: bytes):
        try:
            mtype, data = wire.decode_payload(payload)
        except E.InvalidMessage as exc:
            self._invalid += 1
            self._report(exc)
            return
        if mtype == 'control':
            op = data.get('op')
            if op == 'ping':
                self._send_control({'op': 'pong'})
            return
        if mtype == 'error':
            code = str(data.get('code'))
            if data.get('origin') == 'socketkit' and code in ('SLOW_CONSUMER', 'TOO_MANY_INVALID', 'TIMEOUT'):
                raise _ConnectionLost(f"the broker dropped this connection: {code}: {data.get('error')}")
            self._report(E.BrokerError(f"error from the broker: {code}: {data.get('error')}", code=code))
            return
        kind = data.get('kind')
        handler = self._HANDLERS.get(kind)
        if handler is not None:
            handler(self, data)

    def _send_control(self, data: dict):
        with self._lock:
            if self._up:
                self._write(self._encode(data, 'control'))

    def _on_reply(self, m: dict):
        ref = m.get('ref')
        with self._lock:
            p = self._pending.pop(ref, None) if isinstance(ref, int) else None
        if p is None:
            return
        if m.get('ok') is True:
            _settle(p.future, m.get('result'))
        else:
            _fail(p.future, E.error_from_wire(m.get('error')))

    def _on_pending(self, m: dict):
        """The subscriber returned a future: resolve the caller's future with a new one (kiwipy's nesting)."""
        nxt = kiwipy.Future()
        with self._lock:
            if 'taskId' in m:
                s = self._submitted.get(m.get('taskId'))
                if s is None:
                    return
                old, s.future = s.future, nxt
            else:
                p = self._pending.get(m.get('ref'))
                if p is None or p.message.get('kind') != 'rpc':
                    return
                old, p.future = p.future, nxt
        _settle(old, nxt)

    def _on_outcome(self, m: dict):
        with self._lock:
            s = self._submitted.pop(m.get('taskId'), None)
        if s is None:
            return  # a second copy after a reconnect: the first one counted
        if m.get('ok') is True:
            _settle(s.future, m.get('result'))
        else:
            _fail(s.future, E.error_from_wire(m.get('error')))

    def _on_deliver(self, m: dict):
        task_id = str(m.get('taskId'))
        attempt = m.get('attempt')
        with self._lock:
            gen = self._gen
            sub = self._task_subs.get(m.get('identifier'))
            if sub is not None:
                self._deliveries[task_id] = (attempt, gen)
        if sub is None:
            self._finish_task(task_id, attempt, gen, {'kind': 'reject'})
            return
        self._submit_work(self._run_task, sub[0], m.get('body'), task_id, attempt, gen)

    def _submit_work(self, fn, *args):
        try:
            self._workers.submit(fn, *args)
        except RuntimeError:
            pass  # closed

    def _run_task(self, fn, body, task_id, attempt, gen):
        try:
            result = fn(self, body)
        except kiwipy.TaskRejected:
            self._finish_task(task_id, attempt, gen, {'kind': 'reject'})
            return
        except Exception as exc:  # pylint: disable=broad-except
            self._finish_task(task_id, attempt, gen, _remote_error(exc))
            return
        self._task_value(result, task_id, attempt, gen)

    def _task_value(self, result, task_id, attempt, gen):
        if isinstance(result, concurrent.futures.Future):
            # Held until the future resolves; tell the submitter its outcome is a future (kiwipy's PENDING).
            self._send_now({'kind': 'progress', 'taskId': task_id, 'attempt': attempt, 'pending': True}, gen)
            result.add_done_callback(lambda f: self._task_future_done(f, task_id, attempt, gen))
            return
        self._finish_task(task_id, attempt, gen, {'kind': 'result', 'ok': True, 'result': result})

    def _task_future_done(self, fut, task_id, attempt, gen):
        try:
            value = fut.result()
        except kiwipy.TaskRejected:
            self._finish_task(task_id, attempt, gen, {'kind': 'reject'})
            return
        except BaseException as exc:  # pylint: disable=broad-except
            self._finish_task(task_id, attempt, gen, _remote_error(exc))
            return
        self._task_value(value, task_id, attempt, gen)

    def _finish_task(self, task_id, attempt, gen, message: dict):
        with self._lock:
            if self._closed:
                return
            if self._deliveries.get(task_id) == (attempt, gen):
                del self._deliveries[task_id]
            if gen != self._gen or not self._up:
                return  # the lease died with its connection: the task was requeued; nothing to send
        message = dict(message, taskId=task_id, attempt=attempt)
        try:
            fut = self._request(message, replay=False)
        except E.BrokerError as exc:
            if message.get('ok') is True:
                # The result cannot travel (too large, not representable): that is the outcome.
                self._finish_task(task_id, attempt, gen, _remote_error(exc, code=exc.code))
            else:
                self._report(exc)
            return

        def done(f: concurrent.futures.Future):
            exc = f.exception()
            if isinstance(exc, E.StaleDelivery):
                self._stale += 1
            elif exc is not None and not isinstance(exc, (E.CommunicatorClosed, E.BrokerUnavailable)):
                self._report(exc)

        fut.add_done_callback(done)

    def _on_cancel(self, m: dict):
        with self._lock:
            d = self._deliveries.get(m.get('taskId'))
            if d is not None and d[0] == m.get('attempt'):
                del self._deliveries[m.get('taskId')]

    def _on_call(self, m: dict):
        identifier = m.get('identifier')
        call_id = m.get('callId')
        with self._lock:
            fn = self._rpc_subs.get(identifier)
            gen = self._gen
        if fn is None:
            self._rpc_answer(call_id, gen, {'ok': False, 'error': {
                'code': 'UNROUTABLE', 'message': f'RPC subscriber {identifier!r} was removed'}})
            return
        self._submit_work(self._run_call, fn, m.get('body'), call_id, gen)

    def _run_call(self, fn, body, call_id, gen):
        try:
            result = fn(self, body)
        except Exception as exc:  # pylint: disable=broad-except
            self._rpc_answer(call_id, gen, _remote_error(exc))
            return
        self._call_value(result, call_id, gen)

    def _call_value(self, result, call_id, gen):
        if isinstance(result, concurrent.futures.Future):
            self._send_now({'kind': 'rpcReply', 'callId': call_id, 'pending': True}, gen)

            def done(f):
                try:
                    value = f.result()
                except BaseException as exc:  # pylint: disable=broad-except
                    self._rpc_answer(call_id, gen, _remote_error(exc))
                    return
                self._call_value(value, call_id, gen)

            result.add_done_callback(done)
            return
        self._rpc_answer(call_id, gen, {'ok': True, 'result': result})

    def _rpc_answer(self, call_id, gen, reply: dict):
        message = {'kind': 'rpcReply', 'callId': call_id, 'ok': reply.get('ok', False)}
        if reply.get('ok', False):
            message['result'] = reply.get('result')
        else:
            message['error'] = reply['error']
        try:
            self._encode(message)
        except E.BrokerError as exc:
            message = {'kind': 'rpcReply', 'callId': call_id, 'ok': False,
                       'error': _remote_error(exc, code=exc.code)['error']}
        self._send_now(message, gen)

    def _on_broadcast(self, m: dict):
        with self._lock:
            subs = list(self._bcast_subs.values())
        if not subs:
            return
        try:
            self._bcast_worker.submit(self._run_broadcast, subs, m)
        except RuntimeError:
            pass

    def _run_broadcast(self, subs, m):
        for fn in subs:
            if self._closed:
                return
            try:
                fn(self, body=m.get('body'), sender=m.get('sender'), subject=m.get('subject'),
                   correlation_id=m.get('correlationId'))
            except Exception as exc:  # pylint: disable=broad-except
                self._report(exc)

    _HANDLERS = {
        'reply': _on_reply,
        'pending': _on_pending,
        'outcome': _on_outcome,
        'deliver': _on_deliver,
        'cancel': _on_cancel,
        'call': _on_call,
        'broadcast': _on_broadcast,
    }


def _remote_error(exc: BaseException, code: Optional[str] = None) -> dict:
    remote_code = code or getattr(exc, 'code', None)
    if not isinstance(remote_code, str) or not 1 <= len(remote_code) <= 64:
        remote_code = type(exc).__name__
    return {'kind': 'result', 'ok': False, 'error': {'code': 'REMOTE_EXCEPTION', 'message': str(exc),
                                                     'remoteCode': remote_code}}


def _settle(fut: concurrent.futures.Future, value):
    if not fut.done():
        try:
            fut.set_result(value)
        except concurrent.futures.InvalidStateError:
            pass


def _fail(fut: concurrent.futures.Future, exc: BaseException):
    if not fut.done():
        try:
            fut.set_exception(exc)
        except concurrent.futures.InvalidStateError:
            pass


def _hmac_eq(a: str, b: str) -> bool:
    import hmac  # pylint: disable=import-outside-toplevel
    return hmac.compare_digest(a.encode('ascii', 'replace'), b.encode('ascii', 'replace'))
