/**
 * "Install only what you need": packs the transport packages and their
 * workspace dependencies with `pnpm pack` (which rewrites `workspace:`
 * ranges), installs the tarballs with plain `npm install` into a directory
 * outside the workspace, runs a script there that starts a server and a
 * client, and checks the other transport was never installed. Then adds the
 * `socketkit` facade and checks it works with the transport present and
 * names the `npm install` to run for the one that is missing.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const PNPM = 'pnpm@10.34.9';
const PACKAGES = ['protocol', 'codec', 'config', 'core', 'unix', 'tcp', 'socketkit'];
const BASE = ['protocol', 'codec', 'config', 'core'];
const TIMEOUT = 240_000;

let packDir: string;
const tarballs = new Map<string, string>();
const dirs: string[] = [];

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

beforeAll(async () => {
  packDir = tempDir('sk-pack-');
  for (const name of PACKAGES) {
    const pkgDir = join(root, 'packages', name);
    if (!existsSync(join(pkgDir, 'dist/index.js'))) throw new Error(`${pkgDir}/dist is missing: run "turbo run build" first`);
    const before = new Set(readdirSync(packDir));
    await run('npx', ['-y', PNPM, 'pack', '--pack-destination', packDir], { cwd: pkgDir });
    const added = readdirSync(packDir).filter((f) => !before.has(f) && f.endsWith('.tgz'));
    if (added.length !== 1) throw new Error(`pnpm pack in ${pkgDir} produced ${added.join(', ') || 'nothing'}`);
    tarballs.set(name, join(packDir, added[0] as string));
  }
}, TIMEOUT);

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function npmInstall(dir: string, names: string[]): Promise<void> {
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...names.map((n) => tarballs.get(n) as string)], { cwd: dir });
}

async function runScript(dir: string, source: string, socketDir: string): Promise<Record<string, unknown>> {
  writeFileSync(join(dir, 'check.mjs'), source);
  const { stdout } = await run(process.execPath, ['check.mjs', socketDir], { cwd: dir, timeout: 30_000 });
  return JSON.parse(stdout.trim().split('\n').pop() as string) as Record<string, unknown>;
}

const exchange = (pkg: string, server: string, client: string, serverOpts: string, clientOpts: (s: string) => string): string => `
import { ${server}, ${client} } from '${pkg}';
const socketDir = process.argv[2];
const server = new ${server}({ eventName: 'installed', logLevel: 'silent', envFile: false, ${serverOpts} });
await server.start();
const client = new ${client}({ eventName: 'installed', logLevel: 'silent', envFile: false, ${clientOpts('server')} });
try {
  await client.connect({ waitForWelcome: true });
  const got = new Promise((resolve) => server.once('message', (m) => resolve(m.data)));
  await client.send({ from: 'client' });
  const fromClient = await got;
  server.send({ from: 'server' });
  const fromServer = (await client.receive({ timeout: 5000 })).data;
  console.log(JSON.stringify({ fromClient, fromServer }));
} finally {
  await client.disconnect();
  await server.stop();
}
`;

const facadeScript = (have: string, missing: string, serverOpts: string, clientOpts: string): string => `
import { createServer, createClient } from 'socketkit';
const socketDir = process.argv[2];
const server = await createServer('${have}', 'facade', { logLevel: 'silent', envFile: false, ${serverOpts} });
await server.start();
const client = await createClient('${have}', 'facade', { logLevel: 'silent', envFile: false, ${clientOpts} });
let reply;
let missing;
try {
  server.onRequest((d) => ({ doubled: d.n * 2 }));
  await client.connect({ waitForWelcome: true });
  reply = (await client.request({ n: 21 }, { timeout: 5000 })).data;
  try {
    await createClient('${missing}', 'facade', { logLevel: 'silent', envFile: false });
  } catch (e) {
    missing = { name: e.name, code: e.code, message: e.message };
  }
} finally {
  await client.disconnect();
  await server.stop();
}
console.log(JSON.stringify({ reply, missing }));
`;

describe('install only what you need', () => {
  test(
    '@socketkit/unix alone: works from an npm install and brings no TCP code',
    async () => {
      const dir = tempDir('sk-install-unix-');
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'unix-only', private: true, type: 'module' }));
      await npmInstall(dir, [...BASE, 'unix']);
      const socketDir = tempDir('sk-');
      const out = await runScript(dir, exchange('@socketkit/unix', 'UnixSocketServer', 'UnixSocketClient', 'socketDir', () => 'socketDir'), socketDir);
      expect(out).toEqual({ fromClient: { from: 'client' }, fromServer: { from: 'server' } });
      expect(existsSync(join(dir, 'node_modules/@socketkit/unix'))).toBe(true);
      expect(existsSync(join(dir, 'node_modules/@socketkit/tcp'))).toBe(false);

      // Adding the facade does not pull the other transport in either.
      await npmInstall(dir, ['socketkit']);
      expect(existsSync(join(dir, 'node_modules/@socketkit/tcp'))).toBe(false);
      const facade = await runScript(dir, facadeScript('unix', 'tcp', 'socketDir', 'socketDir'), socketDir);
      expect(facade.reply).toEqual({ doubled: 42 });
      expect(facade.missing).toMatchObject({ name: 'ValidationError', code: 'INVALID_CONFIG' });
      expect((facade.missing as { message: string }).message).toContain('npm install @socketkit/tcp');
    },
    TIMEOUT,
  );

  test(
    '@socketkit/tcp alone: works from an npm install and brings no Unix socket code',
    async () => {
      const dir = tempDir('sk-install-tcp-');
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'tcp-only', private: true, type: 'module' }));
      await npmInstall(dir, [...BASE, 'tcp']);
      const out = await runScript(dir, exchange('@socketkit/tcp', 'TcpSocketServer', 'TcpSocketClient', 'port: 0', (s) => `port: ${s}.port`), tempDir('sk-'));
      expect(out).toEqual({ fromClient: { from: 'client' }, fromServer: { from: 'server' } });
      expect(existsSync(join(dir, 'node_modules/@socketkit/tcp'))).toBe(true);
      expect(existsSync(join(dir, 'node_modules/@socketkit/unix'))).toBe(false);

      await npmInstall(dir, ['socketkit']);
      expect(existsSync(join(dir, 'node_modules/@socketkit/unix'))).toBe(false);
      const facade = await runScript(dir, facadeScript('tcp', 'unix', 'port: 0', 'port: server.port'), tempDir('sk-'));
      expect(facade.reply).toEqual({ doubled: 42 });
      expect(facade.missing).toMatchObject({ name: 'ValidationError', code: 'INVALID_CONFIG' });
      expect((facade.missing as { message: string }).message).toContain('npm install @socketkit/unix');
    },
    TIMEOUT,
  );
});
