// Server statistics and the monitor role (issue 17), over an in-memory duplex
// pair with fake timers.
import { describe, expect, it, jest } from '@jest/globals';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { ErrorCode, MessageType } from '@socketkit/protocol';
import { fetchStats, type ServerStats, type SocketServerOptions } from '../src/index.js';
import { useServerRig, settle, until } from './duplex-pair.js';

const rig = useServerRig();
const setup = (opts: Partial<SocketServerOptions> = {}) => rig.start(opts);

describe('server.stats()', () => {
  it('counts clients, messages and bytes both ways, queue and refusals', async () => {
    const { server, connect } = await setup({ maxConnections: 1, messageQueueSize: 2 });
    server.send({ q: 1 });
    server.send({ q: 2 });
    server.send({ q: 3 });
    const a = connect();
    a.hello();
    await until(() => a.messages.length === 3, 'welcome + queue of 2');
    a.send(MessageType.DATA, { n: 1 });
    a.send(MessageType.DATA, { n: 2 });
    const extra = connect();
    await until(() => extra.messages.length === 1, 'refusal');
    await until(() => server.stats().totals.messagesIn === 3, 'hello + 2 messages in');
    const s = server.stats();
    expect(s.event).toBe('rules');
    expect(s.queue).toEqual({ length: 0, capacity: 2, dropped: 1 });
    expect(s.refused).toEqual({ [ErrorCode.MAX_CONNECTIONS]: 1 });
    expect(s.clients).toHaveLength(1);
    const c = s.clients[0]!;
    expect(c).toMatchObject({ handshake: true, messagesIn: 3, messagesOut: 3, dropped: 0 });
    // Bytes are what crossed the wire: the client decoded exactly these frames.
    expect(c.bytesOut).toBe(a.decoder.bytesReceived);
    expect(s.totals.messagesOut).toBe(3);
    expect(s.totals.bytesIn).toBe(c.bytesIn);
    expect(s.uptimeMs).toBeGreaterThanOrEqual(0);
    expect(s.startedAt).toBeGreaterThan(0);
  });

  it('renders as Prometheus text a real parser reads', async () => {
    const { server, connect } = await setup();
    const a = connect();
    a.hello();
    await until(() => a.messages.length === 1, 'welcome');
    server.send({ x: 1 });
    const families = parsePrometheusTextFormat(server.metrics());
    const clients = families.find((f) => f.name === 'socketkit_clients');
    expect(clients?.metrics[0]).toEqual({ labels: { event: 'rules' }, value: '1' });
    const sent = families.find((f) => f.name === 'socketkit_messages_sent_total');
    expect(sent?.metrics[0]?.value).toBe('2');
  });
});

describe('collectStats: false', () => {
  it('keeps traffic counters at 0 and still reports clients, queue and refusals', async () => {
    const { server, connect } = await setup({ collectStats: false, maxConnections: 1 });
    const a = connect();
    a.hello();
    await until(() => a.messages.length === 1, 'welcome');
    server.send({ x: 1 });
    a.send(MessageType.DATA, { y: 1 });
    const extra = connect();
    await until(() => a.messages.length === 2 && extra.messages.length === 1, 'broadcast and refusal');
    const s = server.stats();
    expect(s.totals).toEqual({ messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, slowConsumerDisconnects: 0 });
    expect(s.clients).toHaveLength(1);
    expect(s.clients[0]).toMatchObject({ messagesIn: 0, messagesOut: 0 });
    expect(s.refused).toEqual({ [ErrorCode.MAX_CONNECTIONS]: 1 });
  });
});

describe('monitors', () => {
  it('a monitor gets the stats, never registers, never takes the queue, never fires clientConnected', async () => {
    const { server, client } = await setup({ exposeStats: true, messageQueueSize: 10 });
    const connected: string[] = [];
    server.on('clientConnected', (id) => connected.push(id));
    server.send({ queued: 1 });
    const stats: ServerStats = await fetchStats(client, 'rules', { timeoutMs: Infinity });
    expect(stats.event).toBe('rules');
    expect(stats.queue.length).toBe(1);
    expect(stats.clients).toEqual([]);
    await jest.advanceTimersByTimeAsync(10_000);
    await settle();
    expect(connected).toEqual([]);
    expect(server.getConnectedClients()).toEqual([]);
    expect(server.stats().queue.length).toBe(1);
  });

  it('a monitor is not counted toward maxConnections once it said hello', async () => {
    const { server, connect } = await setup({ exposeStats: true, maxConnections: 2 });
    const a = connect();
    a.hello();
    await until(() => a.messages.length === 1, 'welcome');
    const monitor = connect();
    monitor.hello({ role: 'monitor' });
    await settle();
    // The monitor holds no slot: a second client still gets in.
    const b = connect();
    b.hello();
    await until(() => b.messages.length === 1, 'second welcome');
    expect(b.ops()).toEqual(['welcome']);
    monitor.send(MessageType.CONTROL, { op: 'stats' }, { id: 'm1' });
    await until(() => monitor.messages.length === 1, 'stats reply');
    const reply = monitor.messages[0]!;
    expect(reply.replyTo).toBe('m1');
    expect((reply.data.stats as ServerStats).clients).toHaveLength(2);
    expect(server.stats().refused).toEqual({});
    expect(server.getConnectedClients()).toHaveLength(2);
  });

  it('a server that does not expose stats refuses a monitor with STATS_DISABLED', async () => {
    const { client } = await setup();
    await expect(fetchStats(client, 'rules', { timeoutMs: Infinity })).rejects.toMatchObject({
      code: ErrorCode.STATS_DISABLED,
    });
  });

  it('a peer in the monitor role may not send anything but one stats request', async () => {
    const { server, connect } = await setup({ exposeStats: true });
    const got: unknown[] = [];
    server.on('message', (m) => got.push(m.data));
    const p = connect();
    p.hello({ role: 'monitor' });
    p.send(MessageType.DATA, { sneaky: true });
    await until(() => p.messages.length === 1, 'refusal');
    expect(p.ops()).toEqual([ErrorCode.INVALID_MESSAGE]);
    expect(got).toEqual([]);
  });
});
