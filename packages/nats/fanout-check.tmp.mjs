import { spawn } from 'node:child_process';
import { NatsSocketServer, NatsSocketClient } from './dist/index.js';
const port = 14000 + Math.floor(Math.random() * 1000);
const p = spawn('/usr/sbin/nats-server', ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 300));
const url = `nats://127.0.0.1:${port}`;
const token = process.env.TOK === '0' ? {} : { token: 'x'.repeat(32) };
const s = new NatsSocketServer({ eventName: 'fan', servers: url, logLevel: 'silent', envFile: false, maxConnections: 20, ...token });
await s.start();
const clients = [];
const counts = [];
const errs = [];
for (let i = 0; i < 10; i++) {
  const c = new NatsSocketClient({ eventName: 'fan', servers: url, logLevel: 'silent', envFile: false, autoReconnect: false, ...token });
  counts.push(0);
  const k = i;
  c.on('message', () => counts[k]++);
  c.on('error', (e) => errs.push(e.code + ' ' + e.message.slice(0, 150)));
  await c.connect({ waitForWelcome: true });
  clients.push(c);
}
const N = 50000;
const t0 = Date.now();
for (let i = 0; i < N; i++) {
  s.send({ i, pad: 'x'.repeat(80) });
  if (i % 500 === 0) await s.drain();
}
const deadline = Date.now() + 20000;
while (counts.some((c) => c < N) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
console.log('ms', Date.now() - t0, 'counts', counts.join(','), 'errors', errs.length, errs.slice(0, 3));
for (const c of clients) await c.disconnect();
await s.stop();
p.kill();
