/**
 * Installable the way it will be published. `scripts/pack-all.mjs` (the
 * `pack:all` script) packs every public package; the test starts a throwaway
 * registry (verdaccio, in a child process on a free loopback port, storage in
 * a temp dir), publishes every tarball to it with plain `npm publish`, and
 * then, in fresh apps outside the workspace, with plain npm and a registry
 * setting as a user would have it after the first release:
 *
 * - `npm install @socketkit/unix` **alone** (no other @socketkit name given)
 *   and runs the README's quick start, compiled from the README;
 * - `npm install socketkit @socketkit/tcp` and runs the quick start's
 *   scenario through the facade over TCP;
 * - `npx @socketkit/cli serve` and `npx @socketkit/cli request` answer each other.
 *
 * Registry design: socketkit's own names (`@socketkit/*` and `socketkit`) are
 * served only from what the test published, with no uplink, so nothing of
 * ours can come from the public registry (another `socketkit` there, or an
 * old version); every other name (msgpackr, valibot, ...) is proxied to
 * registry.npmjs.org, the third-party dependencies a user gets from npm.
 * `npm publish` needs a token: the npmrc carries a throwaway one, and the
 * registry lets anyone publish socketkit's names. npm uses a temp cache, so
 * `npx` cannot reuse an install of an earlier run.
 *
 * Last, the README's "Try it today" line without any registry:
 * `npm install <dist-packages>/*.tgz` in a fresh app, then the quick start.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = join(pkgDir, '../..');
const TIMEOUT = 120_000;

let base: string;
let packs: string;
let registry: ChildProcess | undefined;
let registryUrl: string;
let userconfig: string;
const env = (): NodeJS.ProcessEnv => {
  const e: NodeJS.ProcessEnv = {
    ...process.env,
    NPM_CONFIG_USERCONFIG: userconfig,
    npm_config_cache: join(base, 'npm-cache'),
  };
  // Not the workspace's pnpm/npm run settings: a user's plain shell.
  for (const k of Object.keys(e)) if (/^npm_(?!config_cache$)/i.test(k) && k !== 'NPM_CONFIG_USERCONFIG') delete e[k];
  delete e.SOCKET_LOG_LEVEL;
  return e;
};

function dir(name: string): string {
  const d = join(base, name);
  mkdirSync(d, { recursive: true });
  return d;
}

/** The README's quick start: the first ```ts runnable block after "## Quick start". */
function quickStart(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const at = readme.indexOf('\n## Quick start');
  const m = /^```ts runnable[ \t]*\n([\s\S]*?)^```[ \t]*$/m.exec(readme.slice(at));
  if (at < 0 || m === null) throw new Error('README.md has no "## Quick start" with a ```ts runnable block');
  return m[1] as string;
}

/** Compiles `file` (strict) in `app` against what npm installed there, then runs it; resolves with its stdout. */
async function compileAndRun(app: string, file: string, socketDir: string): Promise<string> {
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        strict: true,
        skipLibCheck: true,
        outDir: 'out',
        types: ['node'],
        typeRoots: [join(root, 'node_modules/@types')],
      },
      files: [file],
    }),
  );
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  const compiled = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: app, timeout: 90_000 }).then(
    () => '',
    (e: { stdout: string }) => e.stdout,
  );
  expect({ app, compiled }).toEqual({ app, compiled: '' });
  const { stdout } = await run(process.execPath, [join('out', file.replace(/\.ts$/, '.js'))], {
    cwd: app,
    env: { ...env(), SOCKET_DIR: socketDir },
    timeout: 30_000,
  });
  return stdout;
}

async function npm(cwd: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('npm', args, { cwd, env: env(), timeout: 90_000 });
}

function installed(app: string): string[] {
  const scope = join(app, 'node_modules/@socketkit');
  const names = existsSync(scope) ? readdirSync(scope).map((n) => `@socketkit/${n}`) : [];
  if (existsSync(join(app, 'node_modules/socketkit'))) names.push('socketkit');
  return names.sort();
}

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'sk-registry-'));
  packs = dir('dist-packages');
  await run(process.execPath, [join(root, 'scripts/pack-all.mjs'), '--out', packs], { cwd: root, timeout: 120_000 });

  const storage = dir('storage');
  writeFileSync(
    join(base, 'verdaccio.yaml'),
    [
      `storage: ${storage}`,
      'auth:',
      '  htpasswd:',
      `    file: ${join(base, 'htpasswd')}`,
      '    max_users: -1',
      'uplinks:',
      '  npmjs:',
      '    url: https://registry.npmjs.org/',
      'packages:',
      "  '@socketkit/*':",
      '    access: $all',
      '    publish: $all',
      "  'socketkit':",
      '    access: $all',
      '    publish: $all',
      "  '**':",
      '    access: $all',
      '    proxy: npmjs',
      'log: { type: stdout, format: pretty, level: error }',
      '',
    ].join('\n'),
  );
  // The launcher listens on port 0 and prints the port it got: no race for a free port.
  writeFileSync(
    join(base, 'launch.mjs'),
    `import { createRequire } from 'node:module';
const [from, config] = process.argv.slice(2);
const { runServer } = createRequire(from)('verdaccio');
const app = await runServer(config);
const server = app.listen(0, '127.0.0.1', () => console.log('PORT ' + server.address().port));
process.on('SIGTERM', () => { server.closeAllConnections(); server.close(() => process.exit(0)); });
`,
  );
  const child = spawn(
    process.execPath,
    [join(base, 'launch.mjs'), join(pkgDir, 'package.json'), join(base, 'verdaccio.yaml')],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  registry = child;
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.once('exit', (code) => reject(new Error(`verdaccio exited (${code}) before listening: ${out}${err}`)));
  });
  registryUrl = `http://127.0.0.1:${port}/`;
  userconfig = join(base, 'npmrc');
  writeFileSync(
    userconfig,
    [
      `registry=${registryUrl}`,
      `//127.0.0.1:${port}/:_authToken=throwaway-test-token`,
      'update-notifier=false',
      'fund=false',
      'audit=false',
      '',
    ].join('\n'),
  );
  for (const tarball of readdirSync(packs).filter((f) => f.endsWith('.tgz'))) {
    await npm(base, ['publish', join(packs, tarball)]);
  }
}, TIMEOUT);

afterAll(async () => {
  if (registry !== undefined && registry.exitCode === null) {
    const exited = new Promise((resolve) => registry?.once('exit', resolve));
    registry.kill('SIGTERM');
    await exited;
  }
  rmSync(base, { recursive: true, force: true });
});

describe('installed from a registry, as it will be published', () => {
  test(
    'every public package is published, with versions instead of workspace: ranges',
    async () => {
      for (const name of [
        '@socketkit/protocol',
        '@socketkit/codec',
        '@socketkit/config',
        '@socketkit/core',
        '@socketkit/unix',
        '@socketkit/tcp',
        '@socketkit/nats',
        'socketkit',
        '@socketkit/cli',
        '@socketkit/broker',
      ]) {
        const { stdout } = await npm(base, ['view', name, 'version', 'dependencies', '--json']);
        const info = JSON.parse(stdout) as { version: string; dependencies?: Record<string, string> };
        expect({
          name,
          version: info.version,
          workspace: JSON.stringify(info.dependencies ?? {}).includes('workspace:'),
        }).toEqual({
          name,
          version: expect.stringMatching(/^\d+\.\d+\.\d+/),
          workspace: false,
        });
      }
    },
    TIMEOUT,
  );

  test(
    'npm install @socketkit/unix alone, then the README quick start runs',
    async () => {
      const app = dir('app-unix');
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app-unix', private: true, type: 'module' }));
      await npm(app, ['install', '@socketkit/unix']);
      expect(installed(app)).toEqual([
        '@socketkit/codec',
        '@socketkit/config',
        '@socketkit/core',
        '@socketkit/protocol',
        '@socketkit/unix',
      ]);
      writeFileSync(join(app, 'quickstart.ts'), quickStart());
      const out = await compileAndRun(app, 'quickstart.ts', dir('sockets-unix'));
      expect(out).toContain('{ progress: 0.5 }');
      expect(out).toContain('{ doubled: 42 }');
      expect(out).toContain('{ progress: 1 }');
    },
    TIMEOUT,
  );

  test(
    'npm install socketkit @socketkit/tcp, then the quick start through the facade over TCP',
    async () => {
      const app = dir('app-tcp');
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app-tcp', private: true, type: 'module' }));
      await npm(app, ['install', 'socketkit', '@socketkit/tcp']);
      expect(installed(app)).toEqual([
        '@socketkit/codec',
        '@socketkit/config',
        '@socketkit/core',
        '@socketkit/protocol',
        '@socketkit/tcp',
        'socketkit',
      ]);
      writeFileSync(
        join(app, 'facade.ts'),
        `import { createClient, createServer } from 'socketkit';

const server = await createServer('tcp', 'jobs', { port: 0, handler: (data) => ({ doubled: Number(data.n) * 2 }) });
await server.start();
const client = await createClient('tcp', 'jobs', { port: server.port as number });
await client.connect();
server.send({ progress: 0.5 });
const broadcast = (await client.receive({ timeout: 5000 })).data;
const reply = (await client.request({ n: 21 })).data;
const got = new Promise((resolve) => server.once('message', (m) => resolve(m.data)));
await client.send({ status: 'done' });
console.log(JSON.stringify({ broadcast, reply, fromClient: await got }));
await client.disconnect();
await server.stop();
`,
      );
      const out = await compileAndRun(app, 'facade.ts', dir('sockets-tcp'));
      expect(JSON.parse(out.trim().split('\n').pop() as string)).toEqual({
        broadcast: { progress: 0.5 },
        reply: { doubled: 42 },
        fromClient: { status: 'done' },
      });
    },
    TIMEOUT,
  );

  test(
    'npx @socketkit/cli: serve --echo answers request',
    async () => {
      const cwd = dir('npx-user');
      const socketDir = dir('sockets-cli');
      // detached: npx runs the command in a child of its own; the whole group is stopped at the end.
      const serve = spawn('npx', ['-y', '@socketkit/cli', 'serve', 'npxjobs', '--echo', '--socket-dir', socketDir], {
        cwd,
        env: env(),
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      try {
        await new Promise<void>((resolve, reject) => {
          let err = '';
          serve.stderr?.on('data', (d: Buffer) => {
            err += d.toString();
            if (err.includes('listening on')) resolve();
          });
          serve.once('exit', (code) => reject(new Error(`npx @socketkit/cli serve exited (${code}): ${err}`)));
        });
        const { stdout } = await run(
          'npx',
          ['-y', '@socketkit/cli', 'request', 'npxjobs', '--socket-dir', socketDir, '--data', '{"n":21}'],
          {
            cwd,
            env: env(),
            timeout: 60_000,
          },
        );
        expect(JSON.parse(stdout).data).toEqual({ echo: { n: 21 } });
      } finally {
        const exited = new Promise((resolve) => serve.once('exit', resolve));
        if (serve.exitCode === null && serve.pid !== undefined) process.kill(-serve.pid, 'SIGTERM');
        await exited;
      }
    },
    TIMEOUT,
  );
});

describe('"Try it today": pack:all, then one install line', () => {
  test(
    'npm install <dist-packages>/*.tgz in a fresh app, then the README quick start runs',
    async () => {
      const app = dir('app-tarballs');
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app-tarballs', private: true, type: 'module' }));
      const tarballs = readdirSync(packs)
        .filter((f) => f.endsWith('.tgz'))
        .map((f) => join(packs, f));
      // The user's own npm settings (the public registry for third-party packages), not the test registry.
      const e: NodeJS.ProcessEnv = { ...process.env };
      for (const k of Object.keys(e)) if (/^npm_/i.test(k)) delete e[k];
      await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...tarballs], {
        cwd: app,
        env: e,
        timeout: 90_000,
      });
      expect(installed(app)).toEqual([
        '@socketkit/broker',
        '@socketkit/cli',
        '@socketkit/codec',
        '@socketkit/config',
        '@socketkit/core',
        '@socketkit/nats',
        '@socketkit/protocol',
        '@socketkit/tcp',
        '@socketkit/unix',
        'socketkit',
      ]);
      writeFileSync(join(app, 'quickstart.ts'), quickStart());
      const out = await compileAndRun(app, 'quickstart.ts', dir('sockets-tarballs'));
      expect(out).toContain('{ doubled: 42 }');
    },
    TIMEOUT,
  );
});
