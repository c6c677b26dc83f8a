// Wire fidelity against Python's msgpack (issue 14): a table of values crosses
// to a Python echo peer (test/fixtures/echo.py, Debian python3-msgpack) and
// back, over unix and tcp, in both directions. Python must see exactly the
// bytes its own msgpack.packb writes for the intended Python value, and
// socketkit must get every value back unchanged.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createConnection, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { SocketClient, type SocketServer } from '@socketkit/core';
import { encodeFrame, encodePayload, frameBytes, MAX_NESTING_DEPTH } from '@socketkit/codec';
import { createMessage, ErrorCode, type SocketMessage } from '@socketkit/protocol';
import { TcpClientTransport, TcpSocketServer } from '@socketkit/tcp';
import { UnixClientTransport, UnixSocketServer } from '@socketkit/unix';

const here = dirname(fileURLToPath(import.meta.url));
const ECHO = join(here, 'fixtures', 'echo.py');
// Debian's python3 with python3-msgpack (scripts/ensure-system-deps.sh installs it).
const PYTHON = '/usr/bin/python3';

interface Row {
  /** What socketkit sends. */
  value: unknown;
  /** The Python value it must be, as a Python expression (`nest`/`nestmap` build deep containers). */
  py: string;
  /**
   * What socketkit must get back, when it differs from `value` (safe integers, |n| <= 2^53-1, come back as numbers).
   */
  back?: unknown;
}

const nest = (n: number, inner: unknown): unknown => {
  let v = inner;
  for (let i = 0; i < n; i++) v = [v];
  return v;
};
const nestmap = (n: number, inner: unknown): unknown => {
  let v = inner;
  for (let i = 0; i < n; i++) v = { a: v };
  return v;
};

const TABLE: Record<string, Row> = {
  'int 2^31-1': { value: 2 ** 31 - 1, py: '2**31-1' },
  'int 2^31': { value: 2 ** 31, py: '2**31' },
  'int -2^31': { value: -(2 ** 31), py: '-2**31' },
  'int -2^31-1': { value: -(2 ** 31) - 1, py: '-2**31-1' },
  'int 2^32-1': { value: 2 ** 32 - 1, py: '2**32-1' },
  'int 2^32': { value: 2 ** 32, py: '2**32' },
  'int -2^32': { value: -(2 ** 32), py: '-2**32' },
  'int 2^53-1': { value: 2 ** 53 - 1, py: '2**53-1' },
  'int -(2^53-1)': { value: -(2 ** 53 - 1), py: '-(2**53-1)' },
  'int 2^53 (BigInt)': { value: 2n ** 53n, py: '2**53' },
  'int -2^53 (BigInt)': { value: -(2n ** 53n), py: '-2**53' },
  'int 2^53+1': { value: 2n ** 53n + 1n, py: '2**53+1' },
  'int -2^53-1': { value: -(2n ** 53n) - 1n, py: '-2**53-1' },
  'int 2^63-1': { value: 2n ** 63n - 1n, py: '2**63-1' },
  'int -2^63': { value: -(2n ** 63n), py: '-2**63' },
  'int 2^63': { value: 2n ** 63n, py: '2**63' },
  'int 2^64-1': { value: 2n ** 64n - 1n, py: '2**64-1' },
  'int 0 (BigInt)': { value: 0n, py: '0', back: 0 },
  'epoch milliseconds': { value: 1764500000000, py: '1764500000000' },
  'time.time_ns()': { value: 1764500000123456789n, py: '1764500000123456789' },
  'float 0.1': { value: 0.1, py: '0.1' },
  'float -1.5e-300': { value: -1.5e-300, py: '-1.5e-300' },
  'float max': { value: Number.MAX_VALUE, py: '1.7976931348623157e308' },
  'float min subnormal': { value: 5e-324, py: '5e-324' },
  'float 2^53 (a number, not a safe integer)': { value: 2 ** 53, py: 'float(2**53)' },
  'float 1e20': { value: 1e20, py: '1e20' },
  'float NaN': { value: Number.NaN, py: "float('nan')" },
  'float Infinity': { value: Number.POSITIVE_INFINITY, py: "float('inf')" },
  'float -Infinity': { value: Number.NEGATIVE_INFINITY, py: "float('-inf')" },
  'float -0.0': { value: -0, py: '-0.0' },
  'float 0.0 vs int 0': { value: [0, -0], py: '[0, -0.0]' },
  bytes: { value: Buffer.from([0, 1, 0x7f, 0x80, 0xff]), py: "b'\\x00\\x01\\x7f\\x80\\xff'" },
  'bytes empty': { value: Buffer.alloc(0), py: "b''" },
  'bytes 300 (bin16)': { value: Buffer.alloc(300, 0xab), py: "b'\\xab' * 300" },
  'bytes 70000 (bin32)': { value: Buffer.alloc(70000, 1), py: "b'\\x01' * 70000" },
  'str with NUL': { value: 'a\u0000b\u0000', py: "'a\\x00b\\x00'" },
  'str emoji': { value: '😀👍🏽🇫🇷', py: "'\\U0001F600\\U0001F44D\\U0001F3FD\\U0001F1EB\\U0001F1F7'" },
  'str mixed scripts': {
    value: 'héllo wörld ✓ 日本語 עברית',
    py: "'h\\xe9llo w\\xf6rld \\u2713 \\u65e5\\u672c\\u8a9e \\u05e2\\u05d1\\u05e8\\u05d9\\u05ea'",
  },
  'str empty': { value: '', py: "''" },
  'str 31 / 32 bytes': { value: ['x'.repeat(31), 'x'.repeat(32)], py: "['x' * 31, 'x' * 32]" },
  'str 300 (str16)': { value: 'é'.repeat(150), py: "'\\xe9' * 150" },
  'str 70000 (str32)': { value: 'z'.repeat(70000), py: "'z' * 70000" },
  'unicode keys': {
    value: { ключ: 1, '🔑': 2, '': 3, 'a\u0000': 4 },
    py: "{'\\u043a\\u043b\\u044e\\u0447': 1, '\\U0001F511': 2, '': 3, 'a\\x00': 4}",
  },
  '__proto__ key': {
    value: JSON.parse('{"__proto__": {"x": 1}, "constructor": 2}'),
    py: "{'__proto__': {'x': 1}, 'constructor': 2}",
  },
  '20-deep arrays': { value: nest(20, 1), py: 'nest(20, 1)' },
  '20-deep maps': { value: nestmap(20, 'leaf'), py: "nestmap(20, 'leaf')" },
  'deepest allowed: 512 containers, envelope included': { value: nest(509, []), py: 'nest(509, [])' },
  'empty array': { value: [], py: '[]' },
  'empty map': { value: {}, py: '{}' },
  'empty containers nested': { value: [[], {}, [[]], { e: {} }], py: "[[], {}, [[]], {'e': {}}]" },
  'nil, true, false': { value: [null, true, false], py: '[None, True, False]' },
  'mixed array': { value: [1, 'two', 3.5, null, true, -7, 2 ** 40], py: "[1, 'two', 3.5, None, True, -7, 2**40]" },
  'map 16 entries (map16)': {
    value: Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, i])),
    py: "{f'k{i}': i for i in range(16)}",
  },
  'array 16 items (array16)': { value: Array.from({ length: 16 }, (_, i) => i), py: 'list(range(16))' },
};
const NAMES = Object.keys(TABLE);

/** The bytes Python's msgpack.packb writes for each row's Python value. */
let expectedHex: Record<string, string> = {};

beforeAll(() => {
  const program = [
    'import json, sys, msgpack',
    'def nest(n, inner):',
    '    for _ in range(n): inner = [inner]',
    '    return inner',
    'def nestmap(n, inner):',
    '    for _ in range(n): inner = {"a": inner}',
    '    return inner',
    'exprs = json.load(sys.stdin)',
    'env = {"nest": nest, "nestmap": nestmap, "range": range, "list": list, "float": float}',
    'print(json.dumps({k: msgpack.packb(eval(e, {"__builtins__": {}}, env)).hex() for k, e in exprs.items()}))',
  ].join('\n');
  const input = JSON.stringify(Object.fromEntries(NAMES.map((n) => [n, TABLE[n]!.py])));
  const r = spawnSync(PYTHON, ['-c', program], { input, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0)
    throw new Error(`python3 with msgpack is required (scripts/ensure-system-deps.sh): ${r.stderr.toString()}`);
  expectedHex = JSON.parse(r.stdout.toString()) as Record<string, string>;
});

/** Strict equality: Object.is for scalars (so -0 and NaN count), BigInt vs number differ, bytes by content. */
function exactlyEqual(a: unknown, b: unknown, at = 'v'): string | undefined {
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array) || !Buffer.from(a).equals(Buffer.from(b)))
      return `${at}: bytes differ`;
    return undefined;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return `${at}: array shape differs`;
    for (let i = 0; i < a.length; i++) {
      const d = exactlyEqual(a[i], b[i], `${at}[${i}]`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    if (ka.join('\u0001') !== kb.join('\u0001')) return `${at}: keys ${JSON.stringify(ka)} != ${JSON.stringify(kb)}`;
    if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return `${at}: prototype differs`;
    for (const k of ka) {
      const d = exactlyEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}.${k}`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  const show = (x: unknown): string => `${typeof x} ${Object.is(x, -0) ? '-0' : String(x)}`;
  return Object.is(a, b) ? undefined : `${at}: ${show(a)} != ${show(b)}`;
}

// ---- the Python echo process ---------------------------------------------------

interface EchoLine {
  same_bytes?: boolean;
  data_hex?: Record<string, string> | null;
  skipped?: string;
  listening?: number | string;
}

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'skw-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function startEcho(args: string[]): {
  lines: EchoLine[];
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
} {
  const child = spawn(PYTHON, [ECHO, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: EchoLine[] = [];
  let buf = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => {
    buf += c.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, i)) as EchoLine);
      buf = buf.slice(i + 1);
    }
  });
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    return exited;
  });
  return { lines, child, stderr: () => err, exited };
}

async function until(predicate: () => boolean, what: () => string, limitMs = 30_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Sends every row as `{ k: name, v: value }`, waits for each echo, and checks both sides. */
async function roundTrip(
  send: (data: Record<string, unknown>) => unknown,
  echoed: SocketMessage[],
  lines: EchoLine[],
  stderr: () => string,
): Promise<void> {
  for (const k of NAMES) await send({ k, v: TABLE[k]!.value });
  await until(
    () => echoed.length >= NAMES.length,
    () => `${NAMES.length} echoes (got ${echoed.length}; python stderr: ${stderr()})`,
  );
  // Python side: it decoded every frame, re-encoding it gives socketkit's bytes, and the value is the intended Python
  // value.
  const reportLines = (): EchoLine[] => lines.filter((l) => l.listening === undefined);
  // its stdout can trail the echoed frames
  await until(
    () => reportLines().length >= NAMES.length,
    () => `${NAMES.length} reports from python (got ${reportLines().length})`,
  );
  const reports = reportLines();
  expect(reports.filter((l) => l.skipped !== undefined)).toEqual([]);
  expect(reports).toHaveLength(NAMES.length);
  const wrong: string[] = [];
  reports.forEach((r, i) => {
    const k = NAMES[i]!;
    if (r.same_bytes !== true) wrong.push(`${k}: packb(unpackb(payload)) != payload`);
    if (r.data_hex?.v !== expectedHex[k])
      wrong.push(`${k}: python got ${r.data_hex?.v?.slice(0, 80)}, packb writes ${expectedHex[k]?.slice(0, 80)}`);
  });
  // socketkit side: every value back unchanged, in order.
  echoed.forEach((m, i) => {
    const k = NAMES[i]!;
    if (m.data.k !== k) wrong.push(`echo ${i} is ${String(m.data.k)}, expected ${k}`);
    const row = TABLE[k]!;
    const diff = exactlyEqual(m.data.v, 'back' in row ? row.back : row.value);
    if (diff !== undefined) wrong.push(`${k}: ${diff}`);
  });
  expect(wrong).toEqual([]);
}

const silent = { logLevel: 'silent' as const, envFile: false as const };

describe.each(['unix', 'tcp'] as const)('wire fidelity with Python msgpack over %s', (kind) => {
  it('socketkit server -> Python client (echo) -> socketkit server: the value table round-trips exactly', async () => {
    const eventName = `wire_${kind}_${process.pid}`;
    const server: SocketServer =
      kind === 'unix'
        ? new UnixSocketServer({ eventName, socketDir: tempDir(), ...silent })
        : new TcpSocketServer({ eventName, port: 0, ...silent });
    cleanups.push(() => server.stop());
    await server.start();
    const messages: SocketMessage[] = [];
    server.on('message', (m: SocketMessage) => messages.push(m));
    const target =
      kind === 'unix'
        ? `unix:${(server as UnixSocketServer).socketPath}`
        : `tcp:127.0.0.1:${(server as TcpSocketServer).port}`;
    const echo = startEcho(['client', target, eventName]);
    await until(
      () => messages.some((m) => m.data.ready === true),
      () => `python ready (stderr: ${echo.stderr()})`,
    );
    const echoed: SocketMessage[] = [];
    server.on('message', (m: SocketMessage) => {
      if (m.data.ready !== true) echoed.push(m);
    });
    await roundTrip((data) => server.send(data), echoed, echo.lines, echo.stderr);
  }, 120_000);

  it('socketkit client -> Python server (echo) -> socketkit client: the value table round-trips exactly', async () => {
    const eventName = `wire_${kind}_c_${process.pid}`;
    let transport: UnixClientTransport | TcpClientTransport;
    let echo: ReturnType<typeof startEcho>;
    if (kind === 'unix') {
      transport = new UnixClientTransport(tempDir(), eventName);
      echo = startEcho(['server', `unix:${transport.path}`, eventName]);
      await until(
        () => echo.lines.length > 0,
        () => `python listening (stderr: ${echo.stderr()})`,
      );
    } else {
      echo = startEcho(['server', 'tcp:127.0.0.1:0', eventName]);
      await until(
        () => echo.lines.length > 0,
        () => `python listening (stderr: ${echo.stderr()})`,
      );
      transport = new TcpClientTransport('127.0.0.1', echo.lines[0]!.listening as number, eventName);
    }
    const client = new SocketClient({
      eventName,
      transport,
      handshake: false,
      autoReconnect: false,
      logLevel: 'silent',
    });
    cleanups.push(() => client.disconnect());
    const echoed: SocketMessage[] = [];
    client.on('message', (m: SocketMessage) => echoed.push(m));
    await client.connect();
    await roundTrip((data) => client.send(data), echoed, echo.lines, echo.stderr);
  }, 120_000);
});

// Plain msgpack only, on receipt: a frame with an extension type or nested
// deeper than MAX_NESTING_DEPTH is refused before decoding, reported with a
// code and skipped (lenient receive); the connection stays up.
describe.each(['unix', 'tcp'] as const)('frames msgpack peers never send, over %s', (kind) => {
  /** A message frame whose `data.v` is the raw msgpack bytes `value`. */
  const frameWith = (eventName: string, value: Buffer): Buffer => {
    const head = encodePayload(createMessage(eventName, 'data', { v: null }));
    return frameBytes(Buffer.concat([head.subarray(0, head.length - 1), value]));
  };

  it.each<[string, Buffer, string]>([
    ['a timestamp extension (msgpackr Date)', Buffer.from('d7ff003d090000000000', 'hex'), 'extension'],
    ['a msgpackr BigInt extension', Buffer.from('d84200000000000000400000000000000000', 'hex'), 'extension'],
    ['a typed-array extension (ext 8)', Buffer.from('c70974070000803f00000040', 'hex'), 'extension'],
    [
      `containers nested ${MAX_NESTING_DEPTH + 1} deep`,
      Buffer.concat([Buffer.alloc(MAX_NESTING_DEPTH - 2, 0x91), Buffer.from([0x90])]),
      'depth',
    ],
    ['containers nested 200,000 deep', Buffer.concat([Buffer.alloc(200_000, 0x91), Buffer.from([0x90])]), 'depth'],
  ])(
    '%s: reported (INVALID_MESSAGE, reason in details) and skipped; the connection stays up',
    async (_label, value, reason) => {
      const eventName = `plain_${kind}_${process.pid}`;
      const server: SocketServer =
        kind === 'unix'
          ? new UnixSocketServer({ eventName, socketDir: tempDir(), ...silent })
          : new TcpSocketServer({ eventName, port: 0, ...silent });
      cleanups.push(() => server.stop());
      await server.start();
      const errors: Array<Error & { code?: string; details?: Record<string, unknown> }> = [];
      server.on('error', (e: Error) => errors.push(e));
      const got: unknown[] = [];
      server.on('message', (m: SocketMessage) => got.push(m.data));
      const raw: Socket =
        kind === 'unix'
          ? createConnection((server as UnixSocketServer).socketPath)
          : createConnection({ host: '127.0.0.1', port: (server as TcpSocketServer).port! });
      raw.on('error', () => undefined);
      cleanups.push(() => raw.destroy());
      await new Promise((resolve) => raw.once('connect', resolve));
      raw.write(encodeFrame(createMessage(eventName, 'data', { seq: 1 })));
      raw.write(frameWith(eventName, value));
      raw.write(encodeFrame(createMessage(eventName, 'data', { seq: 2 })));
      await until(
        () => got.length === 2,
        () => `two good messages (got ${JSON.stringify(got)}, errors ${errors.map((e) => e.message).join('; ')})`,
      );
      expect(got).toEqual([{ seq: 1 }, { seq: 2 }]);
      expect(errors.map((e) => e.code)).toEqual([ErrorCode.INVALID_MESSAGE]);
      expect(errors[0]!.details?.reason).toBe(reason);
      expect(raw.destroyed).toBe(false);
    },
  );
});

it('python3 has the msgpack module the echo peer needs', () => {
  const r = spawnSync(PYTHON, ['-c', 'import msgpack; print(".".join(map(str, msgpack.version)))']);
  expect(r.status).toBe(0);
  expect(r.stdout.toString().trim()).toMatch(/^1\./);
});
