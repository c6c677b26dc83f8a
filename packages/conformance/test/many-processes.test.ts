import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from '@jest/globals';
import { describeTransports, onCleanup, until } from '../src/harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const PEER = join(here, 'fixtures', 'peer.mjs');
const PROCS = 8;
const COUNT = 5000;

interface Child {
  stdout: string;
  exited: Promise<number | null>;
}

function runPeer(cfg: object): Child {
  const child = spawn(process.execPath, [PEER, JSON.stringify(cfg)], {
    cwd: join(here, '..'),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const state: Child = { stdout: '', exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
  child.stdout.on('data', (c: Buffer) => (state.stdout += c.toString()));
  onCleanup(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return state;
}

describeTransports(
  'many concurrent processes',
  (t) => {
    it(`${PROCS} writer processes × ${COUNT} messages at once: every message intact, none lost, per-writer order ` +
      `kept`, async () => {
      const server = t.server({ maxConnections: PROCS + 2, messageQueueSize: 0 });
      await server.start();
      const next = new Map<number, number>();
      let bad = 0;
      let total = 0;
      server.on('message', (m) => {
        total++;
        const w = m.data.writer as number;
        const expected = next.get(w) ?? 0;
        if (m.data.seq !== expected || m.data.pad !== 'w'.repeat(64)) bad++;
        next.set(w, expected + 1);
      });
      const writers = Array.from({ length: PROCS }, (_, writer) =>
        runPeer({ role: 'writer', ...t.addr(server), eventName: server.eventName, count: COUNT, writer }),
      );
      const codes = await Promise.all(writers.map((w) => w.exited));
      expect(codes).toEqual(Array(PROCS).fill(0));
      await until(() => total === PROCS * COUNT, `all ${PROCS * COUNT} messages`, 60000);
      expect(bad).toBe(0);
      expect([...next.values()]).toEqual(Array(PROCS).fill(COUNT));
    }, 90000);

    it(`broadcast to ${PROCS} receiver processes: each gets all ${COUNT} in order`, async () => {
      const server = t.server({ maxConnections: PROCS + 2 });
      await server.start();
      const receivers = Array.from({ length: PROCS }, () =>
        runPeer({ role: 'receiver', ...t.addr(server), eventName: server.eventName, count: COUNT }),
      );
      await until(
        () => receivers.every((r) => r.stdout.includes('ready')) && server.getConnectedClients().length === PROCS,
        'receivers ready',
        60000,
      );
      for (let seq = 0; seq < COUNT; seq++) {
        expect(server.send({ seq })).toBe(PROCS);
        if (seq % 500 === 0) await server.drain();
      }
      const codes = await Promise.all(receivers.map((r) => r.exited));
      expect(codes).toEqual(Array(PROCS).fill(0));
      for (const r of receivers) {
        const summary = JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as {
          received: number;
          outOfOrder: number;
        };
        expect(summary).toEqual({ received: COUNT, outOfOrder: 0 });
      }
    }, 90000);
  },
  (t) => t.caps.processes,
);
