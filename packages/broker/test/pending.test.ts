import { afterEach, describe, expect, it } from '@jest/globals';
import { BrokerCore, type BrokerMessage, MemoryStore } from '../src/index.js';

// kiwipy's PENDING (a subscriber returned a future): forwarded to the submitter or RPC caller, never an outcome.
const cores: BrokerCore[] = [];
afterEach(() => {
  for (const c of cores.splice(0)) c.close();
});

function harness() {
  const sent: { to: string; m: BrokerMessage }[] = [];
  const core = new BrokerCore({ send: (to, m) => sent.push({ to, m }) }, new MemoryStore(), {});
  cores.push(core);
  for (const c of ['w', 's']) core.connected(c);
  const to = (conn: string, kind: string) => sent.filter((x) => x.to === conn && x.m.kind === kind).map((x) => x.m);
  return { core, sent, to };
}

describe('pending (a subscriber returned a future)', () => {
  it('task: progress with pending:true reaches the submitter (current delivery only)', () => {
    const h = harness();
    h.core.handle('w', { kind: 'subscribe', ref: 1, type: 'task', identifier: 'x' });
    h.core.handle('s', { kind: 'task', ref: 1, taskId: 't', body: 1, noReply: false });
    h.core.handle('w', { kind: 'progress', taskId: 't', attempt: 2, pending: true }); // stale attempt: ignored
    h.core.handle('s', { kind: 'progress', taskId: 't', attempt: 1, pending: true }); // not the worker: ignored
    expect(h.to('s', 'pending')).toEqual([]);
    h.core.handle('w', { kind: 'progress', taskId: 't', attempt: 1, pending: true });
    h.core.handle('w', { kind: 'progress', taskId: 't', attempt: 1 }); // a plain progress is not forwarded
    expect(h.to('s', 'pending')).toEqual([{ kind: 'pending', taskId: 't' }]);
    expect(h.to('s', 'outcome')).toEqual([]);
    h.core.handle('w', { kind: 'result', ref: 2, taskId: 't', attempt: 1, ok: true, result: 42 });
    expect(h.to('s', 'outcome')).toEqual([{ kind: 'outcome', taskId: 't', ok: true, result: 42 }]);
  });

  it('RPC: rpcReply with pending:true reaches the caller as {kind: "pending", ref}; the answer follows', () => {
    const h = harness();
    h.core.handle('w', { kind: 'subscribe', ref: 1, type: 'rpc', identifier: 'svc' });
    h.core.handle('s', { kind: 'rpc', ref: 9, recipient: 'svc', body: 1 });
    const call = h.to('w', 'call')[0] as BrokerMessage;
    h.core.handle('w', { kind: 'rpcReply', callId: call.callId, pending: true });
    h.core.handle('w', { kind: 'rpcReply', callId: call.callId, pending: true });
    expect(h.to('s', 'pending')).toEqual([
      { kind: 'pending', ref: 9 },
      { kind: 'pending', ref: 9 },
    ]);
    h.core.handle('w', { kind: 'rpcReply', callId: call.callId, ok: true, result: 'done' });
    const replies = h.to('s', 'reply').filter((m) => m.ref === 9);
    expect(replies).toEqual([{ kind: 'reply', ref: 9, ok: true, result: 'done' }]);
  });
});
