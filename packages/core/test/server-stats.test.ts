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
    expect(s.totals).toEqual({
      messagesIn: 0,
      messagesOut: 0,
      bytesIn: 0,
      bytesOut: 0,
      slowConsumerDisconnects: 0,
      invalidMessages: 0,
    });
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
    await until(() => monitor.messages.length === 2, 'welcome and stats reply');
    expect(monitor.ops()).toEqual(['welcome', 'stats']);
    expect(monitor.messages[0]!.data).toMatchObject({ role: 'monitor', event: 'rules' });
    const reply = monitor.messages[1]!;
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
    await until(() => p.messages.length === 2, 'refusal');
    expect(p.ops()).toEqual(['welcome', ErrorCode.INVALID_MESSAGE]);
    expect(got).toEqual([]);
  });
});

describe('monitors of token servers (challenge-response, then monitoring)', () => {
  const token = 'monitor-token-0123456789abcdef';

  it('a proven monitor is answered, never registers, takes no slot and leaves the queue', async () => {
    const { server, client } = await setup({ token, exposeStats: true });
    const connected: string[] = [];
    server.on('clientConnected', (id) => connected.push(id));
    server.send({ queued: 1 });
    const stats = await fetchStats(client, 'rules', { token, timeoutMs: Infinity });
    expect(stats.queue.length).toBe(1);
    expect(stats.clients).toEqual([]);
    await settle();
    expect(connected).toEqual([]);
    expect(server.stats().queue.length).toBe(1);
    expect(server.stats().refused).toEqual({});
    expect(server.connectionCounts).toEqual({ awaiting: 0, registered: 0, refusing: 0, handshaking: 0 });
  });

  it('a monitor with the wrong token is refused UNAUTHORIZED; without one too, naming the token', async () => {
    const { server, client } = await setup({ token, exposeStats: true });
    server.send({ queued: 1 });
    await expect(
      fetchStats(client, 'rules', { token: 'wrong-token-0123456789abcdef', timeoutMs: Infinity }),
    ).rejects.toMatchObject({
      code: ErrorCode.UNAUTHORIZED,
    });
    await expect(fetchStats(client, 'rules', { timeoutMs: Infinity })).rejects.toMatchObject({
      code: ErrorCode.UNAUTHORIZED,
      message: expect.stringContaining('token'),
    });
    expect(server.stats().queue.length).toBe(1);
  });
});

describe('the monitors bound (maxMonitors) and full servers', () => {
  it('at most maxMonitors monitors at once: one more is refused MAX_CONNECTIONS', async () => {
    const { connect } = await setup({ exposeStats: true, maxMonitors: 2 });
    const m1 = connect();
    const m2 = connect();
    m1.hello({ role: 'monitor' });
    m2.hello({ role: 'monitor' });
    await settle();
    const m3 = connect();
    m3.hello({ role: 'monitor' });
    await until(() => m3.messages.length === 1, 'refusal');
    expect(m3.ops()).toEqual([ErrorCode.MAX_CONNECTIONS]);
    expect(String(m3.messages[0]!.data.error)).toContain('maxMonitors');
    m1.send(MessageType.CONTROL, { op: 'stats' }, { id: 'a' });
    await until(() => m1.messages.some((m) => m.replyTo === 'a'), 'first monitor answered');
    await jest.advanceTimersByTimeAsync(1000);
    await until(() => m1.closed, 'first monitor closed');
    const m4 = connect();
    m4.hello({ role: 'monitor' });
    m4.send(MessageType.CONTROL, { op: 'stats' }, { id: 'b' });
    await until(() => m4.messages.some((m) => m.replyTo === 'b'), 'a new monitor answered');
  });

  it('a full server without a token still answers a monitor; others are refused MAX_CONNECTIONS as before', async () => {
    const { server, connect } = await setup({ exposeStats: true, maxConnections: 1, maxMonitors: 2 });
    const connected: string[] = [];
    server.on('clientConnected', (id) => connected.push(id));
    const a = connect();
    a.hello();
    await until(() => a.messages.length === 1, 'welcome');
    // A monitor connecting to the full server.
    const m = connect();
    m.hello({ role: 'monitor' });
    m.send(MessageType.CONTROL, { op: 'stats' }, { id: 's' });
    await until(() => m.messages.some((x) => x.replyTo === 's'), 'stats of a full server');
    // A client saying hello, and one sending data, are refused at their first frame.
    const b = connect();
    b.hello();
    const c = connect();
    c.send(MessageType.DATA, { x: 1 });
    await until(() => b.messages.length === 1 && c.messages.length === 1, 'refusals');
    expect(b.ops()).toEqual([ErrorCode.MAX_CONNECTIONS]);
    expect(c.ops()).toEqual([ErrorCode.MAX_CONNECTIONS]);
    // A silent peer (a Python client) is refused when the registration grace ends.
    const silent = connect();
    await settle();
    expect(silent.messages).toEqual([]);
    await jest.advanceTimersByTimeAsync(600);
    await until(() => silent.messages.length === 1, 'refusal after the grace');
    expect(silent.ops()).toEqual([ErrorCode.MAX_CONNECTIONS]);
    // Past maxMonitors peers waiting to show they are monitors, the next one is refused at accept.
    const w1 = connect();
    const w2 = connect();
    const w3 = connect();
    await until(() => w3.messages.length === 1, 'refused at accept');
    expect(w3.ops()).toEqual([ErrorCode.MAX_CONNECTIONS]);
    expect(w1.messages).toEqual([]);
    expect(w2.messages).toEqual([]);
    expect(connected).toHaveLength(1);
    expect(server.stats().refused).toEqual({ [ErrorCode.MAX_CONNECTIONS]: 4 });
    expect(server.getConnectedClients()).toHaveLength(1);
  });

  it('a full server that does not expose stats refuses at accept, as before', async () => {
    const { connect } = await setup({ maxConnections: 1 });
    const a = connect();
    a.hello();
    await until(() => a.messages.length === 1, 'welcome');
    const m = connect();
    await until(() => m.messages.length === 1, 'refused at accept');
    expect(m.ops()).toEqual([ErrorCode.MAX_CONNECTIONS]);
  });
});

describe('slowConsumerDisconnects counts disconnects, once each', () => {
  it('under the drop policy dropped messages are counted as dropped, not as disconnects', async () => {
    const { server, connect } = await setup({ slowConsumerPolicy: 'drop', maxPendingBytes: 64 * 1024 });
    const dropped: number[] = [];
    server.on('messageDropped', (_id, n) => dropped.push(n));
    const p = connect(false);
    p.hello();
    await until(() => server.getConnectedClients().length === 1, 'registered');
    for (let i = 0; i < 40; i++) server.send({ blob: 'x'.repeat(4000) });
    const s = server.stats();
    expect(s.clients[0]!.dropped).toBeGreaterThan(0);
    expect(dropped.at(-1)).toBe(s.clients[0]!.dropped);
    expect(s.totals.slowConsumerDisconnects).toBe(0);
    expect(p.closed).toBe(false);
  });

  it('a client cut off past maxPendingBytes counts once, however many sends hit it', async () => {
    const { server, connect } = await setup({ slowConsumerPolicy: 'disconnect', maxPendingBytes: 64 * 1024 });
    const p = connect(false);
    p.hello();
    await until(() => server.getConnectedClients().length === 1, 'registered');
    for (let i = 0; i < 40; i++) server.send({ blob: 'x'.repeat(4000) });
    await until(() => server.getConnectedClients().length === 0, 'cut off');
    expect(server.stats().totals.slowConsumerDisconnects).toBe(1);
  });

  it('a client that does not drain within drainTimeout is counted as a slow-consumer disconnect', async () => {
    const { server, connect } = await setup({
      slowConsumerPolicy: 'disconnect',
      drainTimeout: 1000,
      maxPendingBytes: 4 * 1024 * 1024,
    });
    const codes: string[] = [];
    server.on('clientDisconnected', (_id, _reason, code) => codes.push(code));
    const p = connect(false);
    p.hello();
    await until(() => server.getConnectedClients().length === 1, 'registered');
    for (let i = 0; i < 20; i++) server.send({ blob: 'x'.repeat(10_000) });
    await settle();
    void server.drain();
    await settle();
    await jest.advanceTimersByTimeAsync(1001);
    await until(() => server.getConnectedClients().length === 0, 'cut off by drain()');
    expect(server.stats().totals.slowConsumerDisconnects).toBe(1);
    await jest.advanceTimersByTimeAsync(server.settings.closeTimeout + 1);
    await until(() => codes.length === 1, 'disconnected');
    expect(codes).toEqual([ErrorCode.SLOW_CONSUMER]);
  });
});
