/**
 * A benchmark worker process: hosts the servers or the clients of one
 * scenario (socketkit and the raw baselines side by side) and runs the
 * commands the coordinator (`run.js`) sends over the fork IPC channel.
 */
import { makeData } from './payload.js';
import { RawClient, RawServer } from './raw.js';
import type { Address, Impl, SlowBroadcastOptions, TransportKind, WorkerRequest, WorkerResponse } from './types.js';

type ServerLike = { start(t: TransportKind, dir: string): Promise<Address>; clientCount(): number; stop(): Promise<void> } & Pick<RawServer, 'armIngress' | 'waitIngress' | 'broadcast'>;
type ClientLike = Pick<RawClient, 'arm' | 'waitCount' | 'requests' | 'write' | 'close'>;

const servers = new Map<string, ServerLike>();
const clients = new Map<string, ClientLike>();
const skServers = new Map<string, import('./sk.js').SkServer>();
const dataCache = new Map<number, Record<string, unknown>>();
let sk: typeof import('./sk.js') | undefined;

/** socketkit is imported only by workers that use it, so raw-only processes carry none of it. */
async function loadSk(): Promise<typeof import('./sk.js')> {
  sk ??= await import('./sk.js');
  return sk;
}

function data(bytes: number): Record<string, unknown> {
  let d = dataCache.get(bytes);
  if (d === undefined) {
    d = makeData(bytes);
    dataCache.set(bytes, d);
  }
  return d;
}

function get<T>(map: Map<string, T>, key: string): T {
  const v = map.get(key);
  if (v === undefined) throw new Error(`no ${key} in this worker`);
  return v;
}

type Args = Record<string, unknown>;
const str = (a: Args, k: string): string => a[k] as string;
const num = (a: Args, k: string): number => a[k] as number;

const commands: Record<string, (a: Args) => unknown> = {
  ping: () => ({ pid: process.pid }),

  async startServer(a) {
    const impl = str(a, 'impl') as Impl;
    const transport = str(a, 'transport') as TransportKind;
    const eventName = str(a, 'eventName');
    let server: ServerLike;
    if (impl === 'socketkit') {
      const s = new (await loadSk()).SkServer(transport, eventName, str(a, 'socketDir'), a.drainTimeout as number | undefined, a.natsUrl as string | undefined);
      skServers.set(impl, s);
      server = s;
    } else {
      server = new RawServer(eventName, impl === 'raw-coalesced');
    }
    servers.set(impl, server);
    return server.start(transport, str(a, 'socketDir'));
  },

  async waitClients(a) {
    const s = get(servers, str(a, 'impl'));
    const deadline = Date.now() + 10_000;
    while (s.clientCount() < num(a, 'n')) {
      if (Date.now() > deadline) throw new Error(`only ${s.clientCount()} of ${num(a, 'n')} clients connected`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return s.clientCount();
  },

  broadcast: (a) => get(servers, str(a, 'impl')).broadcast(num(a, 'count'), data(num(a, 'payloadBytes')), num(a, 'drainEveryBytes')),
  slowBroadcast: (a) => get(skServers, 'socketkit').slowBroadcast(a as unknown as SlowBroadcastOptions),
  armIngress: (a) => get(servers, str(a, 'impl')).armIngress(num(a, 'total')),
  waitIngress: (a) => get(servers, str(a, 'impl')).waitIngress(),
  async stopServer(a) {
    const impl = str(a, 'impl');
    await servers.get(impl)?.stop();
    servers.delete(impl);
    skServers.delete(impl);
  },

  async connect(a) {
    const impl = str(a, 'impl') as Impl;
    const key = str(a, 'key') ?? impl;
    const address = a.address as Address;
    if (impl === 'socketkit') {
      const c = new (await loadSk()).SkClient(address, a.slow === true);
      await c.connect();
      clients.set(key, c);
    } else {
      clients.set(key, await RawClient.connect(address, impl === 'raw-coalesced'));
    }
    return true;
  },
  arm: (a) => get(clients, str(a, 'key')).arm(num(a, 'count')),
  waitCount: (a) => get(clients, str(a, 'key')).waitCount(),
  requests: (a) => get(clients, str(a, 'key')).requests(num(a, 'count'), num(a, 'warmup'), data(num(a, 'payloadBytes'))),
  write: (a) => get(clients, str(a, 'key')).write(num(a, 'count'), data(num(a, 'payloadBytes')), num(a, 'batchBytes')),
  async disconnect(a) {
    const key = str(a, 'key');
    await clients.get(key)?.close();
    clients.delete(key);
  },

  /** Decodes one frame through @socketkit/codec, then reads msgpackr's native-acceleration flag. */
  async info() {
    const { FrameDecoder, encodeFrame } = await import('@socketkit/codec');
    const { createMessage } = await import('@socketkit/protocol');
    new FrameDecoder().push(encodeFrame(createMessage('probe', 'data', { text: 'x'.repeat(200) })));
    const { isNativeAccelerationEnabled } = await import('msgpackr');
    return { pid: process.pid, msgpackrNative: isNativeAccelerationEnabled };
  },

  async exit() {
    await Promise.allSettled([...clients.values()].map((c) => c.close()));
    await Promise.allSettled([...servers.values()].map((s) => s.stop()));
    setImmediate(() => process.exit(0));
    return true;
  },
};

process.on('message', (raw) => {
  const req = raw as WorkerRequest;
  const reply = (r: WorkerResponse): void => {
    if (process.connected) process.send?.(r);
  };
  const fn = commands[req.cmd];
  if (fn === undefined) {
    reply({ id: req.id, ok: false, error: `unknown command ${req.cmd}` });
    return;
  }
  Promise.resolve()
    .then(() => fn(req.args))
    .then(
      (result) => reply({ id: req.id, ok: true, result: result ?? null }),
      (err: unknown) => reply({ id: req.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
});
// The coordinator went away: do not linger.
process.on('disconnect', () => process.exit(0));
