'use strict';
// The smoke scenarios, written once and handed the public exports by each
// consumer (consumer.cjs loads them with require(), consumer.mjs with import),
// so both module systems drive the same checks. Plain JavaScript: it runs
// unchanged on Node, Bun and Deno. Output is one line per case, read by run.mjs:
//   plan N | ok - NAME | not ok - NAME: WHY
const { mkdtempSync, rmSync, existsSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const CASE_TIMEOUT_MS = 15000;
const TRANSPORTS = ['unix', 'tcp'];
const CASES = ['start/stop', 'broadcast', 'client send', 'request/reply', 'reconnect', 'reconnect stress'];
/**
 * Rounds of the reconnect stress case: the server stops, the client fails to
 * connect at least twice (ENOENT / ECONNREFUSED), then a new server starts and
 * the client is welcomed again. A runtime that emits a connect error on a
 * socket with no 'error' listener crashes the process (Bun 1.4.5 did so once
 * in 110 CI runs). The test command runs 12 rounds on every runtime;
 * `SOCKETKIT_RUNTIME_STRESS_ROUNDS` raises it for a soak (e.g. 500).
 */
const STRESS_ROUNDS = Number(process.env.SOCKETKIT_RUNTIME_STRESS_ROUNDS ?? 12);

/** Resolves with the event's arguments, or rejects after `ms` naming what was awaited. */
function once(emitter, event, ms = CASE_TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, on);
      reject(new Error(`no '${event}' event within ${ms} ms`));
    }, ms);
    const on = (...args) => {
      clearTimeout(timer);
      resolve(args);
    };
    emitter.once(event, on);
  });
}

function check(cond, what) {
  if (!cond) throw new Error(what);
}

/** Builds servers and clients of one transport from the consumer's modules. */
function factory(kind, mods, dir, event) {
  const quiet = { logLevel: 'warn' };
  if (kind === 'unix') {
    return {
      server: (extra = {}) => new mods.unix.UnixSocketServer({ eventName: event, socketDir: dir, ...quiet, ...extra }),
      client: (extra = {}) => new mods.unix.UnixSocketClient({ eventName: event, socketDir: dir, ...quiet, ...extra }),
    };
  }
  let port = 0; // the first server takes an OS-assigned port; restarts reuse it
  return {
    server: (extra = {}) => {
      const s = new mods.tcp.TcpSocketServer({ eventName: event, host: '127.0.0.1', port, ...quiet, ...extra });
      s.once('listening', () => {
        port = s.port;
      });
      return s;
    },
    client: (extra = {}) =>
      new mods.tcp.TcpSocketClient({ eventName: event, host: '127.0.0.1', port, ...quiet, ...extra }),
  };
}

async function runTransport(kind, mods, out) {
  const dir = mkdtempSync(join(tmpdir(), 'sk-smoke-'));
  const event = `smoke_${kind}_${process.pid}`;
  const f = factory(kind, mods, dir, event);
  const open = { servers: new Set(), clients: new Set() };
  const server = (extra) => {
    const s = f.server(extra);
    open.servers.add(s);
    return s;
  };
  const client = async () => {
    const c = f.client();
    open.clients.add(c);
    await c.connect({ waitForWelcome: true });
    return c;
  };
  const step = async (name, fn, limitMs = CASE_TIMEOUT_MS) => {
    let timer;
    try {
      await Promise.race([
        fn(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`did not finish within ${limitMs} ms`)), limitMs);
        }),
      ]);
      out(`ok - ${kind} ${name}`);
    } catch (err) {
      out(`not ok - ${kind} ${name}: ${err?.code ? `${err.code} ` : ''}${err?.message ?? err}`);
    } finally {
      clearTimeout(timer);
    }
  };

  try {
    await step('start/stop', async () => {
      const s = server();
      await s.start();
      check(s.isRunning(), 'isRunning() is false after start()');
      if (kind === 'unix') check(existsSync(s.socketPath), `no socket file at ${s.socketPath}`);
      else check(Number.isInteger(s.port) && s.port > 0, `no port after start(): ${s.port}`);
      await s.stop();
      check(!s.isRunning(), 'isRunning() is true after stop()');
      if (kind === 'unix') check(!existsSync(s.socketPath), 'socket file left after stop()');
      open.servers.delete(s);
    });

    const s = server({ handler: (data) => ({ doubled: Number(data.n) * 2 }) });
    await s.start();
    let a;
    let b;

    await step('broadcast', async () => {
      a = await client();
      b = await client();
      const sent = s.send({ hello: 'all' });
      check(sent === 2, `send() wrote to ${sent} clients, expected 2`);
      const [ma, mb] = await Promise.all([
        a.receive({ timeout: CASE_TIMEOUT_MS }),
        b.receive({ timeout: CASE_TIMEOUT_MS }),
      ]);
      check(ma.data.hello === 'all' && mb.data.hello === 'all', `wrong payloads ${JSON.stringify([ma.data, mb.data])}`);
    });

    await step('client send', async () => {
      check(a !== undefined, 'no client (broadcast failed)');
      const got = once(s, 'message');
      await a.send({ status: 'done' });
      const [m, clientId] = await got;
      check(m.data.status === 'done', `server got ${JSON.stringify(m.data)}`);
      check(clientId === a.welcome.clientId, `message attributed to ${clientId}, not ${a.welcome.clientId}`);
    });

    await step('request/reply', async () => {
      check(a !== undefined, 'no client (broadcast failed)');
      const r = await a.request({ n: 21 }, { timeout: CASE_TIMEOUT_MS });
      check(r.data.doubled === 42, `reply ${JSON.stringify(r.data)}`);
    });

    await step('reconnect', async () => {
      check(a !== undefined, 'no client (broadcast failed)');
      const gone = once(a, 'disconnected');
      await s.stop();
      await gone;
      const back = once(a, 'welcome');
      const s2 = server({ handler: (data) => ({ tripled: Number(data.n) * 3 }) });
      await s2.start();
      await back;
      check(a.isConnected(), 'client not connected after welcome');
      const r = await a.request({ n: 5 }, { timeout: CASE_TIMEOUT_MS });
      check(r.data.tripled === 15, `reply after reconnect ${JSON.stringify(r.data)}`);
      open.servers.add(s2);
    });

    await step(
      'reconnect stress',
      async () => {
        for (const running of open.servers) await running.stop();
        open.servers.clear();
        const c = f.client({ reconnect: { initialDelay: 5, maxDelay: 20 } });
        open.clients.add(c);
        let srv = server();
        await srv.start();
        await c.connect({ waitForWelcome: true });
        for (let round = 0; round < STRESS_ROUNDS; round++) {
          const gone = once(c, 'disconnected');
          await srv.stop();
          open.servers.delete(srv);
          await gone;
          // At least two failed dials against a missing / refusing server.
          await once(c, 'reconnecting');
          await once(c, 'reconnecting');
          const back = once(c, 'welcome');
          srv = server();
          await srv.start();
          await back;
        }
        const got = c.receive({ timeout: CASE_TIMEOUT_MS });
        srv.send({ round: STRESS_ROUNDS });
        check((await got).data.round === STRESS_ROUNDS, 'no message after the last reconnect');
      },
      CASE_TIMEOUT_MS + STRESS_ROUNDS * 1000,
    );
  } finally {
    for (const c of open.clients) await c.disconnect().catch(() => undefined);
    for (const srv of open.servers) await srv.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs every case on both transports. `mods` is `{ unix, tcp }`: the
 * namespaces of `@socketkit/unix` and `@socketkit/tcp` as the consumer loaded them.
 */
async function runAll(mods, out = (line) => console.log(line)) {
  out(`plan ${TRANSPORTS.length * CASES.length}`);
  for (const kind of TRANSPORTS) await runTransport(kind, mods, out);
}

module.exports = { runAll, CASES, TRANSPORTS };
