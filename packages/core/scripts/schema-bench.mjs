#!/usr/bin/env node
// Microbench of the `schema` option (issue 23 item 7): one client receives N
// small DATA messages from a server over an in-memory duplex pair, read by
// a 'message' listener (the schema runs once) or by `for await` from the
// receive buffer (it runs twice: when the message arrives, and again on the
// fresh decode of its buffered bytes), without and with a valibot schema.
// Prints messages/s per case; no assertion (a note, not a test).
// Run after a build: node packages/core/scripts/schema-bench.mjs [N]
import { Duplex, PassThrough } from 'node:stream';
import * as v from 'valibot';
import { SocketClient, SocketServer } from '../dist/index.js';

const N = Number(process.argv[2] ?? 200_000);
const ROUNDS = 3;

function memory() {
  let accept;
  return {
    server: {
      kind: 'memory',
      address: () => 'memory',
      listen: async (on) => void (accept = on),
      close: async () => void (accept = undefined),
    },
    client: {
      kind: 'memory',
      address: () => 'memory',
      connect: async () => {
        const ab = new PassThrough();
        const ba = new PassThrough();
        accept(Duplex.from({ readable: ab, writable: ba }));
        return Duplex.from({ readable: ba, writable: ab });
      },
    },
  };
}

const Progress = v.object({ percent: v.pipe(v.number(), v.minValue(0), v.maxValue(100)), label: v.string() });

async function run(schema, mode) {
  const t = memory();
  const server = new SocketServer({
    eventName: 'bench',
    transport: t.server,
    logLevel: 'silent',
    maxPendingBytes: 1 << 30,
    drainTimeout: 60_000,
  });
  await server.start();
  const client = new SocketClient({
    eventName: 'bench',
    transport: t.client,
    logLevel: 'silent',
    autoReconnect: false,
    bufferSize: N + 1,
    maxBufferedBytes: 1 << 30,
    ...(schema ? { schema } : {}),
  });
  await client.connect({ waitForWelcome: true });
  let got = 0;
  const start = process.hrtime.bigint();
  const done =
    mode === 'listener'
      ? new Promise((resolve) => client.on('message', () => ++got === N && resolve()))
      : (async () => {
          for await (const _ of client) if (++got === N) return;
        })();
  for (let i = 0; i < N; i++) {
    server.send({ percent: i % 101, label: 'copy' });
    if (i % 1000 === 999) await server.drain();
  }
  await done;
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  await client.disconnect();
  await server.stop();
  return N / s;
}

for (const mode of ['listener', 'for await']) {
  const results = { without: [], with: [] };
  for (let r = 0; r < ROUNDS; r++) {
    results.without.push(await run(undefined, mode));
    results.with.push(await run(Progress, mode));
  }
  const best = (a) => Math.max(...a);
  const w = best(results.without);
  const s = best(results.with);
  console.log(
    `${mode.padEnd(9)}  without schema ${Math.round(w).toLocaleString('en')} msg/s   ` +
      `with valibot schema ${Math.round(s).toLocaleString('en')} msg/s   ` +
      `(${(((w - s) / w) * 100).toFixed(1)} % slower; best of ${ROUNDS}, N=${N})`,
  );
}
