// Interleaved A/B of socketkit builds (issue 28, notes in the hotpath branch): broadcast of `--bytes` (64 KiB by
// default) to 1 client (`--scenario large`) or 10 (`fanout`), or ingress from `--writers` processes (`ingress`).
// Every build (a root holding packages/*/dist, see hotpath-snap.sh; `raw`: the bench's raw ceiling, ingress only)
// gets a server process and its clients for the whole run; one warm-up run each, then `--rounds` rounds, the order
// alternating. Prints per round and the medians: msg/s, GB/s, CPU µs per message of the server and of the clients
// (process.cpuUsage), GC share, minor page faults per message.
//   bench/scripts/hotpath-snap.sh before     # build, snapshot; change, build, snapshot `after`
//   node bench/scripts/hotpath-ab.mjs --roots A=/tmp/hp/before,B=/tmp/hp/after --scenario large --rounds 6
import { fork } from 'node:child_process';
import { PerformanceObserver } from 'node:perf_hooks';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const role = process.argv[2];
const gcMs = { v: 0 };
if (role === 'server' || role === 'client') {
  new PerformanceObserver((l) => {
    for (const e of l.getEntries()) gcMs.v += e.duration;
  }).observe({ entryTypes: ['gc'] });
}
import { readFileSync } from 'node:fs';
const minflt = () => Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[7]);
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const now = () => Number(process.hrtime.bigint());

function makeData(bytes) {
  return { payload: bytes > 1024 ? Buffer.alloc(bytes - 12, 0x61) : 'x'.repeat(bytes - 12) };
}

async function serve(handlers) {
  process.on('message', async ({ id, cmd, arg }) => {
    if (cmd === 'exit') process.exit(0);
    try {
      const r = await handlers[cmd](arg);
      process.send({ id, ok: true, r });
    } catch (e) {
      process.send({ id, ok: false, e: String(e?.stack ?? e) });
    }
  });
  process.send({ ready: true });
}

const RAW = new URL('../dist/contenders/raw.js', import.meta.url).pathname;
if (role === 'server' && process.argv[3] === 'raw') {
  const { RawServer } = await import(RAW);
  const srv = new RawServer('ab', true);
  let c0 = 0;
  let g0 = 0;
  await serve({
    async start({ socketDir }) {
      return srv.start('unix', socketDir);
    },
    armIngress({ total }) {
      c0 = cpu();
      g0 = gcMs.v;
      srv.armIngress(total);
    },
    async waitIngress() {
      const r = await srv.waitIngress();
      return { tLast: r.tLast, cpuUs: cpu() - c0, gcMs: gcMs.v - g0 };
    },
  });
}
if (role === 'client' && process.argv[3] === 'raw') {
  const { RawClient } = await import(RAW);
  let cl;
  await serve({
    async connect(addr) {
      cl = await RawClient.connect(addr, true);
    },
    async write({ count, bytes, batchBytes }) {
      const wc0 = cpu();
      const r = await cl.write(count, makeData(bytes), batchBytes);
      return { t0: r.tStart, cpuUs: cpu() - wc0 };
    },
  });
}
if (role === 'server' && process.argv[3] !== 'raw') {
  const root = process.argv[3];
  const transport = process.argv[4];
  const mod = await import(`${root}/packages/${transport}/dist/index.js`);
  let server;
  let ingress = { want: 0, got: 0, resolve: undefined, tLast: 0 };
  const silent = { debug() {}, info() {}, warn() {}, error() {} };
  await serve({
    async start({ socketDir }) {
      const common = {
        eventName: 'ab',
        logger: silent,
        envFile: false,
        maxConnections: 32,
        handler: () => ({ ok: true }),
      };
      server =
        transport === 'unix'
          ? new mod.UnixSocketServer({ ...common, socketDir })
          : new mod.TcpSocketServer({ ...common, host: '127.0.0.1', port: 0 });
      server.on('message', () => {
        ingress.got++;
        if (ingress.got === ingress.want) {
          ingress.tLast = now();
          ingress.resolve?.();
        }
      });
      await server.start();
      return transport === 'unix' ? { socketDir } : { port: server.port };
    },
    async broadcast({ count, bytes, drainEvery }) {
      const data = makeData(bytes);
      const c0 = cpu();
      const g0 = gcMs.v;
      const f0 = minflt();
      const t0 = now();
      let since = 0;
      for (let i = 0; i < count; i++) {
        server.send(data);
        since += bytes;
        if (since >= drainEvery) {
          since = 0;
          await server.drain();
        }
      }
      return { t0, cpuUs: cpu() - c0, gcMs: gcMs.v - g0, flt: minflt() - f0 };
    },
    armIngress({ total }) {
      ingress = { want: total, got: 0, resolve: undefined, tLast: 0, c0: cpu(), g0: gcMs.v };
    },
    waitIngress() {
      return new Promise((res) => {
        const done = () => res({ tLast: ingress.tLast, cpuUs: cpu() - ingress.c0, gcMs: gcMs.v - ingress.g0 });
        if (ingress.got >= ingress.want) done();
        else ingress.resolve = done;
      });
    },
  });
}

if (role === 'client' && process.argv[3] !== 'raw') {
  const root = process.argv[3];
  const transport = process.argv[4];
  const mod = await import(`${root}/packages/${transport}/dist/index.js`);
  let client;
  let want = 0;
  let got = 0;
  let resolve;
  let tLast = 0;
  let c0 = 0;
  let g0 = 0;
  let f0 = 0;
  await serve({
    async connect({ socketDir, port }) {
      const common = { eventName: 'ab', logLevel: 'silent', envFile: false, autoReconnect: false };
      client =
        transport === 'unix'
          ? new mod.UnixSocketClient({ ...common, socketDir })
          : new mod.TcpSocketClient({ ...common, host: '127.0.0.1', port });
      client.on('error', () => undefined);
      client.on('message', () => {
        got++;
        if (got === want) {
          tLast = now();
          resolve?.();
        }
      });
      await client.connect({ waitForWelcome: true });
    },
    arm({ count }) {
      want = count;
      got = 0;
      c0 = cpu();
      g0 = gcMs.v;
      f0 = minflt();
    },
    wait() {
      return new Promise((res) => {
        const done = () => res({ tLast, cpuUs: cpu() - c0, gcMs: gcMs.v - g0, flt: minflt() - f0 });
        if (got >= want) done();
        else resolve = done;
      });
    },
    async requests({ count, bytes }) {
      const data = makeData(bytes);
      const us = new Float64Array(count);
      const c1 = cpu();
      for (let i = 0; i < count; i++) {
        const t = now();
        await client.request(data, { timeout: 10_000 });
        us[i] = (now() - t) / 1000;
      }
      const cpuUs = cpu() - c1;
      us.sort();
      return { p50: us[Math.floor(count / 2)], p99: us[Math.floor(count * 0.99)], cliUs: cpuUs / count };
    },
    async write({ count, bytes, batchBytes }) {
      const data = makeData(bytes);
      const t0 = now();
      const wc0 = cpu();
      let since = 0;
      for (let i = 0; i < count; i++) {
        await client.send(data);
        since += bytes;
        if (since >= batchBytes) {
          since = 0;
          await new Promise((r) => setImmediate(r));
        }
      }
      return { t0, cpuUs: cpu() - wc0 };
    },
  });
}

class Worker {
  static async spawn(args) {
    const w = new Worker();
    w.p = fork(new URL(import.meta.url).pathname, args, { stdio: 'inherit', execArgv: process.execArgv });
    w.n = 0;
    w.pending = new Map();
    await new Promise((res) =>
      w.p.on('message', (m) => {
        if (m.ready) return res();
        const p = w.pending.get(m.id);
        w.pending.delete(m.id);
        if (m.ok) p.res(m.r);
        else p.rej(new Error(m.e));
      }),
    );
    return w;
  }
  call(cmd, arg = {}) {
    const id = ++this.n;
    return new Promise((res, rej) => {
      this.pending.set(id, { res, rej });
      this.p.send({ id, cmd, arg });
    });
  }
  kill() {
    this.p.send({ id: 0, cmd: 'exit' });
  }
}

if (role === undefined || role.startsWith('--')) {
  const opts = Object.fromEntries(
    process.argv
      .slice(2)
      .join(' ')
      .split('--')
      .filter(Boolean)
      .map((s) => s.trim().split(/\s+/)),
  );
  const roots = opts.roots.split(',').map((s) => s.split('='));
  const scenario = opts.scenario ?? 'large';
  const transport = opts.transport ?? 'unix';
  const rounds = Number(opts.rounds ?? 6);
  const writers = Number(opts.writers ?? 8);
  const bytes = Number(opts.bytes ?? (scenario === 'large' ? 65536 : 100));
  const count = Number(opts.count ?? (scenario === 'large' ? 2000 : 8000));
  const clientsN = scenario === 'large' || scenario === 'reqrep' ? 1 : scenario === 'fanout' ? 10 : writers;
  const sets = [];
  for (const [name, root] of roots) {
    const socketDir = mkdtempSync(join(tmpdir(), 'hpab-'));
    const server = await Worker.spawn(['server', root, transport]);
    const addr = await server.call('start', { socketDir });
    const clients = [];
    for (let i = 0; i < clientsN; i++) {
      const c = await Worker.spawn(['client', root, transport]);
      await c.call('connect', addr);
      clients.push(c);
    }
    sets.push({ name, server, clients, runs: [] });
  }
  const runOnce = async (s) => {
    if (scenario === 'reqrep') return s.clients[0].call('requests', { count, bytes });
    if (scenario === 'large' || scenario === 'fanout') {
      await Promise.all(s.clients.map((c) => c.call('arm', { count })));
      const waits = s.clients.map((c) => c.call('wait'));
      const b = await s.server.call('broadcast', { count, bytes, drainEvery: 65536 });
      const w = await Promise.all(waits);
      const tLast = Math.max(...w.map((x) => x.tLast));
      const secs = (tLast - b.t0) / 1e9;
      const delivered = count * clientsN;
      const cCpu = w.reduce((a, x) => a + x.cpuUs, 0);
      return {
        msgs: delivered / secs,
        GBps: (delivered * bytes) / secs / 1e9,
        srvUs: b.cpuUs / delivered,
        cliUs: cCpu / delivered,
        srvGc: (b.gcMs * 1000) / b.cpuUs,
        cliGc: (w.reduce((a, x) => a + x.gcMs, 0) * 1000) / cCpu,
        srvFlt: b.flt / delivered,
        cliFlt: w.reduce((a, x) => a + x.flt, 0) / delivered,
      };
    }
    const total = count * clientsN;
    await s.server.call('armIngress', { total });
    const wait = s.server.call('waitIngress');
    const ws = await Promise.all(s.clients.map((c) => c.call('write', { count, bytes, batchBytes: 65536 })));
    const r = await wait;
    const secs = (r.tLast - Math.min(...ws.map((x) => x.t0))) / 1e9;
    return {
      msgs: total / secs,
      srvUs: r.cpuUs / total,
      wUs: ws.reduce((a, x) => a + x.cpuUs, 0) / total,
      srvGc: (r.gcMs * 1000) / r.cpuUs,
    };
  };
  for (const s of sets) await runOnce(s); // warm-up
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? sets : [...sets].reverse();
    for (const s of order) {
      const m = await runOnce(s);
      s.runs.push(m);
      console.log(
        `round ${r} ${s.name}: ` +
          Object.entries(m)
            .map(([k, v]) => `${k}=${k === 'msgs' ? Math.round(v) : v.toFixed(3)}`)
            .join(' '),
      );
    }
  }
  const med = (a) => {
    const b = [...a].sort((x, y) => x - y);
    return b[Math.floor(b.length / 2)];
  };
  for (const s of sets) {
    const keys = Object.keys(s.runs[0]);
    console.log(
      `MEDIAN ${s.name}: ` +
        keys
          .map((k) => {
            const v = med(s.runs.map((x) => x[k]));
            return `${k}=${k === 'msgs' ? Math.round(v) : v.toFixed(3)}`;
          })
          .join(' '),
    );
    s.server.kill();
    for (const c of s.clients) c.kill();
  }
  setTimeout(() => process.exit(0), 1500);
}
