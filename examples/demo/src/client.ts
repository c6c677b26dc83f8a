/**
 * A demo client process: writes numbered messages a few ms apart for the
 * given duration while receiving everything the server relays, then
 * announces its total and waits until it has seen every writer's total.
 *
 * Flow control: a writer stays at most WINDOW messages ahead of its own
 * messages coming back from the server, so on a slow or busy machine the
 * writers slow down instead of burying the readers (whom the server would
 * then disconnect as slow consumers).
 */
import { SocketError, createClient, type SocketType } from 'socketkit';
import { EVENT, report, tally, type Command, type Tally } from './protocol.js';
import { makePayload, sha1 } from './payload.js';

const WINDOW = 32;
const name = process.env.DEMO_NAME ?? `client-${process.pid}`;
const writers = Number(process.env.DEMO_WRITERS);
const type = (process.env.DEMO_TRANSPORT ?? 'unix') as SocketType;
const client = await createClient(type, EVENT, {
  logLevel: 'warn',
  autoReconnect: false,
  ...(type === 'unix' ? { socketDir: process.env.DEMO_SOCKET_DIR } : { port: Number(process.env.DEMO_PORT) }),
});
process.on('disconnect', () => process.exit(1)); // the orchestrator is gone

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const describe = (err: unknown): string => (err instanceof SocketError ? `${err.code}: ${err.message}` : String(err));
const perWriter: Record<string, Tally> = {};
let sent = 0;
let received = 0;
let finished = 0;
let echoed = 0;
let readingDone = false;
let problem: string | undefined;
let wake: (() => void) | undefined;
client.on('error', (err) => {
  problem ??= describe(err);
});

// Receive everything the server relays, checking per-writer order and integrity.
const reading = (async () => {
  for await (const m of client) {
    received++;
    const { writer, seq, payload, sha1: sum, done, total } = m.data as Record<string, unknown>;
    if (done === true) {
      (perWriter[String(writer)] ??= { received: 0, outOfOrder: 0, corrupted: 0 }).announced = Number(total);
      if (++finished === writers) return true;
    } else {
      tally(perWriter, String(writer), Number(seq), sha1(String(payload)) === sum);
      if (writer === name) {
        echoed++;
        wake?.();
      }
    }
  }
  problem ??= 'the server closed the connection early';
  return false;
})()
  .catch((err: unknown) => {
    problem ??= describe(err);
    return false;
  })
  .finally(() => {
    readingDone = true;
    wake?.();
  });

async function write(durationMs: number): Promise<void> {
  const until = Date.now() + durationMs;
  while (Date.now() < until && !readingDone) {
    while (sent - echoed >= WINDOW && !readingDone) await new Promise<void>((resolve) => (wake = resolve));
    if (readingDone) return;
    const seq = sent + 1;
    await client.send({ writer: name, seq, ...makePayload(seq) });
    sent = seq;
    await sleep(2 + Math.floor(Math.random() * 4));
  }
  await client.send({ writer: name, done: true, total: sent });
}

await client.connect({ waitForWelcome: true });
report({ type: 'ready', address: client.address });

process.on('message', (cmd: Command) => {
  if (cmd.type === 'poll') report({ type: 'progress', name, sent, received });
  if (cmd.type !== 'go') return;
  void (async () => {
    try {
      await write(cmd.durationMs);
    } catch (err) {
      problem ??= describe(err);
    }
    // Everyone's last message comes after all of theirs: wait for all of them (bounded).
    const complete = await Promise.race([reading, sleep(15_000).then(() => false)]);
    if (!complete) problem ??= "did not see every writer's last message within 15 s";
    await client.disconnect();
    report({ type: 'result', name, sent, perWriter, complete, ...(problem === undefined ? {} : { problem }) });
    process.disconnect();
  })();
});
