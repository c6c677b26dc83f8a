// RPC and broadcasts on the JetStream backend (one nats-server with -js, started here).
import { describe, expect, it } from '@jest/globals';
import {
  BroadcastFilter,
  type BroadcastInfo,
  DuplicateSubscriberIdentifier,
  RecipientLost,
  RemoteException,
  RpcTimeout,
  UnroutableError,
} from '../src/index.js';
import { minimalSubjects, subscriberSubjects } from '../src/jetstream/names.js';
import { sleep, until } from './helpers.js';
import { jetStreamForThisFile, jsFixture, namespace, natsBinary } from './jetstream-helpers.js';

const d = natsBinary === undefined ? describe.skip : describe;
const server = jetStreamForThisFile();
const comm = server.comm;

d(`JetStream backend: RPC${natsBinary === undefined ? ' [skipped: no nats-server binary]' : ''}`, () => {
  it(
    'answers, deferred answers, a throw is RemoteException, the timeout is the caller’s, unknown is UnroutableError ' +
      'at once',
    async () => {
      const ns = namespace();
      const server = await comm(ns);
      const client = await comm(ns);
      await server.addRpcSubscriber(async (body) => {
        const b = body as { wait?: number; fail?: boolean };
        if (b.wait) await sleep(b.wait);
        if (b.fail) throw Object.assign(new Error('no'), { code: 'NOPE' });
        return { got: body };
      }, 'svc');
      await expect(client.rpcSend('svc', { a: 1 })).resolves.toEqual({ got: { a: 1 } });
      await expect(client.rpcSend('svc', { wait: 300 }, { timeoutMs: 5000 })).resolves.toEqual({ got: { wait: 300 } });
      const e = await client.rpcSend('svc', { fail: true }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(RemoteException);
      expect((e as RemoteException).remoteCode).toBe('NOPE');
      await expect(client.rpcSend('svc', { wait: 2000 }, { timeoutMs: 100 })).rejects.toBeInstanceOf(RpcTimeout);
      await expect(client.rpcSend('nobody', 1)).rejects.toBeInstanceOf(UnroutableError);
    },
  );

  it('an identifier is unique across the cluster (KV create-if-absent), free again after removal or close', async () => {
    const ns = namespace();
    const a = await comm(ns);
    const b = await comm(ns);
    await a.addRpcSubscriber(() => 'a', 'one');
    await expect(b.addRpcSubscriber(() => 'b', 'one')).rejects.toBeInstanceOf(DuplicateSubscriberIdentifier);
    await a.removeRpcSubscriber('one');
    await b.addRpcSubscriber(() => 'b', 'one');
    await expect(a.rpcSend('one', null)).resolves.toBe('b');
    await b.close();
    await a.addRpcSubscriber(() => 'a again', 'one');
    await expect(a.rpcSend('one', null)).resolves.toBe('a again');
    // Identifiers that are not NATS tokens are encoded.
    await a.addRpcSubscriber(() => 'odd', 'with space.and*star>');
    await expect(a.rpcSend('with space.and*star>', null)).resolves.toBe('odd');
  });

  it('a holder that dies: RecipientLost for its pending call, its identifier expires (KV TTL) and can be taken', async () => {
    const ns = namespace();
    const conn = { servers: server.url(), name: ns, storage: 'memory', rpcTtlMs: 1500 };
    const holder = jsFixture({ role: 'rpc', conn, rpc: 'svc' });
    await holder.waitFor((e) => e.ev === 'ready');
    const client = await comm(ns, { rpcTtlMs: 1500, rpcPingMs: 200 });
    await expect(client.rpcSend('svc', 1)).resolves.toMatchObject({ echo: 1 });
    const call = client.rpcSend('svc', { hang: true }).catch((x: unknown) => x);
    await holder.waitFor((e) => e.ev === 'call' && (e.body as { hang?: boolean })?.hang === true);
    holder.kill('SIGKILL');
    expect(await call).toBeInstanceOf(RecipientLost);
    // Its KV entry is still there until the TTL passes.
    await expect(client.addRpcSubscriber(() => 'mine', 'svc')).rejects.toBeInstanceOf(DuplicateSubscriberIdentifier);
    let taken = false;
    for (let i = 0; i < 60 && !taken; i++) {
      await sleep(100);
      taken = await client
        .addRpcSubscriber(() => 'mine', 'svc')
        .then(
          () => true,
          () => false,
        );
    }
    expect(taken).toBe(true);
    await expect(client.rpcSend('svc', 1)).resolves.toBe('mine');
  });

  it('a live holder keeps its identifier past the TTL (heartbeat refresh)', async () => {
    const ns = namespace();
    const a = await comm(ns, { rpcTtlMs: 600 });
    const b = await comm(ns, { rpcTtlMs: 600 });
    await a.addRpcSubscriber(() => 'a', 'kept');
    await sleep(1500);
    await expect(b.addRpcSubscriber(() => 'b', 'kept')).rejects.toBeInstanceOf(DuplicateSubscriberIdentifier);
    await expect(b.rpcSend('kept', null)).resolves.toBe('a');
  });
});

d(`JetStream backend: broadcasts${natsBinary === undefined ? ' [skipped: no nats-server binary]' : ''}`, () => {
  it('filters are pushed down to NATS wildcards only where exact, and applied again with kiwipy semantics', () => {
    const p = 'sk.x.bc';
    expect(subscriberSubjects(p, () => undefined)).toEqual(['sk.x.bc.>']);
    expect(subscriberSubjects(p, new BroadcastFilter(() => undefined))).toEqual(['sk.x.bc.>']);
    expect(subscriberSubjects(p, new BroadcastFilter(() => undefined, { subject: 'state.*' }))).toEqual([
      'sk.x.bc.n',
      'sk.x.bc.s.state.>',
      'sk.x.bc.x',
    ]);
    // kiwipy matches "a.b" as a prefix ("a.bc" passes): only "a." can be pushed down.
    expect(subscriberSubjects(p, new BroadcastFilter(() => undefined, { subject: 'a.b' }))).toContain('sk.x.bc.s.a.>');
    // No complete token before a special character: nothing can be pushed down.
    expect(subscriberSubjects(p, new BroadcastFilter(() => undefined, { subject: 'st*' }))).toEqual(['sk.x.bc.>']);
    expect(subscriberSubjects(p, new BroadcastFilter(() => undefined, { subject: /state/ }))).toEqual(['sk.x.bc.>']);
    // Strict mode without "*" is an exact subject.
    expect(subscriberSubjects(p, new BroadcastFilter(() => undefined, { subject: 'a.b', strict: true }))).toEqual([
      'sk.x.bc.n',
      'sk.x.bc.s.a.b',
    ]);
    expect(minimalSubjects(['sk.x.bc.s.a.>', 'sk.x.bc.s.a.b.>', 'sk.x.bc.s.a.b', 'sk.x.bc.n'])).toEqual([
      'sk.x.bc.n',
      'sk.x.bc.s.a.>',
    ]);
  });

  it('every communicator with a subscriber hears a broadcast once, filtered as kiwipy does', async () => {
    const ns = namespace();
    const a = await comm(ns);
    const b = await comm(ns);
    const sender = await comm(ns);
    const heard: [string, unknown, BroadcastInfo][] = [];
    await a.addBroadcastSubscriber((body, info) => void heard.push(['a-all', body, info]));
    await a.addBroadcastSubscriber(
      new BroadcastFilter((body, info) => void heard.push(['a-state', body, info]), { subject: 'state.*' }),
    );
    await b.addBroadcastSubscriber(
      new BroadcastFilter((body, info) => void heard.push(['b-ab', body, info]), { subject: 'a.b' }),
    );
    await b.addBroadcastSubscriber(
      new BroadcastFilter((body, info) => void heard.push(['b-pk1', body, info]), {
        subject: 'state.*',
        sender: 'pk-1',
      }),
    );
    expect(a.broadcastSubjects).toEqual([`sk.${ns}.bc.>`]); // a function subscriber needs everything
    expect(b.broadcastSubjects).toEqual([
      `sk.${ns}.bc.n`,
      `sk.${ns}.bc.s.a.>`,
      `sk.${ns}.bc.s.state.>`,
      `sk.${ns}.bc.x`,
    ]);
    sender.broadcastSend(1, { subject: 'state.finished', sender: 'pk-1' });
    sender.broadcastSend(2, { subject: 'state.running', sender: 'pk-2' });
    sender.broadcastSend(3, { subject: 'a.bc' });
    sender.broadcastSend(4, { subject: 'a.x' });
    sender.broadcastSend(5);
    sender.broadcastSend(6, { subject: 'odd subject with spaces' });
    await until(() => heard.filter((h) => h[0] === 'a-all').length === 6, 5000, 'six broadcasts');
    await sleep(100);
    const who = (name: string): unknown[] => heard.filter((h) => h[0] === name).map((h) => h[1]);
    expect(who('a-all')).toEqual([1, 2, 3, 4, 5, 6]);
    expect(who('a-state')).toEqual([1, 2, 5]);
    expect(who('b-ab')).toEqual([3, 5]);
    expect(who('b-pk1')).toEqual([1, 5]);
    expect(heard.find((h) => h[1] === 1)?.[2]).toEqual({ subject: 'state.finished', sender: 'pk-1' });
  });

  it('a subject filter added after subscribing widens the pushed-down subjects', async () => {
    const ns = namespace();
    const a = await comm(ns);
    const got: unknown[] = [];
    const f = new BroadcastFilter((body) => void got.push(body), { subject: 'x.*' });
    await a.addBroadcastSubscriber(f, 'late');
    f.addSubjectFilter('y.*');
    await until(() => a.broadcastSubjects.includes(`sk.${ns}.bc.s.y.>`), 2000, 'the new subject');
    a.broadcastSend('y', { subject: 'y.1' });
    await until(() => got.length === 1, 2000, 'the broadcast');
    await a.removeBroadcastSubscriber('late');
    expect(a.broadcastSubjects).toEqual([]);
  });
});
