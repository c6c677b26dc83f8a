"""socketkit_broker: a kiwipy ``Communicator`` for the socketkit broker (``@socketkit/broker``).

    import socketkit_broker
    with socketkit_broker.connect('unix:///run/myapp?event=broker') as comm:
        comm.add_task_subscriber(lambda comm, task: task * 2)
        print(comm.task_send(21).result(timeout=5))   # 42

The wire is PROTOCOL.md's "Broker protocol"; the semantics are docs/broker.md's.
"""

import os
import ssl
from typing import Any, Optional, Union
from urllib.parse import parse_qs, unquote, urlparse

from kiwipy import BroadcastFilter

from .communicator import BrokerCommunicator
from .socketdir import InsecureSocketDir
from .errors import (BrokerError, BrokerUnavailable, CommunicatorClosed, DeliveryFailed, DeliveryLimitExceeded,
                     DuplicateSubscriberIdentifier, InvalidMessage, InvalidRequest, LimitExceeded, RecipientLost,
                     RemoteException, RpcTimeout, StaleDelivery, TaskRejected, Unauthorized, UnknownSubscriber,
                     UnroutableError, error_from_wire)

__version__ = '0.1.0'

__all__ = (
    'connect', 'BrokerCommunicator', 'BroadcastFilter', 'BrokerError', 'BrokerUnavailable', 'CommunicatorClosed',
    'DeliveryFailed', 'DeliveryLimitExceeded', 'DuplicateSubscriberIdentifier', 'InsecureSocketDir', 'InvalidMessage',
    'InvalidRequest',
    'LimitExceeded', 'RecipientLost', 'RemoteException', 'RpcTimeout', 'StaleDelivery', 'TaskRejected',
    'Unauthorized', 'UnknownSubscriber', 'UnroutableError', 'error_from_wire'
)


def _tls_context(tls: Union[bool, dict, ssl.SSLContext, None]) -> Optional[ssl.SSLContext]:
    if tls is None or tls is False:
        return None
    if isinstance(tls, ssl.SSLContext):
        return tls
    opts = {} if tls is True else dict(tls)
    ca = opts.pop('ca', None)
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)  # verification and host name check on
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca is not None:
        if os.path.exists(str(ca)):
            ctx.load_verify_locations(cafile=str(ca))
        else:
            ctx.load_verify_locations(cadata=str(ca))
    cert, key = opts.pop('cert', None), opts.pop('key', None)
    if cert is not None:
        ctx.load_cert_chain(certfile=cert, keyfile=key)
    if opts:
        raise InvalidRequest(f'unknown tls option(s) {sorted(opts)}: use ca, cert, key (or pass an ssl.SSLContext)')
    return ctx


def _address_file(socket_dir: str, event: str, allow_insecure_dir: bool):
    """(host, port) from the address file a TCP broker started without a port publishes: {socket_dir}/{event}.tcp."""
    import json  # pylint: disable=import-outside-toplevel
    import stat  # pylint: disable=import-outside-toplevel
    path = os.path.join(socket_dir, f'{event}.tcp')
    if not allow_insecure_dir:
        from .socketdir import check_socket_path  # pylint: disable=import-outside-toplevel
        check_socket_path(os.path.join(socket_dir, f'{event}.sock'))
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            st = None
        if st is not None and (not stat.S_ISREG(st.st_mode) or st.st_uid not in (0, os.getuid())
                               or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
            raise InsecureSocketDir(f'the address file {path} is not a regular file only you (or root) can write')
    try:
        with open(path, encoding='utf-8') as f:
            info = json.load(f)
    except FileNotFoundError as exc:
        raise BrokerUnavailable(f'no address file {path}: is the broker running? (or pass port)') from exc
    except ValueError as exc:
        raise BrokerUnavailable(f'the address file {path} is not JSON: {exc}') from exc
    return info.get('host') or '127.0.0.1', int(info['port'])


def connect(url: Optional[str] = None,
            *,
            transport: Optional[str] = None,
            socket_dir: Optional[str] = None,
            host: Optional[str] = None,
            port: Optional[int] = None,
            event: Optional[str] = None,
            token: Optional[str] = None,
            tls: Union[bool, dict, ssl.SSLContext, None] = None,
            server_hostname: Optional[str] = None,
            **options: Any) -> BrokerCommunicator:
    """Connects to a broker and returns a :class:`kiwipy.Communicator` (blocks until the broker welcomed it).

    ``url``: ``unix:///path/to/socket-dir?event=broker`` (the socket is ``{dir}/{event}.sock``) or
    ``tcp://host:port?event=broker``; or keyword options ``transport``, ``socket_dir``, ``host``, ``port``,
    ``event``. ``token``: the broker's shared secret (the broker proves it knows it first; it never crosses the
    wire). ``tls``: True, ``{ca, cert, key}`` (PEM paths or text) or an ``ssl.SSLContext``; the broker's certificate
    and host name are verified (``server_hostname`` overrides the name checked).

    Other options: ``heartbeat_interval`` (s, default 1), ``heartbeat_timeout`` (default 3 × interval),
    ``connect_timeout`` (5), ``wait_for_server`` (s to keep dialling at first, default 0),
    ``reconnect_initial_delay`` (0.1), ``reconnect_max_delay`` (5), ``reconnect_max_retries`` (30),
    ``reconnect_jitter`` (0.2), ``prefetch`` (default per task subscriber, 1), ``max_workers`` (32 subscriber
    threads), ``on_error`` (callback for reported problems; default: logged), ``allow_insecure_dir`` (skip the
    socket directory check, as socketkit's ``allowInsecureDir``).

    Raises BrokerUnavailable when it cannot reach the broker, Unauthorized when the token exchange or TLS
    verification fails, InsecureSocketDir when someone else could replace the unix socket.
    """
    if url is not None:
        u = urlparse(url)
        query = {k: v[-1] for k, v in parse_qs(u.query).items()}
        transport = transport or u.scheme
        event = event or query.get('event')
        if u.scheme == 'unix':
            socket_dir = socket_dir or unquote(u.path)
        elif u.scheme == 'tcp':
            host = host or u.hostname
            port = port or u.port
        else:
            raise InvalidRequest(f'unsupported broker URL {url!r}: use unix:///socket-dir?event=NAME or tcp://host:port')
    transport = transport or ('tcp' if port is not None else 'unix')
    event = event or 'broker'
    if transport == 'unix':
        if not socket_dir:
            raise InvalidRequest('a unix broker needs socket_dir (or unix:///socket-dir in the URL)')
        if tls:
            raise InvalidRequest('TLS is for tcp: a unix socket is protected by its file mode')
        family, address = 'unix', os.path.join(socket_dir, f'{event}.sock')
    elif transport == 'tcp':
        if port is None and socket_dir and not tls and host in (None, '127.0.0.1', 'localhost', '::1'):
            host, port = _address_file(socket_dir, event, options.get('allow_insecure_dir', False))
        if port is None:
            raise InvalidRequest('a tcp broker needs a port (tcp://host:port), or socket_dir with its address file')
        family, address = 'tcp', (host or '127.0.0.1', int(port))
    else:
        raise InvalidRequest(f'unsupported transport {transport!r}: unix or tcp (NATS brokers need the Node client)')
    return BrokerCommunicator(
        family=family,
        address=address,
        event=event,
        token=token,
        ssl_context=_tls_context(tls),
        server_hostname=server_hostname,
        **options)
