"""socketkit's wire (PROTOCOL.md): 4-byte big-endian length + one msgpack envelope map.

Nothing here knows about sockets: encoding, decoding, validation and the token proofs.
"""

import datetime
import hashlib
import hmac
import struct
import time
from typing import Any, Dict, Optional, Tuple

import msgpack

from .errors import InvalidMessage, InvalidRequest, LimitExceeded

#: The handshake protocol this client speaks (PROTOCOL.md "Handshake and control ops").
PROTOCOL_VERSION = 3
#: socketkit's default frame limit, used until the broker's welcome announces its own.
DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024
#: Most containers enclosing any value, the envelope included (PROTOCOL.md "Value encoding").
MAX_DEPTH = 512
#: Reserved control ops consumed by the library.
CONTROL_OPS = frozenset({'hello', 'welcome', 'ping', 'pong', 'auth_challenge', 'auth_proof', 'stats'})

_HEADER = struct.Struct('>I')
_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1


def _check_value(value: Any, path: str = 'data', depth: int = 2) -> None:
    """Refuses what the other side cannot read: non-str map keys, ints beyond 64 bits, depth, unknown types."""
    stack = [(value, path, depth)]
    while stack:
        v, p, d = stack.pop()
        if v is None or isinstance(v, (bool, float, str, bytes, bytearray, memoryview)):
            continue
        if isinstance(v, int):
            if v < _INT_MIN or v > _INT_MAX:
                raise InvalidRequest(f'{p} is an integer outside [-2**63, 2**64-1]: msgpack cannot send it; send a str')
            continue
        if d > MAX_DEPTH:
            raise InvalidRequest(f'{p} is nested deeper than {MAX_DEPTH} containers: flatten the message')
        if isinstance(v, dict):
            for k, item in v.items():
                if not isinstance(k, str):
                    raise InvalidRequest(
                        f'{p} has a {type(k).__name__} map key {k!r}: socketkit maps have str keys only; convert the key'
                    )
                stack.append((item, f'{p}.{k}', d + 1))
            continue
        if isinstance(v, (list, tuple)):
            for i, item in enumerate(v):
                stack.append((item, f'{p}[{i}]', d + 1))
            continue
        raise InvalidRequest(
            f'{p} is a {type(v).__name__}, which has no plain msgpack form: send a dict, list, str, bytes, number, '
            'bool or None'
        )


def iso_now(ms: int) -> str:
    """The instant as Python's isoformat() in the local time zone (six-digit fraction, none when zero)."""
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).astimezone().isoformat()


def encode_frame(event: str, message_type: str, data: Dict[str, Any], max_size: int) -> bytes:
    """One frame. Raises InvalidRequest (not representable) or LimitExceeded (larger than max_size)."""
    _check_value(data)
    ms = int(time.time() * 1000)
    envelope = {
        'event_name': event,
        'timestamp_ms': ms,
        'timestamp_iso': iso_now(ms),
        'message_type': message_type,
        'data': data,
    }
    try:
        payload = msgpack.packb(envelope, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidRequest(f'the message cannot be encoded as msgpack: {exc}') from exc
    if len(payload) > max_size:
        raise LimitExceeded(
            f'the message is {len(payload)} bytes, larger than max_message_size ({max_size}): send smaller bodies '
            '(or raise maxMessageSize on the broker and its clients)',
            details={'limit': 'maxMessageSize', 'max': max_size, 'size': len(payload)},
        )
    return _HEADER.pack(len(payload)) + payload


def _no_ext(code: int, _data: bytes) -> Any:
    raise InvalidMessage(f'extension type {code} in a frame: socketkit messages are plain msgpack', details={'reason': 'extension'})


def decode_payload(payload: bytes) -> Tuple[str, Dict[str, Any]]:
    """(message_type, data) of a payload; raises InvalidMessage for anything that is not a valid message."""
    try:
        msg = msgpack.unpackb(payload, raw=False, strict_map_key=True, ext_hook=_no_ext)
    except InvalidMessage:
        raise
    except Exception as exc:  # pylint: disable=broad-except
        raise InvalidMessage(f'a frame is not a msgpack message ({type(exc).__name__}: {exc}); it was skipped') from exc
    if not isinstance(msg, dict):
        raise InvalidMessage('a frame is not a msgpack map; it was skipped')
    mtype = msg.get('message_type')
    data = msg.get('data')
    if mtype not in ('data', 'error', 'control') or not isinstance(data, dict):
        raise InvalidMessage('a frame has no valid message_type/data; it was skipped')
    if not isinstance(msg.get('event_name'), str) or not isinstance(msg.get('timestamp_ms'), (int, float)):
        raise InvalidMessage('a frame has no valid event_name/timestamp_ms; it was skipped')
    return mtype, data


class FrameReader:
    """Splits a byte stream into payloads, checking each declared length before buffering it."""

    def __init__(self, max_size: int):
        self.max_size = max_size
        self._buf = bytearray()

    def feed(self, chunk: bytes) -> None:
        self._buf += chunk

    def next_payload(self) -> Optional[bytes]:
        """The next whole payload, None when more bytes are needed, b'' for an end-of-stream frame.

        Raises FrameTooLarge (a ConnectionError) when the declared length is above the limit.
        """
        if len(self._buf) < 4:
            return None
        (length,) = _HEADER.unpack_from(self._buf, 0)
        if length == 0:
            del self._buf[:4]
            return b''
        if length > self.max_size:
            raise FrameTooLarge(f'the broker declared a {length}-byte frame, above max_message_size ({self.max_size})')
        if len(self._buf) < 4 + length:
            return None
        payload = bytes(self._buf[4:4 + length])
        del self._buf[:4 + length]
        return payload


class FrameTooLarge(ConnectionError):
    """A frame longer than the limit: the framing is broken, the connection must be dropped."""

    code = 'FRAME_TOO_LARGE'


def _transcript(label: str, *parts: str) -> bytes:
    return '\0'.join((label, ) + parts).encode('utf-8')


def server_proof(token: str, event: str, client_nonce: str, server_nonce: str) -> str:
    """Ps of PROTOCOL.md "Authentication": what a real server sends in its auth_challenge."""
    return hmac.new(token.encode('utf-8'), _transcript('socketkit-auth-v2', 'server', event, client_nonce, server_nonce),
                    hashlib.sha256).hexdigest()


def client_proof(token: str, event: str, client_nonce: str, server_nonce: str) -> str:
    """Pc of PROTOCOL.md "Authentication": the client's answer, sent only after the server's proof checked out."""
    return hmac.new(token.encode('utf-8'), _transcript('socketkit-auth-v2', 'client', event, client_nonce, server_nonce),
                    hashlib.sha256).hexdigest()
