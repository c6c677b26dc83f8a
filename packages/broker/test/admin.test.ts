import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrokerCore, type BrokerMessage, MemoryStore, startBroker, type Broker } from '../src/index.js';

// The admin.* messages (`socketkit broker tasks|requeue|purge`) and who may send them.
const cores: BrokerCore[] = [];
const brokers: Broker[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const c of cores.splice(0)) c.close();
  await Promise.all(brokers.splice(0).map((b) => b.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function harness(admin: boolean) {
  const sent: { to: string; m: BrokerMessage }[] = [];
  const core = new BrokerCore({ send: (to, m) => sent.push({ to, m }) }, new MemoryStore(), { maxDeliveries: 1 });
  core.adminAllowed = admin;
  cores.push(core);
  let ref = 0;
  const send = (conn: string, m: Record<string, unknown>): BrokerMessage | undefined => {
    const r = ++ref;
    core.handle(conn, { ...m, ref: r });
    return sent.find((x) => x.to === conn && x.m.kind === 'reply' && x.m.ref === r)?.m;
  };
  return { core, send };
}

const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'skbroker-admin-'));
  dirs.push(d);
  return d;
};

describe('admin messages', () => {
  it('are refused ADMIN_DISABLED unless allowed', () => {
    const h = harness(false);
    h.core.connected('op');
    for (const kind of ['admin.stats', 'admin.tasks', 'admin.requeue', 'admin.purge'])
      expect(h.send('op', { kind, taskId: 'x' })).toMatchObject({ ok: false, error: { code: 'ADMIN_DISABLED' } });
  });

  it('list tasks per state, requeue a dead task, purge the dead letters, report stats', () => {
    const h = harness(true);
    for (const c of ['w', 's', 'op']) h.core.connected(c);
    h.send('w', { kind: 'subscribe', type: 'task', identifier: 'w', prefetch: 1 });
    h.send('s', { kind: 'task', taskId: 'a', body: 1 });
    h.send('s', { kind: 'task', taskId: 'b', body: 2 });
    expect(h.send('op', { kind: 'admin.tasks', state: 'inflight' })?.result).toMatchObject([{ taskId: 'a' }]);
    expect(h.send('op', { kind: 'admin.tasks', state: 'pending' })?.result).toMatchObject([{ taskId: 'b' }]);
    h.core.disconnected('w'); // maxDeliveries 1: a (in flight) is dead-lettered; b was never delivered
    expect(h.send('op', { kind: 'admin.tasks', state: 'dead' })?.result).toMatchObject([{ taskId: 'a', failures: 1 }]);
    expect(h.send('op', { kind: 'admin.stats' })?.result).toMatchObject({ dead: 1, pending: 1, inflight: 0 });
    expect(h.send('op', { kind: 'admin.requeue', taskId: 'a' })).toMatchObject({ ok: true, result: true });
    expect(h.send('op', { kind: 'admin.requeue', taskId: 'a' })).toMatchObject({ ok: true, result: false });
    expect(h.send('op', { kind: 'admin.tasks', state: 'pending', limit: 1 })?.result).toHaveLength(1);
    expect(h.send('op', { kind: 'admin.tasks', state: 'gone' })).toMatchObject({ error: { code: 'INVALID_REQUEST' } });
    expect(h.send('op', { kind: 'admin.tasks', limit: 0 })).toMatchObject({ error: { code: 'INVALID_REQUEST' } });
    expect(h.send('op', { kind: 'admin.requeue' })).toMatchObject({ error: { code: 'INVALID_REQUEST' } });
    expect(h.send('op', { kind: 'admin.purge' })).toMatchObject({ ok: true, result: 0 });
  });

  it('are allowed by default on a private unix socket or with a token, not over tcp without one', async () => {
    const unix = await startBroker({ socketDir: tempDir(), logLevel: 'silent' });
    brokers.push(unix);
    expect(unix.core.adminAllowed).toBe(true);
    const open = await startBroker({ transport: 'tcp', port: 0, socketDir: tempDir(), logLevel: 'silent' });
    brokers.push(open);
    expect(open.core.adminAllowed).toBe(false);
    const token = await startBroker({
      transport: 'tcp',
      port: 0,
      socketDir: tempDir(),
      token: 'a-broker-token-of-32-bytes-123456',
      logLevel: 'silent',
    });
    brokers.push(token);
    expect(token.core.adminAllowed).toBe(true);
    const off = await startBroker({ socketDir: tempDir(), admin: false, logLevel: 'silent' });
    brokers.push(off);
    expect(off.core.adminAllowed).toBe(false);
    // A monitor's stats carry the broker's figures.
    expect((unix.server.stats() as unknown as { broker: unknown }).broker).toMatchObject({ pending: 0, dead: 0 });
  });
});
