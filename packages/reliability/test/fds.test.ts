import { readdirSync } from 'node:fs';
import { expect, it } from '@jest/globals';
import { describeTransports, until } from '@socketkit/conformance';
import { record } from './report.js';

const CYCLES = 1000;
const openFds = (): number => readdirSync('/proc/self/fd').length;

describeTransports('no descriptor leak', (t) => {
  const name = t.name;
  it(`${CYCLES} connect/disconnect cycles leave open fds and socket files as they were`, async () => {
    const server = t.server({ maxConnections: 4 });
    await server.start();
    const addr = t.addr(server);
    const socketFiles = (): string[] => (addr.socketDir ? readdirSync(addr.socketDir) : []);
    // warm-up cycle so lazily opened handles (libuv, timers) are counted in the baseline
    const warm = t.client(server, { autoReconnect: false });
    await warm.connect({ waitForWelcome: true });
    await warm.disconnect();
    await until(() => server.getConnectedClients().length === 0, 'warm-up client gone');
    const fdsBefore = openFds();
    const filesBefore = socketFiles();
    for (let i = 0; i < CYCLES; i++) {
      const c = t.client(server, { autoReconnect: false });
      await c.connect({ waitForWelcome: true });
      server.send({ i });
      await c.receive();
      await c.disconnect();
    }
    await until(() => server.getConnectedClients().length === 0, 'all clients gone');
    await until(() => openFds() <= fdsBefore, `fds back to ${fdsBefore}`, 5000).catch(() => undefined);
    const fdsAfter = openFds();
    expect(fdsAfter).toBeLessThanOrEqual(fdsBefore);
    expect(socketFiles()).toEqual(filesBefore);
    record(`fds-${name}`, {
      cycles: CYCLES,
      fdsBefore,
      fdsAfter,
      socketFilesBefore: filesBefore.length,
      socketFilesAfter: socketFiles().length,
    });
  });
});
