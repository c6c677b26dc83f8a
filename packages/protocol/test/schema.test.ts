import { describe, it, expect } from '@jest/globals';
import * as v from 'valibot';
import { parseMessage, WireMessageSchema, MessageError, ErrorCode } from '../src/index.js';

const wire = () => ({
  event_name: 'orders',
  timestamp_ms: 1_700_000_000_123,
  timestamp_iso: '2023-11-14T22:13:20.123000+00:00',
  message_type: 'data',
  data: { n: 1, nested: { list: [1, 2] } },
});

function malformed(input: unknown): MessageError {
  let err: unknown;
  try {
    parseMessage(input);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(MessageError);
  expect((err as MessageError).code).toBe(ErrorCode.MALFORMED_FRAME);
  return err as MessageError;
}

describe('parseMessage', () => {
  it('turns a valid wire object into a camelCase SocketMessage', () => {
    expect(parseMessage(wire())).toEqual({
      eventName: 'orders',
      timestampMs: 1_700_000_000_123,
      timestampIso: '2023-11-14T22:13:20.123000+00:00',
      messageType: 'data',
      data: { n: 1, nested: { list: [1, 2] } },
    });
  });

  it.each(['data', 'error', 'control'])('accepts message_type %s', (t) => {
    expect(parseMessage({ ...wire(), message_type: t }).messageType).toBe(t);
  });

  it('ignores unknown keys', () => {
    const m = parseMessage({ ...wire(), extra: 1, priority: 'high', nested: { a: 1 } });
    expect(Object.keys(m).sort()).toEqual(['data', 'eventName', 'messageType', 'timestampIso', 'timestampMs']);
  });

  it('maps optional id and reply_to, and leaves them out when absent', () => {
    const m = parseMessage({ ...wire(), id: 'req-1', reply_to: 'req-0' });
    expect(m.id).toBe('req-1');
    expect(m.replyTo).toBe('req-0');
    const plain = parseMessage(wire());
    expect('id' in plain).toBe(false);
    expect('replyTo' in plain).toBe(false);
  });

  it('accepts a BigInt timestamp_ms and converts it to a number', () => {
    const m = parseMessage({ ...wire(), timestamp_ms: 1_700_000_000_123n });
    expect(m.timestampMs).toBe(1_700_000_000_123);
    expect(typeof m.timestampMs).toBe('number');
    expect(parseMessage({ ...wire(), timestamp_ms: BigInt(Number.MAX_SAFE_INTEGER) }).timestampMs).toBe(
      Number.MAX_SAFE_INTEGER,
    );
  });

  it('rejects a BigInt timestamp_ms beyond the safe integer range', () => {
    const err = malformed({ ...wire(), timestamp_ms: BigInt(Number.MAX_SAFE_INTEGER) + 1n });
    expect(err.message).toContain('"timestamp_ms"');
  });

  it('accepts a null-prototype data map and does not check timestamp_iso format (like Python)', () => {
    const data = Object.create(null) as Record<string, unknown>;
    data.x = 1;
    expect(parseMessage({ ...wire(), data, timestamp_iso: 'whenever' }).data).toBe(data);
  });

  const without = (key: string): Record<string, unknown> => {
    const w: Record<string, unknown> = wire();
    delete w[key];
    return w;
  };

  it.each(['event_name', 'timestamp_ms', 'timestamp_iso', 'message_type', 'data'])('rejects a missing %s', (key) => {
    const err = malformed(without(key));
    expect(err.message).toContain(`"${key}"`);
    expect(err.message).toContain('missing');
    expect(err.details.field).toBe(key);
  });

  it.each([
    ['event_name', 42],
    ['event_name', ''],
    ['event_name', '../etc'],
    ['event_name', 'x'.repeat(65)],
    ['event_name', null],
    ['timestamp_ms', '1700000000000'],
    ['timestamp_ms', 1.5],
    ['timestamp_ms', Number.NaN],
    ['timestamp_ms', null],
    ['timestamp_ms', true],
    ['timestamp_iso', 1700000000000],
    ['timestamp_iso', null],
    ['message_type', 'info'],
    ['message_type', 'DATA'],
    ['message_type', 1],
    ['data', []],
    ['data', null],
    ['data', 'payload'],
    ['data', 5],
    ['data', new Map([['a', 1]])],
    ['id', 5],
    ['id', null],
    ['reply_to', 7],
    ['reply_to', { id: 'x' }],
  ])('rejects %s = %p and names the field', (key, value) => {
    const err = malformed({ ...wire(), [key]: value });
    expect(err.message).toMatch(new RegExp(`^malformed message: field "${key}" `));
    expect(err.details.field).toBe(key);
  });

  it('shows the bad value in the message', () => {
    expect(malformed({ ...wire(), message_type: 'info' }).message).toContain('got string "info"');
    expect(malformed({ ...wire(), data: [] }).message).toContain('got array');
    expect(malformed({ ...wire(), data: null }).message).toContain('got null');
    expect(malformed({ ...wire(), timestamp_ms: 1.5 }).message).toContain('1.5');
  });

  it.each([
    ['null', null],
    ['undefined', undefined],
    ['an array', [1, 2]],
    ['a string', 'hello'],
    ['a number', 3],
    ['a Map', new Map(Object.entries(wire()))],
  ])('rejects non-object input (%s)', (_label, input) => {
    const err = malformed(input);
    expect(err.message).toMatch(/^malformed message: expected a map, got /);
  });
});

describe('WireMessageSchema', () => {
  it('can be used directly with valibot', () => {
    expect(v.is(WireMessageSchema, wire())).toBe(true);
    expect(v.is(WireMessageSchema, { ...wire(), data: [] })).toBe(false);
  });
});
