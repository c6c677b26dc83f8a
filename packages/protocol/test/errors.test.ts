import { describe, it, expect } from '@jest/globals';
import { readFileSync } from 'node:fs';
import {
  ErrorCode,
  SocketError,
  ConnectionError,
  MaxConnectionsError,
  MessageError,
  ValidationError,
  TimeoutError,
  RemoteError,
  errorFromCode,
  createError,
  createMessage,
  ERROR_CLASSES,
} from '../src/index.js';

describe('error classes', () => {
  it('MaxConnectionsError is a ConnectionError is a SocketError is an Error', () => {
    const err = new MaxConnectionsError('server full');
    expect(err).toBeInstanceOf(MaxConnectionsError);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err).toBeInstanceOf(SocketError);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(MessageError);
    expect(err.code).toBe(ErrorCode.MAX_CONNECTIONS);
    expect(err.name).toBe('MaxConnectionsError');
    expect(err.message).toBe('server full');
  });

  it('each subclass is a SocketError with its own name and no cross-inheritance', () => {
    const cases: Array<[SocketError, string]> = [
      [new ConnectionError(ErrorCode.SOCKET_NOT_FOUND, 'm'), 'ConnectionError'],
      [new MessageError(ErrorCode.MALFORMED_FRAME, 'm'), 'MessageError'],
      [new ValidationError(ErrorCode.INVALID_CONFIG, 'm'), 'ValidationError'],
      [new TimeoutError('m'), 'TimeoutError'],
    ];
    for (const [err, name] of cases) {
      expect(err).toBeInstanceOf(SocketError);
      expect(err.name).toBe(name);
    }
    expect(new MessageError(ErrorCode.MALFORMED_FRAME, 'm')).not.toBeInstanceOf(ConnectionError);
    expect(new ValidationError(ErrorCode.INVALID_CONFIG, 'm')).not.toBeInstanceOf(MessageError);
    expect(new TimeoutError('m')).not.toBeInstanceOf(ConnectionError);
  });

  it('carries code, details and cause', () => {
    const cause = new Error('ENOENT');
    const err = new ConnectionError(ErrorCode.SOCKET_NOT_FOUND, 'no server', {
      cause,
      details: { path: '/tmp/x.sock' },
    });
    expect(err.code).toBe('SOCKET_NOT_FOUND');
    expect(err.details).toEqual({ path: '/tmp/x.sock' });
    expect(err.cause).toBe(cause);
    expect(new TimeoutError('slow').code).toBe(ErrorCode.TIMEOUT);
    const plain = new SocketError(ErrorCode.CLOSED, 'closed');
    expect(plain.details).toEqual({});
    expect('cause' in plain).toBe(false);
  });

  it('ErrorCode maps every name to itself and holds the design codes', () => {
    for (const [k, val] of Object.entries(ErrorCode)) expect(val).toBe(k);
    for (const code of [
      'INVALID_EVENT_NAME',
      'INVALID_CONFIG',
      'SOCKET_NOT_FOUND',
      'SERVER_NOT_RUNNING',
      'PERMISSION_DENIED',
      'ADDRESS_IN_USE',
      'PORT_RANGE_EXHAUSTED',
      'MAX_CONNECTIONS',
      'SEND_NOT_ALLOWED',
      'FRAME_TOO_LARGE',
      'MALFORMED_FRAME',
      'SLOW_CONSUMER',
      'TIMEOUT',
      'NOT_CONNECTED',
      'INSECURE_SOCKET_DIR',
      'UNAUTHORIZED',
    ]) {
      expect(Object.values(ErrorCode)).toContain(code);
    }
  });
});

describe('errorFromCode', () => {
  it.each([
    [ErrorCode.MAX_CONNECTIONS, MaxConnectionsError],
    [ErrorCode.TIMEOUT, TimeoutError],
    [ErrorCode.SOCKET_NOT_FOUND, ConnectionError],
    [ErrorCode.SERVER_NOT_RUNNING, ConnectionError],
    [ErrorCode.PERMISSION_DENIED, ConnectionError],
    [ErrorCode.ADDRESS_IN_USE, ConnectionError],
    [ErrorCode.PORT_RANGE_EXHAUSTED, ConnectionError],
    [ErrorCode.NOT_CONNECTED, ConnectionError],
    [ErrorCode.SLOW_CONSUMER, ConnectionError],
    [ErrorCode.UNAUTHORIZED, ConnectionError],
    [ErrorCode.INSECURE_SOCKET_DIR, ConnectionError],
    [ErrorCode.CONNECTION_LOST, ConnectionError],
    [ErrorCode.CLOSED, ConnectionError],
    [ErrorCode.WRONG_EVENT, ConnectionError],
    [ErrorCode.INSECURE_BIND, ConnectionError],
    [ErrorCode.PROTOCOL_MISMATCH, ConnectionError],
    [ErrorCode.ACCEPT_FAILED, ConnectionError],
    [ErrorCode.ADMISSION_FULL, ConnectionError],
    [ErrorCode.TOO_MANY_INVALID, MessageError],
    [ErrorCode.FRAME_TOO_LARGE, MessageError],
    [ErrorCode.MALFORMED_FRAME, MessageError],
    [ErrorCode.INVALID_MESSAGE, MessageError],
    [ErrorCode.SEND_NOT_ALLOWED, MessageError],
    [ErrorCode.UNAUTHENTICATED_FRAME, MessageError],
    [ErrorCode.INVALID_EVENT_NAME, ValidationError],
    [ErrorCode.INVALID_CONFIG, ValidationError],
  ])('maps %s to %p', (code, cls) => {
    const err = errorFromCode(code, 'from the server', { details: { remote: true } });
    expect(err.constructor).toBe(cls);
    expect(err.code).toBe(code);
    expect(err.message).toBe('from the server');
    expect(err.details).toEqual({ remote: true });
  });

  it('keeps other known codes on a plain SocketError', () => {
    for (const code of [
      ErrorCode.HANDLER_FAILED,
      ErrorCode.BUFFER_FULL,
      ErrorCode.NO_HANDLER,
      ErrorCode.REQUESTS_UNSUPPORTED,
    ]) {
      const err = errorFromCode(code, 'x');
      expect(err.constructor).toBe(SocketError);
      expect(err.code).toBe(code);
    }
  });

  it.each(['SOMETHING_NEW', '', 'toString', '__proto__', 'timeout'])(
    'maps unknown code %j to a RemoteError that keeps it',
    (code) => {
      const err = errorFromCode(code, 'odd');
      expect(err.constructor).toBe(RemoteError);
      expect(err.code).toBe(ErrorCode.REMOTE_ERROR);
      expect(err.message).toBe('odd');
      expect((err as RemoteError).remoteCode).toBe(code);
      expect((err as RemoteError).remoteMessage).toBe('odd');
    },
  );

  it('REMOTE_ERROR itself is a RemoteError (remoteCode HANDLER_FAILED unless given)', () => {
    const err = errorFromCode(ErrorCode.REMOTE_ERROR, 'x');
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).remoteCode).toBe(ErrorCode.HANDLER_FAILED);
  });

  it('maps every ErrorCode to an error with that same code', () => {
    for (const code of Object.values(ErrorCode)) expect(errorFromCode(code, 'm').code).toBe(code);
  });
});

describe('one code -> class table', () => {
  it('every ErrorCode has exactly one class, and createError / errorFromCode use it', () => {
    for (const code of Object.values(ErrorCode)) {
      const made = createError(code, 'x');
      expect(made.code).toBe(code);
      expect(made).toBeInstanceOf(SocketError);
      const rebuilt = errorFromCode(code, 'x');
      expect(rebuilt.constructor).toBe(made.constructor);
      expect(rebuilt.name).toBe(made.name);
    }
    expect(Object.keys(ERROR_CLASSES).sort()).toEqual(Object.values(ErrorCode).sort());
  });

  it('INVALID_MESSAGE is always a MessageError, wherever it is thrown', () => {
    let thrown: unknown;
    try {
      createMessage('e', 'data', [] as unknown as Record<string, unknown>);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(MessageError);
    expect(errorFromCode(ErrorCode.INVALID_MESSAGE, 'x')).toBeInstanceOf(MessageError);
  });

  it('the classes with a fixed code keep their names', () => {
    expect(createError(ErrorCode.MAX_CONNECTIONS, 'x')).toBeInstanceOf(MaxConnectionsError);
    expect(createError(ErrorCode.MAX_CONNECTIONS, 'x').name).toBe('MaxConnectionsError');
    expect(createError(ErrorCode.TIMEOUT, 'x')).toBeInstanceOf(TimeoutError);
    expect(createError(ErrorCode.TIMEOUT, 'x').name).toBe('TimeoutError');
    expect(createError(ErrorCode.CONNECT_IN_PROGRESS, 'x')).toBeInstanceOf(ConnectionError);
  });
});

describe('the README error table', () => {
  it('lists every code a user can receive (issue 23: the table is the user-facing list)', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const start = readme.indexOf('## Errors');
    const table = readme.slice(start, readme.indexOf('\n## ', start + 1));
    expect(Object.values(ErrorCode).filter((code) => !table.includes(`\`${code}\``))).toEqual([]);
  });
});
