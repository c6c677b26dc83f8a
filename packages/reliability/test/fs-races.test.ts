// Item 3, 4 and 6 of issue 22: a second local user (uid 65534) races the
// filesystem as hard as it can while root starts servers and connects
// clients. Each race runs a bounded number of rounds (400 for clients) and
// counts what reached the attacker; every figure must be 0.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, chownSync, lstatSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { ClientTransport, TransportStream } from '@socketkit/core';
import { ErrorCode } from '@socketkit/protocol';
import { TcpClientTransport } from '@socketkit/tcp';
import { UnixClientTransport, UnixSocketServer } from '@socketkit/unix';
import { record } from './report.js';

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const NOBODY = 65534;
const ROUNDS = 400;
const rootIt = asRoot ? it : it.skip;
const skipNote = asRoot ? '' : ' [skipped: needs root to run a second user (uid 65534)]';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

function tempDir(mode: number, owner = 0): string {
  const d = mkdtempSync(join(tmpdir(), 'skr-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  chmodSync(d, mode);
  if (owner !== 0) chownSync(d, owner, owner);
  return d;
}

/** Runs `script` as uid 65534; resolves with the child once it printed `ready` (and the rest of that line). */
async function asNobody(script: string, args: string[] = []): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, ['-e', script, ...args], {
    uid: NOBODY,
    gid: NOBODY,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
  });
  let out = '';
  const exited = once(child, 'exit').then(() => {
    throw new Error(`attacker exited: ${out}`);
  });
  exited.catch(() => undefined);
  for (;;) {
    const m = /ready([^\n]*)\n/.exec(out);
    if (m) return { child, line: m[1]!.trim() };
    const [chunk] = (await Promise.race([once(child.stdout!, 'data'), exited])) as [Buffer];
    out += chunk.toString();
  }
}

/**
 * The racer: as fast as it can, points `link` at each of `targets` in turn
 * (a prepared symlink renamed over it, so the name always exists). Stops by
 * itself when its parent is gone or after 90 s.
 */
const FLIPPER = `
const fs = require('fs');
const [link, ...targets] = process.argv.slice(1);
const tmp = link + '.flip';
const parent = process.ppid, end = Date.now() + 90000;
fs.symlinkSync(targets[0], link);
console.log('ready');
for (let i = 0; ; i++) {
  try { fs.symlinkSync(targets[i % targets.length], tmp); fs.renameSync(tmp, link); } catch {}
  if ((i & 1023) === 0 && (process.ppid !== parent || Date.now() > end)) process.exit(0);
}`;

/** Hard-links `socket` in at `name` and out again, as fast as it can. */
const LINKER = `
const fs = require('fs');
const [socket, name] = process.argv.slice(1);
const parent = process.ppid, end = Date.now() + 90000;
console.log('ready');
for (let i = 0; ; i++) {
  try { fs.linkSync(socket, name); } catch {}
  try { fs.unlinkSync(name); } catch {}
  if ((i & 1023) === 0 && (process.ppid !== parent || Date.now() > end)) process.exit(0);
}`;

/** The attacker's listener: answers EVIL to every connection (on a unix path, or on a loopback port it prints). */
const EVIL_LISTENER = `
const net = require('net');
const [path] = process.argv.slice(1);
const s = net.createServer((c) => { c.on('error', () => {}); c.end('EVIL'); });
const parent = process.ppid;
setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 200);
if (path) s.listen(path, () => console.log('ready'));
else s.listen(0, '127.0.0.1', () => console.log('ready ' + s.address().port));`;

function goodServer(listen: (s: Server) => void): Promise<Server> {
  const open = new Set<Socket>();
  const s = createServer((c: Socket) => {
    open.add(c);
    c.on('close', () => open.delete(c));
    c.on('error', () => undefined);
    c.end('GOOD');
  });
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const c of open) c.destroy();
        s.close(() => r());
      }),
  );
  listen(s);
  return once(s, 'listening').then(() => s);
}

type Outcome = 'evil' | 'good' | 'refused';

/** One client attempt: connect, write a secret at once, and read who answered. */
async function attempt(t: ClientTransport, refusals: Map<string, number>): Promise<Outcome> {
  const ac = new AbortController();
  const bound = setTimeout(() => ac.abort(new Error('attempt bound')), 5000);
  let s: TransportStream;
  try {
    s = await t.connect(ac.signal);
  } catch (err) {
    const e = err as { code?: string; message?: string };
    const replaced = e.message?.includes('replaced while connecting') ? ' (replaced while connecting)' : '';
    const code = `${e.code ?? String(err)}${replaced}`;
    refusals.set(code, (refusals.get(code) ?? 0) + 1);
    return 'refused';
  } finally {
    clearTimeout(bound);
  }
  s.on('error', () => undefined);
  s.write('SECRET');
  const first = await new Promise<string>((resolve) => {
    let got = '';
    s.on('data', (b: Buffer) => (got += b.toString()));
    s.once('close', () => resolve(got));
  });
  s.destroy();
  if (first.startsWith('EVIL')) return 'evil';
  return first.startsWith('GOOD') ? 'good' : 'refused';
}

async function rounds(t: ClientTransport): Promise<{
  evil: number;
  good: number;
  refused: number;
  firstEvil: number | undefined;
  refusals: Record<string, number>;
}> {
  const counts = { evil: 0, good: 0, refused: 0 };
  const refusals = new Map<string, number>();
  let firstEvil: number | undefined;
  for (let i = 0; i < ROUNDS; i++) {
    const o = await attempt(t, refusals);
    counts[o]++;
    if (o === 'evil' && firstEvil === undefined) firstEvil = i + 1;
  }
  return { ...counts, firstEvil, refusals: Object.fromEntries(refusals) };
}

describe('clients under a racing local user (item 4)', () => {
  rootIt(
    `a flipping symlinked socketDir: 0 of ${ROUNDS} connections reach the other user${skipNote}`,
    async () => {
      const shared = tempDir(0o1777);
      const real = tempDir(0o700);
      const evil = tempDir(0o755, NOBODY);
      await goodServer((s) => s.listen(join(real, 'orders.sock')));
      await asNobody(EVIL_LISTENER, [join(evil, 'orders.sock')]);
      const link = join(shared, 'd');
      await asNobody(FLIPPER, [link, real, evil]);
      const r = await rounds(new UnixClientTransport(link, 'orders'));
      record('race-unix-symlinked-dir', { rounds: ROUNDS, ...r });
      expect(r.evil).toBe(0);
    },
    60_000,
  );

  rootIt(
    `a sticky shared socketDir, the other user hard-linking its socket in and out: 0 of ${ROUNDS}${skipNote}`,
    async () => {
      const shared = tempDir(0o1777);
      const evil = tempDir(0o755, NOBODY);
      await asNobody(EVIL_LISTENER, [join(evil, 'x.sock')]);
      await asNobody(LINKER, [join(evil, 'x.sock'), join(shared, 'orders.sock')]);
      const r = await rounds(new UnixClientTransport(shared, 'orders'));
      record('race-unix-hardlink-in-sticky-dir', { rounds: ROUNDS, ...r });
      expect(r.evil).toBe(0);
    },
    60_000,
  );

  rootIt(
    "a sticky shared socketDir, root's server restarting in a loop and the other user hard-linking its socket in " +
      `whenever the name is free: 0 of ${ROUNDS}${skipNote}`,
    async () => {
      const shared = tempDir(0o1777);
      const evil = tempDir(0o755, NOBODY);
      const path = join(shared, 'orders.sock');
      // root's genuine server: listens, answers GOOD, closes (libuv unlinks the file) and listens again, for ever
      const restarter = `
      const net = require('net');
      const [path] = process.argv.slice(1);
      const parent = process.ppid;
      setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 200);
      let n = 0;
      const up = () => {
        const s = net.createServer((c) => { c.on('error', () => {}); c.end('GOOD'); });
        s.on('error', () => up());
        s.listen(path, () => {
          if (n++ === 0) console.log('ready'); else console.log('up ' + n);
          setTimeout(() => s.close(() => up()), 5);
        });
      };
      up();`;
      const child = spawn(process.execPath, ['-e', restarter, path], { stdio: ['ignore', 'pipe', 'inherit'] });
      cleanups.push(async () => {
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
      });
      let restarts = 0;
      child.stdout!.on('data', (b: Buffer) => (restarts += (b.toString().match(/up /g) ?? []).length));
      await once(child.stdout!, 'data');
      await asNobody(EVIL_LISTENER, [join(evil, 'x.sock')]);
      await asNobody(LINKER, [join(evil, 'x.sock'), path]);
      const r = await rounds(new UnixClientTransport(shared, 'orders'));
      record('race-unix-restart-and-hardlink', { rounds: ROUNDS, restarts, ...r });
      expect(r.evil).toBe(0);
    },
    60_000,
  );

  rootIt(
    `a flipping TCP address file: 0 of ${ROUNDS} connections reach the other user${skipNote}`,
    async () => {
      const shared = tempDir(0o1777);
      const real = tempDir(0o700);
      const evil = tempDir(0o755, NOBODY);
      const good = await goodServer((s) => s.listen(0, '127.0.0.1'));
      const goodPort = (good.address() as { port: number }).port;
      const rec = (port: number) =>
        `${JSON.stringify({ event: 'orders', host: '127.0.0.1', port, pid: 1, tls: false, started_ms: 0 })}\n`;
      writeFileSync(join(real, 'orders.tcp'), rec(goodPort), { mode: 0o600 });
      const { line } = await asNobody(EVIL_LISTENER);
      writeFileSync(join(evil, 'orders.tcp'), rec(Number(line)), { mode: 0o600 });
      chownSync(join(evil, 'orders.tcp'), NOBODY, NOBODY);
      const link = join(shared, 'd');
      await asNobody(FLIPPER, [link, real, evil]);
      const r = await rounds(new TcpClientTransport({ host: '127.0.0.1', eventName: 'orders', socketDir: link }));
      record('race-tcp-address-file', { rounds: ROUNDS, ...r });
      expect(r.evil).toBe(0);
    },
    60_000,
  );

  rootIt(
    `a trusted address file whose port another user took: the client refuses before writing ` +
      `(INSECURE_SOCKET_DIR)${skipNote}`,
    async () => {
      const real = tempDir(0o700);
      const { line } = await asNobody(EVIL_LISTENER);
      const rec = { event: 'orders', host: '127.0.0.1', port: Number(line), pid: 1, tls: false, started_ms: 0 };
      writeFileSync(join(real, 'orders.tcp'), `${JSON.stringify(rec)}\n`, { mode: 0o600 });
      const refusals = new Map<string, number>();
      const outcomes: Outcome[] = [];
      for (let i = 0; i < 20; i++)
        outcomes.push(
          await attempt(new TcpClientTransport({ host: '127.0.0.1', eventName: 'orders', socketDir: real }), refusals),
        );
      expect(outcomes.filter((o) => o === 'evil')).toHaveLength(0);
      expect(Object.fromEntries(refusals)).toEqual({ [ErrorCode.INSECURE_SOCKET_DIR]: 20 });
      // trustedUids lets a server run by that user through
      const trusted = await attempt(
        new TcpClientTransport({
          host: '127.0.0.1',
          eventName: 'orders',
          socketDir: real,
          trust: { trustedUids: [NOBODY] },
        }),
        refusals,
      );
      expect(trusted).toBe('evil');
    },
  );

  rootIt(
    `a trusted socketDir and no race: every attempt reaches the server (the checks refuse nothing genuine)${skipNote}`,
    async () => {
      const real = tempDir(0o700);
      await goodServer((s) => s.listen(join(real, 'orders.sock')));
      const refusals = new Map<string, number>();
      for (let i = 0; i < 20; i++)
        expect(await attempt(new UnixClientTransport(real, 'orders'), refusals)).toBe('good');
    },
  );
});

/**
 * Points the socketDir link at the attacker's dir and swaps any socket that appears there for a symlink to `victim`.
 */
const SWAPPER = `
const fs = require('fs'), path = require('path');
const [link, real, evil, victim] = process.argv.slice(1);
const tmp = link + '.flip';
const parent = process.ppid, end = Date.now() + 90000;
fs.symlinkSync(real, link);
console.log('ready');
for (let i = 0; ; i++) {
  try { fs.symlinkSync(i & 1 ? real : evil, tmp); fs.renameSync(tmp, link); } catch {}
  try {
    for (const n of fs.readdirSync(evil)) {
      const p = path.join(evil, n);
      try { if (fs.lstatSync(p).isSocket()) { fs.unlinkSync(p); fs.symlinkSync(victim, p); } } catch {}
    }
  } catch {}
  if ((i & 255) === 0 && (process.ppid !== parent || Date.now() > end)) process.exit(0);
}`;

describe('server start under a racing local user (items 3 and 6)', () => {
  rootIt(
    `no permission change through a symlink: 0 of 100 starts change a root file's mode, and start() rejects only ` +
      `with ` +
      `typed errors${skipNote}`,
    async () => {
      const shared = tempDir(0o1777);
      const real = tempDir(0o700);
      const evil = tempDir(0o777, NOBODY);
      const victimDir = tempDir(0o755);
      const victim = join(victimDir, 'secret');
      writeFileSync(victim, 'root only', { mode: 0o600 });
      const link = join(shared, 'd');
      await asNobody(SWAPPER, [link, real, evil, victim]);
      let changed = 0;
      const codes = new Map<string, number>();
      for (let i = 0; i < 100; i++) {
        const s = new UnixSocketServer({
          eventName: 'orders',
          socketDir: link,
          socketPermissions: '0666',
          logLevel: 'silent',
          envFile: false,
        });
        try {
          await s.start();
          codes.set('started', (codes.get('started') ?? 0) + 1);
        } catch (err) {
          const code = (err as { code?: string }).code ?? `untyped ${(err as NodeJS.ErrnoException).code}`;
          codes.set(code, (codes.get(code) ?? 0) + 1);
        }
        await s.stop();
        if ((statSync(victim).mode & 0o777) !== 0o600) {
          changed++;
          chmodSync(victim, 0o600);
        }
      }
      record('race-unix-start-chmod', { starts: 100, victimModeChanged: changed, outcomes: Object.fromEntries(codes) });
      expect(changed).toBe(0);
      for (const code of codes.keys()) expect([ErrorCode.INSECURE_SOCKET_DIR, 'started']).toContain(code);
    },
    60_000,
  );

  rootIt(`another user squatting the old abstract start-lock name cannot block a start${skipNote}`, async () => {
    const socketDir = tempDir(0o700);
    const d = statSync(socketDir);
    const digest = createHash('sha256').update(`${d.dev}:${d.ino}/orders`).digest('hex');
    const name = `\0socketkit-start-${digest.slice(0, 40)}`;
    const squat = `
      const net = require('net');
      const name = '\\0' + process.argv[1];
      const parent = process.ppid;
      setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 200);
      net.createServer().listen(name, () => console.log('ready'));`;
    await asNobody(squat, [name.slice(1)]);
    const s = new UnixSocketServer({ eventName: 'orders', socketDir, logLevel: 'silent', envFile: false });
    cleanups.push(() => s.stop());
    await s.start();
    expect(s.isRunning()).toBe(true);
    expect(lstatSync(s.socketPath).isSocket()).toBe(true);
  });

  rootIt(
    `another user cannot reach the start lock of a trusted socketDir (it can neither read its key nor create files ` +
      `there)${skipNote}`,
    async () => {
      const socketDir = tempDir(0o755);
      const s = new UnixSocketServer({ eventName: 'orders', socketDir, logLevel: 'silent', envFile: false });
      cleanups.push(() => s.stop());
      await s.start();
      await s.stop();
      const probe = `
      const fs = require('fs'), path = require('path');
      const [dir] = process.argv.slice(1);
      const out = [];
      for (const n of fs.readdirSync(dir)) {
        try { fs.readFileSync(path.join(dir, n)); out.push('read ' + n); } catch {}
      }
      try { fs.writeFileSync(path.join(dir, 'x'), 'x'); out.push('wrote'); } catch {}
      console.log('ready ' + JSON.stringify(out));`;
      const { line } = await asNobody(probe, [socketDir]);
      expect(JSON.parse(line)).toEqual([]);
      await s.start();
      expect(s.isRunning()).toBe(true);
    },
  );
});
