// Issue 22 (Trust v3) items 7, 9, 11 and 12, engine rules over the in-memory
// duplex pair with fake timers: eviction is never fatal and spares a peer in
// its exchange; a slot only once registered; every refusal visible; invalid
// input cannot amplify. Real-socket variants: conformance/test/admission-slots,
// reliability/test/trust-admission.
import { describe, expect, it, jest } from '@jest/globals';
import { ErrorCode, MessageType, type SocketError } from '@socketkit/protocol';
import { ClientAuth, SocketClient, SocketServer, type PeerRefusal, type SocketLogger } from '../src/index.js';
import { memoryServerTransport, settle, until, useServerRig, type RawPeer } from './duplex-pair.js';
import { FakeServer, fakeClient } from './fake-server.js';

const rig = useServerRig();
const token = 'secret-secret-secret';

/** A logger that keeps its warning lines (as the default logger would print them). */
function captureLog(): SocketLogger & { warns: string[]; bytes(): number } {
  const warns: string[] = [];
  const noop = (): undefined => undefined;
  return {
    warns,
    debug: noop,
    info: noop,
    error: noop,
    warn: (...args: unknown[]) => {
      warns.push(args.map(String).join(' '));
    },
    bytes: () => warns.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0),
  };
}

/** An invalid message: a well-framed payload that is msgpack but not a map (0xc0 = nil). */
const INVALID = Buffer.from([0, 0, 0, 1, 0xc0]);

describe('item 7: eviction is never fatal', () => {
  it('a token peer that said hello and got its challenge is not evicted by 40 newer silent peers', async () => {
    const { server, connect } = await rig.start({ token, maxUnauthenticated: 8 });
    const refusals: PeerRefusal[] = [];
    server.on('peerRefused', (r) => refusals.push(r));
    const good = connect();
    const auth = new ClientAuth(token, 'rules');
    good.send(MessageType.CONTROL, auth.hello());
    await until(() => good.messages.length > 0, 'challenge');
    // Its proof is on the way (a slow round trip) while 40 silent peers arrive.
    for (let i = 0; i < 40; i++) connect();
    await settle();
    const proof = auth.onChallenge(good.messages[0]?.data ?? {});
    if (!proof.ok || proof.send === undefined) throw new Error('the server did not prove the token');
    good.send(MessageType.CONTROL, proof.send);
    await until(() => good.messages.length > 1 || good.closed, 'welcome or refusal');
    expect(good.ops()).toEqual(['auth_challenge', 'welcome']);
    expect(server.getConnectedClients()).toHaveLength(1);
    expect(server.connectionCounts.awaiting).toBeLessThanOrEqual(8);
    // The silent ones evicted each other, with the retryable code.
    expect(refusals.length).toBe(40 + 1 - 8);
    expect(new Set(refusals.map((r) => r.code))).toEqual(new Set([ErrorCode.ADMISSION_FULL]));
  });

  it('when only peers in their exchange wait, a new connection is refused ADMISSION_FULL (they are kept)', async () => {
    const { server, connect } = await rig.start({ token, maxUnauthenticated: 4 });
    const inExchange: RawPeer[] = [];
    for (let i = 0; i < 4; i++) {
      const p = connect();
      p.send(MessageType.CONTROL, new ClientAuth(token, 'rules').hello());
      inExchange.push(p);
    }
    await until(() => inExchange.every((p) => p.messages.length === 1), 'challenges');
    const late = connect();
    await until(() => late.messages.length > 0, 'refusal');
    expect(late.ops()).toEqual([ErrorCode.ADMISSION_FULL]);
    expect(inExchange.every((p) => !p.closed && p.ops().length === 1)).toBe(true);
    expect(server.connectionCounts.awaiting).toBe(4);
  });

  it('a token client evicted before its hello arrives gets ADMISSION_FULL, retries with backoff and is welcomed', async () => {
    const { server, transport, connect } = await rig.start({ token, maxUnauthenticated: 8 });
    let dials = 0;
    // Its first connection is accepted, then 8 silent peers arrive before its hello is read: it is the oldest silent
    // one.
    const flooded = {
      kind: 'memory',
      address: () => 'memory',
      connect: async () => {
        const s = transport.open();
        if (dials++ === 0) for (let i = 0; i < 8; i++) connect();
        return s;
      },
    };
    const client = new SocketClient({
      eventName: 'rules',
      transport: flooded,
      token,
      logLevel: 'silent',
      reconnect: { jitter: 0 },
    });
    const errors: string[] = [];
    client.on('error', (e) => errors.push((e as SocketError).code));
    const welcomed = client.connect({ waitForWelcome: true, timeout: 60_000 });
    await until(() => errors.length > 0, 'eviction reported');
    await jest.advanceTimersByTimeAsync(1000); // backoff
    await welcomed;
    expect(errors).toEqual([ErrorCode.ADMISSION_FULL]);
    expect(dials).toBe(2);
    expect(client.isConnected()).toBe(true);
    expect(server.getConnectedClients()).toHaveLength(1);
    await client.disconnect();
  });
});

describe('item 9: a peer holds a client slot only once it is registered', () => {
  it.each([
    ['requireHello (as on NATS)', { requireHello: true }],
    ['a long registration grace (unix, tcp)', { registerGraceMs: 60_000 }],
  ])('20 silent peers never keep 2 clients out of maxConnections 2 (%s)', async (_name, extra) => {
    const { server, connect } = await rig.start({ maxConnections: 2, maxUnauthenticated: 8, ...extra });
    const silent = Array.from({ length: 20 }, () => connect());
    await settle();
    // Without a token the bound is maxUnauthenticated plus the free slots.
    expect(server.connectionCounts.awaiting).toBe(8 + 2);
    const clients = [connect(), connect()];
    for (const c of clients) c.hello();
    await until(() => clients.every((c) => c.messages.length > 0), 'answers');
    expect(clients.map((c) => c.ops()[0])).toEqual(['welcome', 'welcome']);
    expect(server.getConnectedClients()).toHaveLength(2);
    // The oldest silent peers were evicted with the retryable code.
    expect(silent.filter((p) => p.ops()[0] === ErrorCode.ADMISSION_FULL).length).toBe(20 + 2 - (8 + 2));
    expect(server.connectionCounts.awaiting).toBe(8);
    // A third client finds the server full: MAX_CONNECTIONS, as before.
    const third = connect();
    third.hello();
    await until(() => third.messages.length > 0, 'refusal');
    expect(third.ops()).toEqual([ErrorCode.MAX_CONNECTIONS]);
  });
});

describe('item 11: every refusal is visible on the server', () => {
  it(
    'token refusals, protocol mismatches, wrong events, evictions and a full server each emit peerRefused and a ' +
      'warning',
    async () => {
      const log = captureLog();
      const { server, connect } = await rig.start({ token, maxUnauthenticated: 2, maxConnections: 1, logger: log });
      const refusals: PeerRefusal[] = [];
      server.on('peerRefused', (r) => refusals.push(r));
      const wrongToken = connect();
      const auth = new ClientAuth('another-secret-secret', 'rules');
      wrongToken.send(MessageType.CONTROL, auth.hello());
      await until(() => wrongToken.messages.length > 0, 'challenge');
      const step = auth.onChallenge(wrongToken.messages[0]?.data ?? {});
      // the server proved another token: a client stops here; a hostile one sends a proof anyway
      expect(step.ok).toBe(false);
      wrongToken.send(MessageType.CONTROL, { op: 'auth_proof', proof: 'AAAA' });
      const v1 = connect();
      v1.hello(); // protocol 1 to a token server
      const otherEvent = connect();
      otherEvent.send(MessageType.CONTROL, { ...new ClientAuth(token, 'other').hello(), event: 'other' });
      await until(
        () => [wrongToken, v1, otherEvent].every((p) => p.closed || p.messages.some((m) => m.messageType === 'error')),
        'refused',
      );
      // eviction: three silent peers under maxUnauthenticated 2
      for (let i = 0; i < 3; i++) connect();
      await settle();
      const codes = refusals.map((r) => r.code);
      expect(codes).toEqual(
        expect.arrayContaining([
          ErrorCode.UNAUTHORIZED,
          ErrorCode.PROTOCOL_MISMATCH,
          ErrorCode.WRONG_EVENT,
          ErrorCode.ADMISSION_FULL,
        ]),
      );
      for (const r of refusals) {
        expect(r.peer.transport).toBe('memory');
        expect(r.peer.id).toMatch(/^client_\d+_\d+$/);
        expect(typeof r.reason).toBe('string');
      }
      for (const code of [
        ErrorCode.UNAUTHORIZED,
        ErrorCode.PROTOCOL_MISMATCH,
        ErrorCode.WRONG_EVENT,
        ErrorCode.ADMISSION_FULL,
      ])
        expect(log.warns.filter((l) => l.includes(`with ${code}:`))).toHaveLength(1);
      expect(server.stats().refused).toMatchObject({ UNAUTHORIZED: 1, PROTOCOL_MISMATCH: 1, WRONG_EVENT: 1 });
    },
  );

  it('the warning is rate-limited: 200 refusals of one code in a second are one line and one summary line', async () => {
    const log = captureLog();
    const { server, connect } = await rig.start({ token, maxRefusing: 0, maxUnauthenticated: 500, logger: log });
    let events = 0;
    server.on('peerRefused', () => events++);
    for (let i = 0; i < 200; i++) connect().send(MessageType.DATA, { no: 'hello' });
    await until(() => events === 200, '200 refusals');
    expect(log.warns).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1001);
    expect(log.warns).toHaveLength(2);
    expect(log.warns[1]).toMatch(/^199 more like this in the last 1000 ms/);
  });
});

describe('item 12: invalid input cannot amplify', () => {
  it(
    '100k invalid frames from one peer: past maxInvalidPerSecond (default 1000) it is disconnected ' +
      '(TOO_MANY_INVALID); a few log lines',
    async () => {
      const log = captureLog();
      const { server, connect } = await rig.start({ logger: log });
      server.removeAllListeners('error'); // the log is what is measured
      const p = connect();
      p.hello();
      await until(() => p.messages.length > 0, 'welcome');
      const chunk = Buffer.concat(Array.from({ length: 1000 }, () => INVALID));
      for (let i = 0; i < 100 && !p.ended; i++) {
        p.write(chunk);
        await settle(2);
      }
      await until(() => p.ops().includes(ErrorCode.TOO_MANY_INVALID), 'disconnected');
      expect(server.stats().totals.invalidMessages).toBe(1000);
      expect(server.stats().refused).toMatchObject({ TOO_MANY_INVALID: 1 });
      await jest.advanceTimersByTimeAsync(1001);
      expect(log.warns.length).toBeLessThanOrEqual(3); // first invalid, its summary, the refusal
      expect(log.bytes()).toBeLessThan(2000);
    },
  );

  it(
    'with maxInvalidPerSecond: Infinity, 100k invalid frames are skipped, the peer stays, and the log is one line ' +
      'plus one summary per second',
    async () => {
      const log = captureLog();
      const { server, connect } = await rig.start({ logger: log, maxInvalidPerSecond: Infinity });
      server.removeAllListeners('error');
      const p = connect();
      p.hello();
      await until(() => p.messages.length > 0, 'welcome');
      const chunk = Buffer.concat(Array.from({ length: 1000 }, () => INVALID));
      for (let i = 0; i < 100; i++) {
        p.write(chunk);
        await settle(2);
      }
      await until(() => server.stats().totals.invalidMessages === 100_000, 'all skipped');
      await jest.advanceTimersByTimeAsync(1001);
      expect(log.warns).toHaveLength(2);
      expect(log.warns[1]).toMatch(/^99999 more like this/);
      expect(server.getConnectedClients()).toHaveLength(1);
      expect(p.closed).toBe(false);
    },
  );

  it('an error listener still sees every skipped message (the application decides what to log)', async () => {
    const { server, connect } = await rig.start({});
    const seen: string[] = [];
    server.on('error', (e) => seen.push((e as SocketError).code));
    const p = connect();
    p.hello();
    await until(() => p.messages.length > 0, 'welcome');
    for (let i = 0; i < 5; i++) p.write(INVALID);
    await until(() => seen.length === 5, 'five reports');
    expect(seen).toEqual(Array(5).fill(ErrorCode.INVALID_MESSAGE));
  });

  it('maxInvalidPerSecond is validated like the other bounds', () => {
    for (const bad of [0, -1, 1.5, Number.NaN])
      expect(
        () => new SocketServer({ eventName: 'rules', transport: memoryServerTransport(), maxInvalidPerSecond: bad }),
      ).toThrow(
        expect.objectContaining({
          code: ErrorCode.INVALID_CONFIG,
          message: expect.stringContaining('maxInvalidPerSecond'),
        }),
      );
  });

  it('the client reports each skipped invalid frame (error INVALID_MESSAGE), counts it, and keeps receiving', async () => {
    const fs = new FakeServer();
    const client = fakeClient(fs);
    const errors: string[] = [];
    client.on('error', (e) => errors.push((e as SocketError).code));
    await client.connect({ waitForWelcome: false }); // the fake server welcomes below
    const peer = fs.last;
    peer.welcome();
    for (let i = 0; i < 3; i++) peer.stream.write(INVALID);
    peer.send('data', { after: 1 });
    const m = await client.receive({ timeout: 1000 });
    expect(m.data).toEqual({ after: 1 });
    expect(errors).toEqual(Array(3).fill(ErrorCode.INVALID_MESSAGE));
    expect(client.invalidMessages).toBe(3);
    expect(client.isConnected()).toBe(true);
    await client.disconnect();
  });

  it('without an error listener the client logs skipped frames rate-limited: 10,000 frames, two lines', async () => {
    const fs = new FakeServer();
    const log = captureLog();
    const client = fakeClient(fs, { logger: log });
    await client.connect({ waitForWelcome: false }); // the fake server welcomes below
    const peer = fs.last;
    peer.welcome();
    peer.stream.write(Buffer.concat(Array.from({ length: 10_000 }, () => INVALID)));
    await until(() => client.invalidMessages === 10_000, 'all skipped');
    await jest.advanceTimersByTimeAsync(1001);
    expect(log.warns).toHaveLength(2);
    await client.disconnect();
  });
});
