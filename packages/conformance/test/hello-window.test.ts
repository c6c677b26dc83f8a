// Issue 23 item 11: without a token, broadcasts reach an awaiting peer live
// (after the hello window), so a socketkit client must still get its welcome
// first. Race: clients connect while the server broadcasts as hard as it can.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from '@jest/globals';
import type { SocketServer } from '@socketkit/core';
import { describeTransports, onCleanup } from '../src/harness.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'hello-late.mjs');
const CHILD_ROUNDS = 4;
const CHILDREN = 8;

function runChild(cfg: Record<string, unknown>): Promise<{ ok?: boolean; welcomedAsMessage?: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CHILD, JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    onCleanup(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    child.once('close', () =>
      resolve(out.trim() === '' ? {} : (JSON.parse(out.trim()) as { ok?: boolean; welcomedAsMessage?: boolean })),
    );
  });
}

const ROUNDS = 150;
const BUDGET_MS = 20_000;

/** Broadcasts 20 messages a setImmediate turn until stopped (or the test's cleanup); `sent()` counts them. */
function broadcastStorm(server: SocketServer): { sent(): number; stop(): void } {
  let storming = true;
  let sent = 0;
  const storm = (): void => {
    if (!storming) return;
    for (let i = 0; i < 20; i++) server.send({ n: sent++ });
    setImmediate(storm);
  };
  onCleanup(() => {
    storming = false;
  });
  storm();
  return {
    sent: () => sent,
    stop: () => {
      storming = false;
    },
  };
}

describeTransports(
  'hello window',
  (t) => {
    it(`a socketkit client connecting under a broadcast storm gets its welcome first (${ROUNDS} rounds)`, async () => {
      const server = t.server({ messageQueueSize: 10 });
      await server.start();
      // One registered client reads the storm, so broadcasts are live (not only queued).
      const reader = t.client(server, { bufferMessages: false });
      reader.on('message', () => undefined);
      await reader.connect({ waitForWelcome: true });
      const storm = broadcastStorm(server);
      const started = Date.now();
      let rounds = 0;
      let foreign = 0;
      for (; rounds < ROUNDS && Date.now() - started < BUDGET_MS; rounds++) {
        const c = t.client(server, { bufferMessages: false, autoReconnect: false });
        let first: unknown;
        c.on('message', (m) => {
          first ??= m.data;
        });
        await c.connect({ waitForWelcome: true, timeout: 5000 });
        // A welcome delivered as a message would mean the client took the server for a foreign one.
        if (c.welcome === undefined || (first as { op?: unknown } | undefined)?.op === 'welcome') foreign++;
        await c.disconnect();
      }
      storm.stop();
      expect({ rounds: rounds >= 20, foreign }).toEqual({ rounds: true, foreign: 0 });
      expect(storm.sent()).toBeGreaterThan(0);
      process.stderr.write(
        `[measure] ${t.name}: ${rounds} clients connected under ${storm.sent()} broadcasts, ${foreign} saw a frame ` +
          `before their welcome\n`,
      );
    }, 60_000);

    const title =
      `clients in their own processes, started ${CHILDREN} at once under a broadcast storm, are all welcomed ` +
      '(a late hello is refused ADMISSION_FULL and retried, never half-served)';
    it(title, async () => {
      const server = t.server({ messageQueueSize: 10, maxConnections: 64 });
      await server.start();
      const refused: string[] = [];
      server.on('peerRefused', (r) => refused.push(r.code));
      const storm = broadcastStorm(server);
      const a = t.addr(server);
      const cfg = { kind: t.name, eventName: server.eventName, socketDir: a.socketDir, port: a.port };
      const results: Array<{ ok?: boolean; welcomedAsMessage?: boolean }> = [];
      for (let round = 0; round < CHILD_ROUNDS; round++)
        results.push(...(await Promise.all(Array.from({ length: CHILDREN }, () => runChild(cfg)))));
      storm.stop();
      const bad = results.filter((r) => r.ok !== true || r.welcomedAsMessage !== false);
      process.stderr.write(
        `[measure] ${t.name}: ${results.length} child clients under ${storm.sent()} broadcasts: ` +
          `${results.length - bad.length} welcomed, ` +
          `${refused.filter((c) => c === 'ADMISSION_FULL').length} late hellos refused and retried\n`,
      );
      expect(bad).toEqual([]);
    }, 90_000);
  },
  (t) => t.caps.python,
);
