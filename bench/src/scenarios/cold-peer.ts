/**
 * The processes of the cold-start scenario (issue 28), run as plain child programs (`node dist/scenarios/cold-peer.js
 * <role> <impl> <json>`), not as bench workers: a cold process must load only what its kind of program loads. Every
 * module is imported on demand, so the raw sender loads `node:net` and msgpackr and nothing else.
 *
 * - `serve <sk|raw|zmq> {transport, dir, event}`: a warm server. Prints `{"ready": address}`, then `{"recv": t}`
 *   (hrtime
 *   ns) for every message it receives, and sends one message to every listener that joins.
 * - `send <sk|raw|zmq> address`: connects, sends one message, closes, exits.
 * - `listen <sk|raw|zmq> address`: connects, prints `{"got": t}` on its first message, exits.
 */

type Transport = 'unix' | 'tcp';
interface ServeArgs {
  transport: Transport;
  dir: string;
  event: string;
}
/** Where a warm server listens (zeromq: one endpoint for senders, one for listeners). */
export interface ColdAddress {
  transport: Transport;
  event: string;
  dir: string;
  path?: string;
  host?: string;
  port?: number;
  /** The raw server's socket for listeners (senders use `path` / `port`). */
  listenPath?: string;
  listenPort?: number;
  zmqPull?: string;
  zmqPub?: string;
}

const DATA = { job: 'cold-start', step: 1, of: 1 };
const now = (): number => Number(process.hrtime.bigint());
const out = (o: unknown): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};

async function rawCodec(): Promise<{
  frame: (event: string) => Buffer;
  reader: (cb: () => void) => (b: Buffer) => void;
}> {
  const { Packr } = await import('msgpackr');
  const packr = new Packr({ useRecords: false, variableMapSize: true });
  const frame = (event: string): Buffer => {
    const now = new Date();
    const body = packr.pack({
      event_name: event,
      timestamp_ms: now.getTime(),
      timestamp_iso: now.toISOString(),
      message_type: 'data',
      data: DATA,
    });
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(body.length, 0);
    return Buffer.concat([head, body]);
  };
  const reader = (cb: () => void): ((b: Buffer) => void) => {
    let buf: Buffer = Buffer.alloc(0);
    return (chunk) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      while (buf.length >= 4) {
        const n = buf.readUInt32BE(0);
        if (buf.length < 4 + n) break;
        packr.unpack(buf.subarray(4, 4 + n));
        buf = buf.subarray(4 + n);
        cb();
      }
    };
  };
  return { frame, reader };
}

async function serve(impl: string, a: ServeArgs): Promise<void> {
  if (impl === 'sk') {
    const opts = { eventName: a.event, logLevel: 'silent' as const, envFile: false as const };
    const server =
      a.transport === 'unix'
        ? new (await import('@socketkit/unix')).UnixSocketServer({ ...opts, socketDir: a.dir })
        : new (await import('@socketkit/tcp')).TcpSocketServer({ ...opts, host: '127.0.0.1', port: 0 });
    server.on('message', () => out({ recv: now() }));
    server.on('clientConnected', (id: string) => {
      server.send(DATA, id);
    });
    await server.start();
    const port = 'port' in server ? (server.port as number) : undefined;
    out({ ready: { transport: a.transport, event: a.event, dir: a.dir, host: '127.0.0.1', port } });
  } else if (impl === 'raw') {
    const { createServer } = await import('node:net');
    const { join } = await import('node:path');
    const { frame, reader } = await rawCodec();
    // Senders and listeners connect to separate sockets: a greeting written to a sender that already closed would
    // fail (EPIPE) and could destroy the socket before its message was read.
    const senders = createServer((socket) => {
      socket.on(
        'data',
        reader(() => out({ recv: now() })),
      );
      socket.on('error', () => undefined);
    });
    const listeners = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.write(frame(a.event));
    });
    const path = join(a.dir, `${a.event}.sock`);
    const listenPath = join(a.dir, `${a.event}.listen.sock`);
    const bind = (server: import('node:net').Server, at: string): Promise<number | undefined> =>
      new Promise<void>((resolve) =>
        a.transport === 'unix' ? server.listen(at, resolve) : server.listen(0, '127.0.0.1', resolve),
      ).then(() => {
        const addr = server.address();
        return typeof addr === 'object' && addr !== null ? addr.port : undefined;
      });
    const port = await bind(senders, path);
    const listenPort = await bind(listeners, listenPath);
    out({
      ready: {
        transport: a.transport,
        event: a.event,
        dir: a.dir,
        path,
        listenPath,
        host: '127.0.0.1',
        port,
        listenPort,
      },
    });
  } else {
    const z = await import('zeromq');
    const pull = new z.Pull({ linger: 0 });
    const pub = new z.XPublisher({ linger: 0 });
    pub.verbosity = 'allSubs';
    const base = a.transport === 'unix' ? `ipc://${a.dir}/${a.event}` : 'tcp://127.0.0.1:*';
    await pull.bind(a.transport === 'unix' ? `${base}.pull` : base);
    await pub.bind(a.transport === 'unix' ? `${base}.pub` : base);
    const { frame } = await rawCodec();
    void (async () => {
      for await (const [msg] of pub) if (msg?.[0] === 1) await pub.send(frame(a.event).subarray(4));
    })();
    void (async () => {
      for await (const _ of pull) out({ recv: now() });
    })();
    out({
      ready: {
        transport: a.transport,
        event: a.event,
        dir: a.dir,
        zmqPull: pull.lastEndpoint,
        zmqPub: pub.lastEndpoint,
      },
    });
  }
}

async function skClient(a: ColdAddress) {
  const opts = { eventName: a.event, logLevel: 'silent' as const, envFile: false as const, autoReconnect: false };
  return a.transport === 'unix'
    ? new (await import('@socketkit/unix')).UnixSocketClient({ ...opts, socketDir: a.dir })
    : new (await import('@socketkit/tcp')).TcpSocketClient({ ...opts, host: a.host!, port: a.port! });
}

async function rawConnect(a: ColdAddress, listener: boolean): Promise<import('node:net').Socket> {
  const { connect } = await import('node:net');
  return new Promise((resolve, reject) => {
    const s =
      a.transport === 'unix'
        ? connect(listener ? a.listenPath! : a.path!)
        : connect(listener ? a.listenPort! : a.port!, a.host!);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

async function send(impl: string, a: ColdAddress): Promise<void> {
  if (impl === 'sk') {
    const client = await skClient(a);
    await client.connect();
    await client.send(DATA);
    await client.disconnect();
  } else if (impl === 'raw') {
    const { frame } = await rawCodec();
    const s = await rawConnect(a, false);
    await new Promise<void>((resolve) => s.end(frame(a.event), resolve));
  } else {
    const z = await import('zeromq');
    const push = new z.Push({ linger: 2000 });
    push.connect(a.zmqPull!);
    const { frame } = await rawCodec();
    await push.send(frame(a.event).subarray(4));
    push.close();
  }
}

async function listen(impl: string, a: ColdAddress): Promise<void> {
  const got = (): void => {
    out({ got: now() });
    process.exit(0);
  };
  if (impl === 'sk') {
    const client = await skClient(a);
    client.on('message', got);
    await client.connect();
  } else if (impl === 'raw') {
    const { reader } = await rawCodec();
    const s = await rawConnect(a, true);
    s.on('data', reader(got));
  } else {
    const z = await import('zeromq');
    const sub = new z.Subscriber({ linger: 0 });
    sub.connect(a.zmqPub!);
    sub.subscribe();
    const { Packr } = await import('msgpackr');
    for await (const [msg] of sub) {
      new Packr({ useRecords: false }).unpack(msg!);
      got();
    }
  }
}

const [role, impl, json] = process.argv.slice(2);
const args = JSON.parse(json ?? '{}');
const run = role === 'serve' ? serve(impl!, args) : role === 'send' ? send(impl!, args) : listen(impl!, args);
run.catch((err: unknown) => {
  process.stderr.write(`cold-peer ${role} ${impl}: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
