// Issue 23 item 11: without a token, broadcasts reach an awaiting peer live
// (after the hello window), so a socketkit client must still get its welcome
// first. Race: clients connect while the server broadcasts as hard as it can.
import { expect, it } from '@jest/globals';
import { describeTransports, onCleanup } from '../src/harness.js';

const ROUNDS = 150;
const BUDGET_MS = 20_000;

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
      storming = false;
      expect({ rounds: rounds >= 20, foreign }).toEqual({ rounds: true, foreign: 0 });
      expect(sent).toBeGreaterThan(0);
      process.stderr.write(`[measure] ${t.name}: ${rounds} clients connected under ${sent} broadcasts, ${foreign} saw a frame before their welcome\n`);
    }, 60_000);
  },
  (t) => t.caps.python,
);
