"""Errors of the broker, mapped to kiwipy's classes by code (PROTOCOL.md "Broker protocol", "Error codes").

Every class carries ``code`` (the wire code) and ``details``; the kiwipy ones are subclasses of kiwipy's own
(``except kiwipy.UnroutableError`` catches ours), the broker-only ones have the TypeScript names.
"""

from typing import Any, Dict, Optional

import kiwipy

__all__ = (
    'BrokerError', 'RemoteException', 'DeliveryFailed', 'UnroutableError', 'RecipientLost', 'TaskRejected',
    'DuplicateSubscriberIdentifier', 'CommunicatorClosed', 'DeliveryLimitExceeded', 'BrokerUnavailable',
    'StaleDelivery', 'RpcTimeout', 'LimitExceeded', 'UnknownSubscriber', 'InvalidRequest', 'InvalidMessage',
    'Unauthorized', 'error_from_wire'
)


class BrokerError(Exception):
    """Base of every socketkit_broker error: ``code`` is stable, the message says what happened and what to do."""

    code = 'BROKER_ERROR'

    def __init__(self, message: str = '', *, code: Optional[str] = None, details: Optional[Dict[str, Any]] = None):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.details = details or {}


class RemoteException(BrokerError, kiwipy.RemoteException):
    """The remote end (a task subscriber or an RPC handler) raised; ``remote_code``/``remote_message`` are its."""

    code = 'REMOTE_EXCEPTION'

    def __init__(self, message: str = '', *, remote_code: str = 'Error', remote_message: Optional[str] = None, **kw):
        super().__init__(message, **kw)
        self.remote_code = remote_code
        self.remote_message = message if remote_message is None else remote_message


class DeliveryFailed(BrokerError, kiwipy.DeliveryFailed):
    """A message could not be delivered."""

    code = 'DELIVERY_FAILED'


class UnroutableError(DeliveryFailed, kiwipy.UnroutableError):
    """No subscriber holds the RPC identifier: fails at once, nothing was run."""

    code = 'UNROUTABLE'


class RecipientLost(DeliveryFailed):
    """The RPC recipient's connection went away before it answered (the call may or may not have run)."""

    code = 'RECIPIENT_LOST'


class TaskRejected(BrokerError, kiwipy.TaskRejected):
    """Raise it (or kiwipy.TaskRejected) in a task subscriber to hand the task to another subscriber."""

    code = 'TASK_REJECTED'


class DuplicateSubscriberIdentifier(BrokerError, kiwipy.DuplicateSubscriberIdentifier):
    """The identifier is already held (RPC identifiers: by any connection of the broker)."""

    code = 'DUPLICATE_SUBSCRIBER_IDENTIFIER'


class CommunicatorClosed(BrokerError, kiwipy.CommunicatorClosed):
    """The communicator is closed: create a new one with connect()."""

    code = 'COMMUNICATOR_CLOSED'


class DeliveryLimitExceeded(DeliveryFailed):
    """The task was delivered maxDeliveries times without an outcome and is now in the dead-letter list."""

    code = 'DELIVERY_LIMIT_EXCEEDED'


class BrokerUnavailable(BrokerError, ConnectionError):
    """The broker cannot be reached (or this client gave up reconnecting), or it no longer knows the task."""

    code = 'BROKER_UNAVAILABLE'


class Unauthorized(BrokerUnavailable):
    """The token exchange failed (wrong token, or a server that could not prove it knows the token): no retry."""

    code = 'UNAUTHORIZED'


class StaleDelivery(BrokerError):
    """A result or rejection for a delivery that is no longer the current one (fencing)."""

    code = 'STALE_DELIVERY'


class RpcTimeout(BrokerError, kiwipy.TimeoutError):
    """The caller's RPC timeout passed without an answer."""

    code = 'RPC_TIMEOUT'


class LimitExceeded(BrokerError):
    """A bound was reached; ``details['limit']`` names it."""

    code = 'LIMIT_EXCEEDED'


class UnknownSubscriber(BrokerError, ValueError):
    """No subscriber with that identifier (kiwipy raises ValueError here, so this is one)."""

    code = 'UNKNOWN_SUBSCRIBER'


class InvalidRequest(BrokerError, ValueError):
    """A malformed broker message or argument (a body msgpack cannot carry to the other side, an unknown kind)."""

    code = 'INVALID_REQUEST'


class InvalidMessage(BrokerError):
    """A frame received that is not a valid message: reported and skipped, the connection carries on."""

    code = 'INVALID_MESSAGE'


_CLASSES = {
    cls.code: cls for cls in (
        RemoteException, DeliveryFailed, UnroutableError, RecipientLost, TaskRejected, DuplicateSubscriberIdentifier,
        CommunicatorClosed, DeliveryLimitExceeded, BrokerUnavailable, StaleDelivery, RpcTimeout, LimitExceeded,
        UnknownSubscriber, InvalidRequest, InvalidMessage, Unauthorized
    )
}


def error_from_wire(error: Any) -> BrokerError:
    """The typed error of a wire error map ``{code, message, remoteCode?, details?}``; unknown codes: BrokerError."""
    if not isinstance(error, dict):
        return BrokerError('the broker refused the request without saying why', code='UNKNOWN')
    code = str(error.get('code', 'UNKNOWN'))
    message = str(error.get('message', ''))
    details = error.get('details') if isinstance(error.get('details'), dict) else {}
    if code == RemoteException.code:
        remote_code = str(error.get('remoteCode') or 'Error')
        return RemoteException(
            f'the subscriber failed: {remote_code}: {message}',
            remote_code=remote_code,
            remote_message=message,
            details=details
        )
    cls = _CLASSES.get(code)
    if cls is None:
        return BrokerError(message, code=code, details=details)
    return cls(message, details=details)
