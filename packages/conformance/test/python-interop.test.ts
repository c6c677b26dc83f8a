import { spawn, spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from '@jest/globals';
import { type ClientTransport, SILENT_SERVER_GRACE_MS, SocketClient, type SocketServer } from '@socketkit/core';
import { ErrorCode } from '@socketkit/protocol';
import { TcpClientTransport } from '@socketkit/tcp';
import { UnixClientTransport } from '@socketkit/unix';
import { describeTransports, onCleanup, tempDir, type TransportFactory, uniqueEvent, until } from '../src/harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const SCRIPT = join(here, 'fixtures', 'interop.py');
// Debian's python3 with python3-msgpack, installed by scripts/ensure-system-deps.sh.
const PYTHON = '/usr/bin/python3';

interface PyLine {
  message?: Record<string, unknown>;
  types?: Record<string, string>;
  listening?: unknown;
  /** `listen` mode: epoch ms of the connect, and of each receipt. */
  connected?: number;
  at?: number;
}

function runPython(args: string[]): { lines: PyLine[]; exited: Promise<number | null>; stderr: () => string } {
  const child = spawn(PYTHON, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: PyLine[] = [];
  let buf = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => {
    buf += c.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, i)) as PyLine);
      buf = buf.slice(i + 1);
    }
  });
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  onCleanup(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return { lines, exited: new Promise((resolve) => child.once('exit', resolve)), stderr: () => err };
}

it('python3 with msgpack is available (installed by scripts/ensure-system-deps.sh)', () => {
  const r = spawnSync(PYTHON, ['-c', 'import msgpack; print(msgpack.version)']);
  expect(r.status).toBe(0);
});

/** The `unix:`/`tcp:` target of `server` for interop.py. */
function pyTarget(t: TransportFactory, server: SocketServer): string {
  const a = t.addr(server);
  return a.kind === 'unix'
    ? `unix:${(server as unknown as { socketPath: string }).socketPath}`
    : `tcp:127.0.0.1:${a.port}`;
}

/**
 * Starts interop.py's `server` mode (it sends `sends` messages and exits after `reads` reads) where `t`'s
 * clients connect, and waits until it listens; `transport` is a client transport to it.
 */
async function pythonServer(
  t: TransportFactory,
  eventName: string,
  sends: string,
  reads: string,
): Promise<{ py: ReturnType<typeof runPython>; transport: ClientTransport }> {
  let transport;
  let target: string;
  if (t.name === 'unix') {
    transport = new UnixClientTransport(tempDir(), eventName);
    target = `unix:${transport.path}`;
  } else target = 'tcp:127.0.0.1:0';
  const py = runPython(['server', target, eventName, sends, reads]);
  await until(() => py.lines.length > 0, `python server listening ${py.stderr()}`);
  if (t.name === 'tcp') transport = new TcpClientTransport('127.0.0.1', py.lines[0]?.listening as number, eventName);
  return { py, transport: transport as UnixClientTransport };
}

describeTransports(
  'Python interop',
  (t) => {
    it('a Python client talks to a socketkit server', async () => {
      const server = t.server();
      await server.start();
      const got: Array<Record<string, unknown>> = [];
      server.on('message', (m) => got.push(m.data));
      const a = t.addr(server);
      const target =
        a.kind === 'unix'
          ? `unix:${(server as unknown as { socketPath: string }).socketPath}`
          : `tcp:127.0.0.1:${a.port}`;
      const py = runPython(['client', target, server.eventName, '3', '2']);
      await until(() => got.length === 3, 'three messages from python');
      expect(got.map((d) => d.seq)).toEqual([0, 1, 2]);
      expect(got[0]).toEqual({ from: 'python', seq: 0, nested: { list: [1, 2.5, null, true], big: 2 ** 40 } });
      server.send({ from: 'node', big: 1795425789109, text: 'héllo ✓' });
      server.send({ from: 'node', seq: 2 });
      expect(await py.exited).toBe(0);
      expect(py.lines).toHaveLength(2);
      const first = py.lines[0] as Required<PyLine>;
      // Python sees plain maps, no control messages (it never said hello), integer timestamps
      expect(first.message.event_name).toBe(server.eventName);
      expect(first.message.message_type).toBe('data');
      expect(first.types.timestamp_ms).toBe('int');
      expect(first.message.timestamp_iso).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$/);
      expect(first.message.data).toEqual({ from: 'node', big: 1795425789109, text: 'héllo ✓' });
    });

    it('a Python client (no hello) gets a live broadcast during its registration grace, not when the grace ends', async () => {
      // A 5 s grace makes it deterministic: before issue 23 the broadcast was held until the grace ended.
      const server = t.server({ registerGraceMs: 5000 });
      await server.start();
      // A registered socketkit client, so the broadcast is live (not queued).
      const other = t.client(server);
      await other.connect({ waitForWelcome: true });
      const connected: string[] = [];
      server.on('clientConnected', (id) => connected.push(id));
      // It reads two messages: it stays connected (awaiting) while the first is checked.
      const py = runPython(['listen', pyTarget(t, server), server.eventName, '0', '2']);
      await until(() => py.lines.length > 0, `python client connected ${py.stderr()}`);
      await until(() => server.connectionCounts.awaiting === 1, 'the python peer awaits registration');
      const sentAt = Date.now();
      server.send({ live: 1 });
      await until(() => py.lines.length === 2, `the broadcast reaches python ${py.stderr()}`);
      const got = py.lines[1] as Required<PyLine>;
      const first = got.at - (py.lines[0]?.connected as number);
      process.stderr.write(
        `[measure] ${t.name}: python first-message latency ${first.toFixed(1)} ms after its connect ` +
          `(${(got.at - sentAt).toFixed(1)} ms after send)\n`,
      );
      // Still within its grace: not registered, no clientConnected.
      expect(server.connectionCounts.awaiting).toBe(1);
      expect(connected).toEqual([]);
      expect(got.message.data).toEqual({ live: 1 });
      server.send({ live: 2 });
      expect(await py.exited).toBe(0);
      expect(py.lines[2]?.message?.data).toEqual({ live: 2 });
    });

    it('a Python client gets live broadcasts at once and the queue when its grace ends, each message once', async () => {
      const server = t.server({ registerGraceMs: 300 });
      await server.start();
      server.send({ queued: 1 });
      const connected: string[] = [];
      server.on('clientConnected', (id) => connected.push(id));
      const py = runPython(['listen', pyTarget(t, server), server.eventName, '0', '2']);
      await until(() => py.lines.length > 0, `python client connected ${py.stderr()}`);
      await until(() => server.connectionCounts.awaiting === 1, 'the python peer awaits registration');
      server.send({ live: 1 });
      expect(await py.exited).toBe(0);
      // Live first (from accept), then the queue at registration; the live one
      // (queued too, as no client was registered) is not written twice.
      expect(py.lines.slice(1).map((l) => l.message?.data)).toEqual([{ live: 1 }, { queued: 1 }]);
      await until(() => connected.length === 1, 'clientConnected after the grace');
      expect(server.queuedMessages).toBe(0);
    });

    it('a socketkit client (handshake: false) talks to a Python server', async () => {
      const eventName = uniqueEvent('py');
      const { py, transport } = await pythonServer(t, eventName, '2', '1');
      const client = new SocketClient({
        eventName,
        transport,
        handshake: false,
        autoReconnect: false,
        logLevel: 'silent',
      });
      onCleanup(() => client.disconnect());
      await client.connect();
      const m1 = await client.receive();
      const m2 = await client.receive();
      expect(m1.eventName).toBe(eventName);
      expect(Number.isInteger(m1.timestampMs)).toBe(true);
      expect(m1.data).toEqual({ from: 'python', seq: 0, nested: { list: [1, 2.5, null, true], big: 2 ** 40 } });
      expect(m2.data.seq).toBe(1);
      await client.send({ from: 'node', answer: 42 });
      expect(await py.exited).toBe(0);
      const back = py.lines[1] as Required<PyLine>;
      expect(back.message.data).toEqual({ from: 'node', answer: 42 });
      expect(back.types.timestamp_ms).toBe('int');
    });

    it(
      'a request to a Python server (it never welcomes, it drops id) fails at once with REQUESTS_UNSUPPORTED (issue ' +
        '23 item 6)',
      async () => {
        const eventName = uniqueEvent('pyreq');
        // sends 1 message, reads 2 (our hello, then our send) and exits
        const { py, transport } = await pythonServer(t, eventName, '1', '2');
        const client = new SocketClient({ eventName, transport, autoReconnect: false, logLevel: 'silent' });
        onCleanup(() => client.disconnect());
        await client.connect();
        expect((await client.receive()).data.from).toBe('python');
        // far longer than the test: only an immediate answer passes
        await expect(client.request({ q: 1 }, { timeout: 600_000 })).rejects.toMatchObject({
          code: ErrorCode.REQUESTS_UNSUPPORTED,
          message: expect.stringMatching(/does not answer requests: it never sent a welcome/),
        });
        // nothing of the request reached the Python server: its second read is our next send
        await client.send({ after: true });
        expect(await py.exited).toBe(0);
        expect((py.lines[2] as Required<PyLine>).message.data).toEqual({ after: true });
      },
    );

    it(
      'with the handshake on, connect() to a silent Python server resolves after SILENT_SERVER_GRACE_MS; requests ' +
        'fail at once',
      async () => {
        const eventName = uniqueEvent('pysilent');
        // sends nothing and reads until we close (it is killed at cleanup)
        const { transport } = await pythonServer(t, eventName, '0', '2');
        const client = new SocketClient({ eventName, transport, autoReconnect: false, logLevel: 'silent' });
        onCleanup(() => client.disconnect());
        await client.connect({ timeout: 10 * SILENT_SERVER_GRACE_MS });
        expect(client.state).toBe('open');
        expect(client.welcome).toBeUndefined();
        await expect(client.request({ q: 1 }, { timeout: 10_000 })).rejects.toMatchObject({
          code: ErrorCode.REQUESTS_UNSUPPORTED,
        });
        // A connect timeout shorter than the grace still says what to do.
        const other = new SocketClient({ eventName, transport, autoReconnect: false, logLevel: 'silent' });
        onCleanup(() => other.disconnect());
        await expect(other.connect({ timeout: 300 })).rejects.toMatchObject({
          code: ErrorCode.TIMEOUT,
          message: expect.stringMatching(/did not answer hello .*handshake: false/),
        });
      },
    );
  },
  (t) => t.caps.python,
);
