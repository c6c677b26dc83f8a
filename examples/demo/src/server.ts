/**
 * The demo's server process: relays every message a client writes to every
 * client (including the writer), and keeps its own per-writer tallies.
 */
import { createServer, type SocketType } from 'socketkit';
import { EVENT, report, tally, type Command, type Tally } from './protocol.js';
import { sha1 } from './payload.js';

const type = (process.env.DEMO_TRANSPORT ?? 'unix') as SocketType;
const server = await createServer(type, EVENT, {
  logLevel: 'warn',
  maxConnections: 32,
  ...(type === 'unix' ? { socketDir: process.env.DEMO_SOCKET_DIR } : { port: 0 }),
});

const perWriter: Record<string, Tally> = {};
let received = 0;
server.on('message', (m) => {
  const { writer, seq, payload, sha1: sum, done, total } = m.data as Record<string, unknown>;
  if (done !== true) received++;
  if (done === true)
    (perWriter[String(writer)] ??= { received: 0, outOfOrder: 0, corrupted: 0 }).announced = Number(total);
  else tally(perWriter, String(writer), Number(seq), sha1(String(payload)) === sum);
  server.sendMessage(m); // relay to every client, same bytes for all
});

process.on('disconnect', () => process.exit(1)); // the orchestrator is gone
process.on('message', (cmd: Command) => {
  if (cmd.type === 'poll') report({ type: 'progress', name: 'server', sent: 0, received });
  if (cmd.type !== 'stop') return;
  void server.stop().then(() => {
    report({ type: 'result', name: 'server', sent: 0, perWriter, complete: true });
    process.disconnect();
  });
});

await server.start();
report({
  type: 'ready',
  address: server.address,
  ...('port' in server && server.port !== undefined ? { port: server.port } : {}),
});
