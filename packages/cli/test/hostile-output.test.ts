// The CLI prints hostile text safely (issue 22 item 13): control characters (ESC, OSC, C1), line
// separators and bidi overrides from peers, servers and file names never reach the terminal raw,
// JSON output escapes U+0080–U+009F, a malformed stats reply is a typed error, and `__proto__`
// keys are printed like any other key.
import { describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnixSocketClient, UnixSocketServer } from '@socketkit/unix';
import { cli, jsonLines, runCli, useTestDir } from './helpers.js';
import { safeJson, safeText } from '../src/output.js';

let dir = '';
useTestDir('sk-hostile-', (d) => {
  dir = d;
});

/**
 * OSC 52 (set the clipboard), OSC 0 via C1 (window title), CSI clear screen (ESC and C1), BEL, CR, BS, DEL, NUL, RLO,
 * LS.
 */
const HOSTILE = '\x1b]52;c;cHduZWQ=\x07\x1b[2J\x9b31m\x9d0;pwned\x9c\u202eevil\u2066\r\x08\x7f\0\u2028end';
/** Anything a terminal could act on; line feeds are allowed (they end our own lines). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const UNSAFE = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

function expectSafe(output: string): void {
  const bad = UNSAFE.exec(output);
  expect(
    bad === null
      ? 'no raw control character'
      : `raw U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0')} at ${bad.index} in ${JSON.stringify(output)}`,
  ).toBe('no raw control character');
}

describe('safeText and safeJson', () => {
  test('escape every control, C1, separator and bidi override, and nothing printable', () => {
    expect(safeText(HOSTILE)).toBe(
      '\\x1b]52;c;cHduZWQ=\\x07\\x1b[2J\\x9b31m\\x9d0;pwned\\x9c\\u{202e}evil\\u{2066}\\r\\x08\\x7f\\x00\\u{2028}end',
    );
    expect(safeText('a\nb\tc')).toBe('a\\nb\\tc');
    expect(safeText('a\nb', { newlines: true })).toBe('a\nb');
    expect(safeText('plain ascii, ünïcödé, 日本, emoji 🎉, back\\slash')).toBe(
      'plain ascii, ünïcödé, 日本, emoji 🎉, back\\slash',
    );
    const json = safeJson({ [HOSTILE]: HOSTILE });
    expectSafe(json);
    expect(JSON.parse(json)).toEqual({ [HOSTILE]: HOSTILE });
  });
});

describe('every command prints hostile text escaped', () => {
  test(
    'serve prints what a client sends (hostile keys and values, a __proto__ key) as safe JSON that parses back ' +
      'unchanged',
    async () => {
      const serve = cli(['serve', 'jobs', '--socket-dir', dir], dir);
      await serve.waitFor('stderr', /listening on /);
      const client = new UnixSocketClient({ eventName: 'jobs', socketDir: dir, logLevel: 'silent' });
      const proto = JSON.parse('{"__proto__": {"x": 1}, "after": 2}') as Record<string, unknown>;
      try {
        await client.connect({ waitForWelcome: true });
        await client.send({ [HOSTILE]: HOSTILE, nested: [{ k: HOSTILE }] });
        await client.send(proto);
        await serve.waitFor('stdout', /"after":2/);
      } finally {
        await client.disconnect();
      }
      serve.child.kill('SIGTERM');
      expect(await serve.exited).toBe(0);
      expectSafe(serve.stdout());
      expectSafe(serve.stderr());
      const lines = jsonLines(serve.stdout());
      expect(lines[0]!.data).toEqual({ [HOSTILE]: HOSTILE, nested: [{ k: HOSTILE }] });
      expect(serve.stdout()).toContain('"data":{"__proto__":{"x":1},"after":2}');
      expect(Object.keys(lines[1]!.data as object)).toEqual(['__proto__', 'after']);
    },
  );

  test("serve's error lines quoting a peer's invalid message are escaped, one line each", async () => {
    const serve = cli(['serve', 'jobs', '--socket-dir', dir], dir);
    await serve.waitFor('stderr', /listening on /);
    const bad = '\x1b]0;pwned\x07\x9b2J\nerror FORGED: x';
    const str = (t: string): Buffer => Buffer.concat([Buffer.from([0xd9, Buffer.byteLength(t)]), Buffer.from(t)]);
    const body = Buffer.concat([
      Buffer.from([0x85]),
      str('event_name'),
      str('jobs'),
      str('timestamp_ms'),
      Buffer.from([0x01]),
      str('timestamp_iso'),
      str('x'),
      str('message_type'),
      str(bad),
      str('data'),
      Buffer.from([0x80]),
    ]);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length);
    const sock = createConnection({ path: join(dir, 'jobs.sock') });
    sock.on('error', () => undefined);
    sock.write(Buffer.concat([head, body]));
    await serve.waitFor('stderr', /error INVALID_MESSAGE: .*\n/);
    sock.destroy();
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    expectSafe(serve.stderr());
    expect(serve.stderr()).not.toMatch(/^error FORGED/m);
  });

  test('listen prints hostile data and a __proto__ key from the server as safe JSON', async () => {
    const server = new UnixSocketServer({ eventName: 'feed', socketDir: dir, logLevel: 'silent' });
    const connected = new Promise<void>((resolve) => server.once('clientConnected', () => resolve()));
    await server.start();
    try {
      const listen = cli(['listen', 'feed', '--socket-dir', dir, '--count', '2'], dir);
      await connected;
      server.send({ [HOSTILE]: HOSTILE });
      server.send(JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>);
      expect(await listen.exited).toBe(0);
      expectSafe(listen.stdout());
      expectSafe(listen.stderr());
      const lines = jsonLines(listen.stdout());
      expect(lines[0]!.data).toEqual({ [HOSTILE]: HOSTILE });
      expect(listen.stdout()).toContain('"data":{"__proto__":{"polluted":true}}');
    } finally {
      await server.stop();
    }
  });

  test('request prints a hostile reply safely, and a hostile ERROR reply as one escaped error line', async () => {
    const server = new UnixSocketServer({ eventName: 'rpc', socketDir: dir, logLevel: 'silent' });
    server.onRequest((data) => {
      if (data.fail === true) throw new Error(`handler says ${HOSTILE}\nerror FORGED: a line the server did not write`);
      return { [HOSTILE]: HOSTILE };
    });
    await server.start();
    try {
      const ok = await runCli(['request', 'rpc', '--socket-dir', dir], dir);
      expect(ok.code).toBe(0);
      expectSafe(ok.stdout);
      expect(jsonLines(ok.stdout)[0]!.data).toEqual({ [HOSTILE]: HOSTILE });
      const failed = await runCli(['request', 'rpc', '--socket-dir', dir, '--data', '{"fail": true}'], dir);
      expect(failed.code).toBe(1);
      expectSafe(failed.stderr);
      expect(failed.stderr.trim().split('\n')).toHaveLength(1); // the \n in the message cannot forge a second line
      expect(failed.stderr).toContain('\\x1b]52;c;');
      expect(failed.stderr).toContain('\\nerror FORGED');
    } finally {
      await server.stop();
    }
  });

  test('ls and top show a hostile file name escaped', async () => {
    writeFileSync(join(dir, '\x1b]0;pwned\x07\x9b2J.sock'), 'not a socket');
    const ls = await runCli(['ls', '--socket-dir', dir], dir);
    expect(ls.code).toBe(0);
    expectSafe(ls.stdout);
    expect(ls.stdout).toContain('\\x1b]0;pwned\\x07\\x9b2J');
    const json = await runCli(['ls', '--socket-dir', dir, '--json'], dir);
    expectSafe(json.stdout);
    expect((JSON.parse(json.stdout) as Array<{ event: string }>)[0]!.event).toBe('\x1b]0;pwned\x07\x9b2J');
    const top = await runCli(['top', '--socket-dir', dir, '--count', '1'], dir);
    expect(top.code).toBe(0);
    expectSafe(top.stdout);
    expect(top.stdout).toContain('\\x1b]0;pwned\\x07\\x9b2J');
  });
});

/**
 * A raw server speaking the wire with Python's msgpack: it answers each stats request on
 * `{dir}/{event}.sock` with `stats` (any JSON value), for up to `connections` connections.
 */
const RAW_STATS_SERVER = `
import json, os, socket, struct, sys, time
import msgpack
path, stats, connections = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
old = os.umask(0o177)
srv.bind(path)
os.umask(old)
srv.listen(8)
srv.settimeout(30)
print("ready", flush=True)
for _ in range(connections):
    conn, _ = srv.accept()
    conn.settimeout(10)
    buf = b""
    done = False
    while not done:
        chunk = conn.recv(65536)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
            n = struct.unpack(">I", buf[:4])[0]
            msg = msgpack.unpackb(buf[4:4 + n], raw=False)
            buf = buf[4 + n:]
            data = msg.get("data") or {}
            if msg.get("message_type") == "control" and data.get("op") == "stats" and "id" in msg:
                reply = {"event_name": msg["event_name"], "timestamp_ms": int(time.time() * 1000), "timestamp_iso": "x",
                         "message_type": "control", "data": {"op": "stats", "stats": stats}, "reply_to": msg["id"]}
                body = msgpack.packb(reply, use_bin_type=True)
                conn.sendall(struct.pack(">I", len(body)) + body)
                done = True
    conn.close()
srv.close()
os.unlink(path)
`;

/** Starts the raw stats server for `event`; resolves once it listens. */
async function rawStatsServer(event: string, stats: unknown, connections: number): Promise<ChildProcess> {
  const script = join(dir, 'raw-stats-server.py');
  writeFileSync(script, RAW_STATS_SERVER);
  const child = spawn(
    '/usr/bin/python3',
    [script, join(dir, `${event}.sock`), JSON.stringify(stats), String(connections)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`raw stats server exited with ${code}`)));
  });
  return child;
}

async function stopRaw(child: ChildProcess, event: string): Promise<void> {
  if (child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
  for (let i = 0; i < 50 && existsSync(join(dir, `${event}.sock`)); i++) await sleep(10);
}

const GOOD_STATS = {
  event: HOSTILE,
  protocol: 3,
  startedAt: 1,
  uptimeMs: 1000,
  clients: [
    {
      id: `client-${HOSTILE}`,
      connectedAt: 1,
      handshake: true,
      pendingBytes: 0,
      messagesIn: 1,
      messagesOut: 1,
      bytesIn: 1,
      bytesOut: 1,
      dropped: 0,
    },
  ],
  maxConnections: 10,
  queue: { length: 0, capacity: 100, dropped: 0 },
  totals: { messagesIn: 1, messagesOut: 1, bytesIn: 1, bytesOut: 1, slowConsumerDisconnects: 0 },
  refused: { [`CODE${HOSTILE}`]: 1 },
  rates: { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 },
};

describe('stats from a hostile or broken server', () => {
  test('hostile names in a stats reply are escaped in text and JSON output', async () => {
    const raw = await rawStatsServer('odd', GOOD_STATS, 10);
    try {
      const text = await runCli(['stats', 'odd', '--socket-dir', dir], dir);
      expect(text.stderr).toBe('');
      expect(text.code).toBe(0);
      expectSafe(text.stdout);
      expect(text.stdout).toContain('event \\x1b]52;c;');
      expect(text.stdout).toContain('client-\\x1b]52');
      const json = await runCli(['stats', 'odd', '--socket-dir', dir, '--json'], dir);
      expect(json.code).toBe(0);
      expectSafe(json.stdout);
      expect(JSON.parse(json.stdout)).toEqual(GOOD_STATS);
    } finally {
      await stopRaw(raw, 'odd');
    }
  });

  test.each([
    ['an empty object', {}, 'protocol is missing'],
    ['clients that is a string', { ...GOOD_STATS, clients: 'many' }, 'clients is of type string, expected type array'],
    [
      'a client without an id',
      { ...GOOD_STATS, clients: [{ ...GOOD_STATS.clients[0], id: 7 }] },
      'clients[0].id is 7, expected type string',
    ],
    ['a queue that is null', { ...GOOD_STATS, queue: null }, 'queue is of type null, expected type object'],
  ])(
    'a stats reply with %s is INVALID_MESSAGE, exit 1, no stack trace (stats, and a marked row in top)',
    async (_name, stats, problem) => {
      const raw = await rawStatsServer('broken', { ...(stats as object), event: 'broken' }, 10);
      try {
        const r = await runCli(['stats', 'broken', '--socket-dir', dir], dir);
        expect(r.code).toBe(1);
        expect(r.stdout).toBe('');
        expect(r.stderr).toMatch(/^error INVALID_MESSAGE: .*broken\.sock sent a malformed stats reply \(/);
        expect(r.stderr).toContain(problem);
        expect(r.stderr.trim().split('\n')).toHaveLength(1); // no stack trace
        const top = await runCli(['top', '--socket-dir', dir, '--count', '1'], dir);
        expect(top.code).toBe(0);
        expect(top.stdout).toMatch(/broken\s+live \(INVALID_MESSAGE\)/);
      } finally {
        await stopRaw(raw, 'broken');
      }
    },
  );
});
