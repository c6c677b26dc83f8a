import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from '@jest/globals';
import {
  createMessage,
  toWireMessage,
  isSocketMessage,
  isPlainObject,
  validateEventName,
  isValidEventName,
  MessageType,
  MessageError,
  ValidationError,
  ErrorCode,
  MAX_EVENT_NAME_LENGTH,
  ISO_TIMESTAMP_PATTERN,
  type SocketMessage,
} from '../src/index.js';

const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url));

/** Runs `fn`, expects it to throw, and returns the error for closer inspection. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to throw');
}

const T = 1_700_000_000_000; // 2023-11-14T22:13:20Z

describe('createMessage', () => {
  it.each([MessageType.DATA, MessageType.ERROR, MessageType.CONTROL])('builds a %s message', (type) => {
    const data = { a: 1, nested: { b: [1, 'x', null] } };
    const m = createMessage('my_event-1', type, data, { timestampMs: T });
    expect(m).toEqual({
      eventName: 'my_event-1',
      timestampMs: T,
      timestampIso: '2023-11-14T22:13:20+00:00',
      messageType: type,
      data,
    });
    expect(m.data).toBe(data);
    expect('id' in m).toBe(false);
    expect('replyTo' in m).toBe(false);
  });

  it('stamps the current time by default, as an integer in UTC', () => {
    const before = Date.now();
    const m = createMessage('e', 'data', {});
    const after = Date.now();
    expect(Number.isInteger(m.timestampMs)).toBe(true);
    expect(m.timestampMs).toBeGreaterThanOrEqual(before);
    expect(m.timestampMs).toBeLessThanOrEqual(after);
    expect(m.timestampIso).toMatch(ISO_TIMESTAMP_PATTERN);
    expect(m.timestampIso.endsWith('+00:00')).toBe(true);
    expect(Date.parse(m.timestampIso)).toBe(m.timestampMs);
  });

  it('sets id and replyTo when given', () => {
    const req = createMessage('e', 'data', { q: 1 }, { id: 'req-1' });
    expect(req.id).toBe('req-1');
    expect('replyTo' in req).toBe(false);
    const reply = createMessage('e', 'data', { r: 2 }, { replyTo: 'req-1' });
    expect(reply.replyTo).toBe('req-1');
    expect('id' in reply).toBe(false);
    const both = createMessage('e', 'control', {}, { id: 'a', replyTo: 'b' });
    expect([both.id, both.replyTo]).toEqual(['a', 'b']);
  });

  it('formats timestampIso in the requested time zone', () => {
    expect(createMessage('e', 'data', {}, { timestampMs: T, timezone: 'Asia/Kolkata' }).timestampIso).toBe(
      '2023-11-15T03:43:20+05:30',
    );
    expect(createMessage('e', 'data', {}, { timestampMs: T, timezone: 'America/New_York' }).timestampIso).toBe(
      '2023-11-14T17:13:20-05:00',
    );
  });

  it('rejects an unknown time zone with INVALID_CONFIG', () => {
    const err = thrown(() => createMessage('e', 'data', {}, { timezone: 'Mars/Olympus_Mons' }));
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).code).toBe(ErrorCode.INVALID_CONFIG);
    expect((err as Error).message).toContain('Mars/Olympus_Mons');
  });

  it.each([
    ['empty', ''],
    ['65 characters', 'a'.repeat(65)],
    ['path traversal', '../x'],
    ['slash', 'a/b'],
    ['backslash', 'a\\b'],
    ['unicode', 'événement'],
    ['CJK', '名前'],
    ['space', 'my event'],
    ['leading space', ' e'],
    ['trailing newline', 'e\n'],
    ['dot', 'a.b'],
    ['NUL', 'a\u0000b'],
  ])('rejects an event name with %s', (_label, name) => {
    const err = thrown(() => createMessage(name, 'data', {}));
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).code).toBe(ErrorCode.INVALID_EVENT_NAME);
    expect((err as Error).message).toContain(JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name));
  });

  it(
    'rejects an empty event name even as the first name a process uses (the cached last valid name starts out unset, ' +
      'not "")',
    () => {
      // A fresh process: in this file other names were validated first.
      const script =
        `import('${DIST}').then((p) => { try { p.createMessage('', 'data', {}); console.log('accepted'); } ` +
        `catch (e) { console.log(e.code); } })`;
      expect(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim()).toBe('INVALID_EVENT_NAME');
    },
  );

  it.each([
    ['number', 42],
    ['null', null],
    ['undefined', undefined],
    ['object', { name: 'e' }],
    ['array', ['e']],
  ])('rejects a non-string event name (%s)', (_label, name) => {
    const err = thrown(() => createMessage(name as unknown as string, 'data', {}));
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).code).toBe(ErrorCode.INVALID_EVENT_NAME);
  });

  it('accepts the boundaries of the event-name rule', () => {
    const longest = 'Z'.repeat(MAX_EVENT_NAME_LENGTH);
    expect(createMessage(longest, 'data', {}).eventName).toBe(longest);
    expect(createMessage('a', 'data', {}).eventName).toBe('a');
    expect(createMessage('AZaz09_-', 'data', {}).eventName).toBe('AZaz09_-');
  });

  it.each(['info', 'DATA', '', 'request'])('rejects message type %j with INVALID_MESSAGE', (type) => {
    const err = thrown(() => createMessage('e', type as MessageType, {}));
    expect(err).toBeInstanceOf(MessageError);
    expect((err as MessageError).code).toBe(ErrorCode.INVALID_MESSAGE);
    expect((err as Error).message).toContain(JSON.stringify(type));
  });

  class Point {
    x = 1;
  }
  it.each([
    ['an array', [1, 2]],
    ['null', null],
    ['a string', 'hello'],
    ['a number', 7],
    ['undefined', undefined],
    ['a Map', new Map([['a', 1]])],
    ['a Date', new Date(0)],
    ['a class instance', new Point()],
    ['a Buffer', Buffer.from('x')],
  ])('rejects data that is %s with INVALID_MESSAGE', (_label, data) => {
    const err = thrown(() => createMessage('e', 'data', data as unknown as Record<string, unknown>));
    expect(err).toBeInstanceOf(MessageError);
    expect((err as MessageError).code).toBe(ErrorCode.INVALID_MESSAGE);
  });

  it('accepts a null-prototype object as data', () => {
    const data = Object.create(null) as Record<string, unknown>;
    data.k = 'v';
    expect(createMessage('e', 'data', data).data).toBe(data);
  });

  it('validates the event name before the type and the data', () => {
    const err = thrown(() =>
      createMessage('bad name', 'nope' as MessageType, [] as unknown as Record<string, unknown>),
    );
    expect((err as ValidationError).code).toBe(ErrorCode.INVALID_EVENT_NAME);
  });
});

describe('validateEventName / isValidEventName', () => {
  it('returns a valid name unchanged and agrees with isValidEventName', () => {
    expect(validateEventName('ok_name')).toBe('ok_name');
    expect(isValidEventName('ok_name')).toBe(true);
    for (const bad of ['', 'a b', '../x', 'x'.repeat(65), 5, null]) {
      expect(isValidEventName(bad)).toBe(false);
      expect(() => validateEventName(bad)).toThrow(ValidationError);
    }
  });

  it('truncates very long names in the error message', () => {
    const err = thrown(() => validateEventName('x'.repeat(500))) as ValidationError;
    expect(err.message.length).toBeLessThan(250);
    expect(err.details.eventName).toBe('x'.repeat(500));
  });
});

describe('toWireMessage', () => {
  it('maps to snake_case keys in the Python key order', () => {
    const m = createMessage('e', 'error', { code: 1 }, { timestampMs: T, id: 'i', replyTo: 'r' });
    const w = toWireMessage(m);
    expect(Object.keys(w)).toEqual([
      'event_name',
      'timestamp_ms',
      'timestamp_iso',
      'message_type',
      'data',
      'id',
      'reply_to',
    ]);
    expect(w).toEqual({
      event_name: 'e',
      timestamp_ms: T,
      timestamp_iso: '2023-11-14T22:13:20+00:00',
      message_type: 'error',
      data: { code: 1 },
      id: 'i',
      reply_to: 'r',
    });
  });

  it('omits id and reply_to when absent', () => {
    const w = toWireMessage(createMessage('e', 'data', {}, { timestampMs: T }));
    expect(Object.keys(w)).toEqual(['event_name', 'timestamp_ms', 'timestamp_iso', 'message_type', 'data']);
  });
});

describe('isSocketMessage / isPlainObject', () => {
  it('tells messages from plain data', () => {
    const m: SocketMessage = createMessage('e', 'data', {});
    expect(isSocketMessage(m)).toBe(true);
    expect(isSocketMessage({ value: 1 })).toBe(false);
    expect(isSocketMessage({ ...m, data: [] })).toBe(false);
    expect(isSocketMessage({ ...m, timestampMs: '1' })).toBe(false);
    expect(isSocketMessage(null)).toBe(false);
    expect(isSocketMessage([m])).toBe(false);
  });

  it('accepts only plain objects', () => {
    expect(isPlainObject({})).toBe(true);
    expect(isPlainObject(Object.create(null))).toBe(true);
    expect(isPlainObject([])).toBe(false);
    expect(isPlainObject(null)).toBe(false);
    expect(isPlainObject(new Map())).toBe(false);
    expect(isPlainObject(new Date())).toBe(false);
    expect(isPlainObject('x')).toBe(false);
    expect(isPlainObject(Object.create({}))).toBe(false);
  });
});
