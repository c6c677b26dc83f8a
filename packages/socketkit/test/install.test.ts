/**
 * "Install only what you need": packs the transport packages and their
 * workspace dependencies with `pnpm pack` (which rewrites `workspace:`
 * ranges), installs the tarballs with plain `npm install` into a directory
 * outside the workspace, runs a script there that starts a server and a
 * client, and checks the other transport was never installed. Then adds the
 * `socketkit` facade and checks it works with the transport present and
 * names the `npm install` to run for the one that is missing.
 *
 * Then, from the same tarballs: a CommonJS app and an ESM app (each in
 * JavaScript, and in TypeScript compiled with `skipLibCheck: false`) use every
 * public package; `@arethetypeswrong/cli` checks each tarball; every tarball
 * carries LICENSE, no devDependencies and no scripts; and the CLI installed
 * without `@socketkit/nats` behaves as a user outside a checkout sees it.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const PNPM = 'pnpm@10.34.9';
const PACKAGES = ['protocol', 'codec', 'config', 'core', 'unix', 'tcp', 'nats', 'socketkit', 'cli'];
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
    if (!existsSync(join(pkgDir, 'dist/index.js')))
      throw new Error(`${pkgDir}/dist is missing: run "turbo run build" first`);
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
  await run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', ...names.map((n) => tarballs.get(n) as string)],
    { cwd: dir },
  );
}

/** Compiles `files` in `dir` strictly with skipLibCheck false; resolves with tsc's output ('' when clean). */
async function typecheck(dir: string, files: string[]): Promise<string> {
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: ['node'],
        typeRoots: [join(root, 'node_modules/@types')],
      },
      files,
    }),
  );
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  const r = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir, timeout: 180_000 }).catch(
    (e: { stdout: string }) => e,
  );
  return r.stdout;
}

async function runScript(dir: string, source: string, socketDir: string): Promise<Record<string, unknown>> {
  writeFileSync(join(dir, 'check.mjs'), source);
  const { stdout } = await run(process.execPath, ['check.mjs', socketDir], { cwd: dir, timeout: 30_000 });
  return JSON.parse(stdout.trim().split('\n').pop() as string) as Record<string, unknown>;
}

const exchange = (
  pkg: string,
  server: string,
  client: string,
  serverOpts: string,
  clientOpts: (s: string) => string,
): string => `
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
      const out = await runScript(
        dir,
        exchange('@socketkit/unix', 'UnixSocketServer', 'UnixSocketClient', 'socketDir', () => 'socketDir'),
        socketDir,
      );
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

      // The facade's types stand alone with only this transport installed (skipLibCheck false), and the
      // missing transports type as errors, not as `any`.
      writeFileSync(
        join(dir, 'typed.mts'),
        `import { createServer, createClient } from 'socketkit';
const server = await createServer('unix', 'typed', { socketDir: '/tmp' });
const path: string = server.socketPath;
// @ts-expect-error servers is a NATS option
await createClient('unix', 'typed', { servers: 'nats://127.0.0.1:4222' });
// @ts-expect-error @socketkit/tcp is not installed: its options are never
await createServer('tcp', 'typed', { port: 0 });
const tcp = await createClient('tcp', 'typed');
// @ts-expect-error @socketkit/tcp is not installed: the client is never, not any
tcp.connect();
export { path };
`,
      );
      expect(await typecheck(dir, ['typed.mts'])).toBe('');
    },
    TIMEOUT,
  );

  test(
    '@socketkit/tcp alone: works from an npm install and brings no Unix socket code',
    async () => {
      const dir = tempDir('sk-install-tcp-');
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'tcp-only', private: true, type: 'module' }));
      await npmInstall(dir, [...BASE, 'tcp']);
      const out = await runScript(
        dir,
        exchange('@socketkit/tcp', 'TcpSocketServer', 'TcpSocketClient', 'port: 0', (s) => `port: ${s}.port`),
        tempDir('sk-'),
      );
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

/** The package name of each packed directory. */
const NAMES: Record<string, string> = { socketkit: 'socketkit', cli: '@socketkit/cli' };
const pkgName = (dir: string): string => NAMES[dir] ?? `@socketkit/${dir}`;

const roundTrip = (load: (pkg: string) => string): string => `
const protocol = ${load('@socketkit/protocol')};
const codec = ${load('@socketkit/codec')};
const config = ${load('@socketkit/config')};
const core = ${load('@socketkit/core')};
const unix = ${load('@socketkit/unix')};
const tcp = ${load('@socketkit/tcp')};
const facade = ${load('socketkit')};
async function main(socketDir) {
  const quiet = { logLevel: 'silent', envFile: false };
  const decoder = new codec.FrameDecoder();
  const frames = decoder.push(codec.encodeFrame(protocol.createMessage('x', 'data', { a: 1 })));
  const server = new unix.UnixSocketServer({ eventName: 'dual', socketDir, ...quiet });
  server.onRequest((d) => ({ doubled: d.n * 2 }));
  await server.start();
  const client = new unix.UnixSocketClient({ eventName: 'dual', socketDir, ...quiet });
  const tserver = await facade.createServer('tcp', 'dual', { port: 0, ...quiet });
  tserver.onRequest((d) => ({ tripled: d.n * 3 }));
  await tserver.start();
  const tclient = await facade.createClient('tcp', 'dual', { port: tserver.port, ...quiet });
  try {
    await client.connect({ waitForWelcome: true });
    await tclient.connect({ waitForWelcome: true });
    return {
      decoded: frames.map((f) => f.data),
      config: typeof config.loadConfig,
      core: typeof core.SocketServer,
      tcp: typeof tcp.TcpSocketServer,
      unixReply: (await client.request({ n: 21 }, { timeout: 5000 })).data,
      tcpReply: (await tclient.request({ n: 14 }, { timeout: 5000 })).data,
    };
  } finally {
    await tclient.disconnect();
    await client.disconnect();
    await tserver.stop();
    await server.stop();
  }
}
`;

const EXPECTED = {
  decoded: [{ a: 1 }],
  config: 'function',
  core: 'function',
  tcp: 'function',
  unixReply: { doubled: 42 },
  tcpReply: { tripled: 42 },
};

/** A typed consumer: uses the facade and a transport, and proves wrong-transport options are type errors. */
const typedSource = `
import { createServer, createClient, type SocketMessage } from 'socketkit';
import { UnixSocketServer } from '@socketkit/unix';
export async function typed(socketDir: string): Promise<SocketMessage> {
  const server = new UnixSocketServer({ eventName: 'typed', socketDir });
  // @ts-expect-error servers is a NATS option
  await createServer('unix', 'typed', { servers: 'nats://127.0.0.1:4222' });
  // @ts-expect-error socketDir is a Unix option
  await createClient('nats', 'typed', { socketDir });
  const client = await createClient('tcp', 'typed', { port: 9000 });
  const reply = await client.request({ n: 1 });
  await server.stop();
  return reply;
}
`;

describe('CommonJS and ESM consumers of the tarballs', () => {
  let dir: string;

  beforeAll(async () => {
    dir = tempDir('sk-dual-');
    // No "type" field: .js would be CommonJS; the apps say .cjs / .mjs explicitly.
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'dual', private: true }));
    await npmInstall(dir, [...BASE, 'unix', 'tcp', 'nats', 'socketkit']);
  }, TIMEOUT);

  test(
    'require() from a CommonJS app and import from an ESM app both work (Node >= 20.19)',
    async () => {
      writeFileSync(
        join(dir, 'app.cjs'),
        `${roundTrip((p) => `require('${p}')`)}
const versions = ${JSON.stringify(BASE.map(pkgName))}.map((p) => require(p + '/package.json').version);
main(process.argv[2]).then(
  (r) => console.log(JSON.stringify({ ...r, versions })),
  (e) => { console.error(e); process.exit(1); },
);
`,
      );
      writeFileSync(
        join(dir, 'app.mjs'),
        `${roundTrip((p) => `await import('${p}')`)}
import { createRequire } from 'node:module';
const versions = ${JSON.stringify(BASE.map(pkgName))}
  .map((p) => createRequire(import.meta.url)(p + '/package.json').version);
console.log(JSON.stringify({ ...(await main(process.argv[2])), versions }));
`,
      );
      for (const app of ['app.cjs', 'app.mjs']) {
        const { stdout } = await run(process.execPath, [app, tempDir('sk-')], { cwd: dir, timeout: 30_000 });
        const out = JSON.parse(stdout.trim().split('\n').pop() as string) as Record<string, unknown>;
        expect({ app, ...out }).toEqual({
          app,
          ...EXPECTED,
          versions: BASE.map(() => expect.stringMatching(/^\d+\.\d+\.\d+/)),
        });
      }
    },
    TIMEOUT,
  );

  test(
    'TypeScript consumers (.cts and .mts) compile against the published types with skipLibCheck false',
    async () => {
      writeFileSync(join(dir, 'typed.cts'), typedSource);
      writeFileSync(join(dir, 'typed.mts'), typedSource);
      expect(await typecheck(dir, ['typed.cts', 'typed.mts'])).toBe('');
    },
    TIMEOUT,
  );
});

describe('published tarballs', () => {
  test(
    'each has LICENSE, README, every source its maps name, and a manifest without devDependencies or scripts',
    async () => {
      for (const name of PACKAGES) {
        const { stdout } = await run('tar', ['tzf', tarballs.get(name) as string]);
        const files = stdout.split('\n').filter(Boolean);
        expect({
          name,
          license: files.includes('package/LICENSE'),
          readme: files.includes('package/README.md'),
        }).toEqual({ name, license: true, readme: true });
        // Every source a map names ships (dist/*.js are bundles: one map names many sources), or is a file of a
        // package that the build inlined and that the manifest declares (the map points at node_modules/<it>).
        const unpacked = tempDir('sk-maps-');
        await run('tar', ['xzf', tarballs.get(name) as string, '-C', unpacked]);
        const { dependencies = {} } = JSON.parse(readFileSync(join(unpacked, 'package/package.json'), 'utf8')) as {
          dependencies?: Record<string, string>;
        };
        for (const map of files.filter((f) => f.endsWith('.js.map'))) {
          const { sources } = JSON.parse(readFileSync(join(unpacked, map), 'utf8')) as { sources: string[] };
          for (const source of sources) {
            const file = posix.normalize(posix.join(posix.dirname(map), source));
            const dep = /^package\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file)?.[1];
            const ships = dep === undefined ? files.includes(file) : dependencies[dep] !== undefined;
            expect({ map, source, ships }).toEqual({ map, source, ships: true });
          }
        }
        const { stdout: manifest } = await run('tar', [
          'xzf',
          tarballs.get(name) as string,
          '-O',
          'package/package.json',
        ]);
        const pkg = JSON.parse(manifest) as Record<string, unknown>;
        expect({ name, devDependencies: pkg.devDependencies, scripts: pkg.scripts }).toEqual({
          name,
          devDependencies: undefined,
          scripts: undefined,
        });
        for (const key of ['repository', 'homepage', 'bugs', 'keywords', 'author', 'license', 'engines'])
          expect({ name, key, set: pkg[key] !== undefined }).toEqual({ name, key, set: true });
        expect(JSON.stringify(pkg)).not.toContain('workspace:');
      }
    },
    TIMEOUT,
  );

  test(
    'are the types wrong? every tarball passes @arethetypeswrong/cli',
    async () => {
      const attw = join(root, 'node_modules/@arethetypeswrong/cli/dist/index.js');
      for (const name of PACKAGES) {
        // cjs-resolves-to-esm: attw (TypeScript 5.6 inside) predates require(esm); Node >= 20.19 (our
        // engines) and TypeScript >= 5.8 (module nodenext) load these ESM packages from require(), which
        // the CommonJS consumer tests above prove end to end.
        const r = await run(
          process.execPath,
          [attw, tarballs.get(name) as string, '--ignore-rules', 'cjs-resolves-to-esm', '--format', 'ascii'],
          {
            timeout: 120_000,
          },
        ).catch((e: { stdout: string; code: number }) => e);
        expect({
          name,
          code: (r as { code?: number }).code ?? 0,
          out: (r as { code?: number }).code ? r.stdout : '',
        }).toEqual({ name, code: 0, out: '' });
      }
    },
    TIMEOUT,
  );
});

describe('the CLI from its tarball, without @socketkit/nats', () => {
  let dir: string;
  let bin: string;

  beforeAll(async () => {
    dir = tempDir('sk-cli-');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'cli-user', private: true }));
    await npmInstall(dir, [...BASE, 'unix', 'tcp', 'socketkit', 'cli']);
    bin = join(dir, 'node_modules/.bin/socketkit');
  }, TIMEOUT);

  const cli = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    run(bin, args, { cwd: dir, timeout: 30_000 }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  test('installs no NATS code', () => {
    expect(existsSync(join(dir, 'node_modules/@socketkit/nats'))).toBe(false);
    expect(existsSync(join(dir, 'node_modules/@nats-io'))).toBe(false);
  });

  test('bare socketkit exits 2 with the usage; the help names every transport and no bench', async () => {
    const bare = await cli([]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('usage: socketkit <command>');
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('unix|tcp|nats');
    expect(help.stdout).not.toMatch(/^\s+bench\b/m);
    const bench = await cli(['bench']);
    expect(bench.code).toBe(2);
    expect(bench.stderr).toContain('repository checkout');
  });

  test('--transport nats says which package to install', async () => {
    const r = await cli(['request', 'jobs', '--transport', 'nats', '--timeout', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('npm install @socketkit/nats');
    expect(r.stderr).toContain('npx -p @socketkit/cli -p @socketkit/nats socketkit');
  });

  test('unix works: a request answered by socketkit serve --echo', async () => {
    const socketDir = tempDir('sk-');
    const server = execFile(bin, ['serve', 'clitar', '--echo', '--socket-dir', socketDir], { cwd: dir });
    try {
      await new Promise<void>((resolve, reject) => {
        server.stderr?.on('data', (d: Buffer) => {
          if (d.toString().includes('listening on')) resolve();
        });
        server.once('exit', () => reject(new Error('serve exited early')));
      });
      const r = await cli(['request', 'clitar', '--socket-dir', socketDir, '--data', '{"n":1}']);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).data).toEqual({ echo: { n: 1 } });
    } finally {
      server.kill('SIGTERM');
      await new Promise((resolve) => server.once('exit', resolve));
    }
  });
});
