import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Broker, connect, startBroker } from '../src/index.js';

// Who startBroker answers `admin` messages from by default, and the broker figures in a monitor's stats.
const brokers: Broker[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(brokers.splice(0).map((b) => b.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'skbroker-admin-'));
  dirs.push(d);
  return d;
};

const start = async (options: Parameters<typeof startBroker>[0]): Promise<Broker> => {
  const b = await startBroker({ logLevel: 'silent', ...options });
  brokers.push(b);
  return b;
};

describe('admin messages of startBroker', () => {
  it('are answered by default on a private unix socket or with a token, not over tcp without one', async () => {
    const dir = tempDir();
    const unix = await start({ socketDir: dir });
    expect(unix.adminOps).toBe(true);
    const c = await connect({ socketDir: dir, logLevel: 'silent' });
    try {
      expect(await c.brokerStats()).toMatchObject({ pending: 0, dead: 0 });
    } finally {
      await c.close();
    }
    const open = await start({ transport: 'tcp', port: 0, socketDir: tempDir() });
    expect(open.adminOps).toBe(false);
    const o = await connect({ transport: 'tcp', port: open.port, logLevel: 'silent' });
    try {
      await expect(o.listTasks()).rejects.toMatchObject({ code: 'ADMIN_DISABLED' });
    } finally {
      await o.close();
    }
    const token = await start({
      transport: 'tcp',
      port: 0,
      socketDir: tempDir(),
      token: 'a-broker-token-of-32-bytes-123456',
    });
    expect(token.adminOps).toBe(true);
    expect((await start({ socketDir: tempDir(), adminOps: false })).adminOps).toBe(false);
    expect((await start({ transport: 'tcp', port: 0, socketDir: tempDir(), adminOps: true })).adminOps).toBe(true);
  });

  it("carry the broker's figures in the server's stats (what a monitor gets)", async () => {
    const b = await start({ socketDir: tempDir() });
    expect((b.server.stats() as unknown as { broker: unknown }).broker).toMatchObject({ pending: 0, durable: false });
  });
});
