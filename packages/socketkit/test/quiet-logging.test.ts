/**
 * A library must not write to the application's stdout: by default socketkit
 * logs only warnings and errors, on stderr, without paths to source files it
 * does not ship. Each case runs the built package in a child process (so the
 * real console and the real stdout/stderr are used) and inspects both streams.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const facade = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '../dist/index.js')).href;
const dirs: string[] = [];

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * Runs a server with maxConnections 1 and two clients (the second is refused:
 * a warning), a broadcast and a clean stop. `extra` is spread into the
 * options of the server and of both clients.
 */
async function runChild(extra: string): Promise<{ stdout: string; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'sk-quiet-'));
  dirs.push(dir);
  const script = join(dir, 'app.mjs');
  writeFileSync(
    script,
    `
import { createServer, createClient } from ${JSON.stringify(facade)};
const socketDir = process.argv[2];
const lines = [];
const extra = ${extra};
const server = await createServer('unix', 'quiet', { socketDir, envFile: false, maxConnections: 1, ...extra });
await server.start();
const a = await createClient('unix', 'quiet', { socketDir, envFile: false, ...extra });
await a.connect({ waitForWelcome: true });
const b = await createClient('unix', 'quiet', { socketDir, envFile: false, autoReconnect: false, ...extra });
try { await b.connect({ waitForWelcome: true }); } catch {}
server.send({ n: 1 });
await a.receive({ timeout: 5000 });
await b.disconnect();
await a.disconnect();
await server.stop();
if (globalThis.captured) process.stderr.write('CAPTURED ' + JSON.stringify(globalThis.captured) + '\\n');
`,
  );
  const env = { ...process.env };
  delete env.SOCKET_LOG_LEVEL; // scripts/jest.mjs silences the library for tests; here the default is under test
  return run(process.execPath, [script, dir], { cwd: dir, env, timeout: 30_000 });
}

describe('library logging', () => {
  test('by default: nothing on stdout, the warning on stderr, no source paths', async () => {
    const { stdout, stderr } = await runChild('{}');
    expect(stdout).toBe('');
    expect(stderr).toContain('refused a connection');
    expect(stderr).not.toMatch(/\tINFO\t|listening on|stopped quiet/);
    expect(stderr).not.toMatch(/src\/|\.ts:\d/);
  });

  test('an application can raise the level: info lines still go to stderr only', async () => {
    const { stdout, stderr } = await runChild("{ logLevel: 'info' }");
    expect(stdout).toBe('');
    expect(stderr).toContain('listening on');
    expect(stderr).toContain('refused a connection');
    expect(stderr).not.toMatch(/src\/|\.ts:\d/);
  });

  test('an application can pass its own logger, which then receives everything', async () => {
    const logger = `(() => {
      globalThis.captured = [];
      const put = (level) => (...args) => globalThis.captured.push(level + ' ' + args.join(' '));
      return { logger: { debug: put('debug'), info: put('info'), warn: put('warn'), error: put('error') } };
    })()`;
    const { stdout, stderr } = await runChild(logger);
    expect(stdout).toBe('');
    const captured = JSON.parse(/CAPTURED (.*)/.exec(stderr)?.[1] ?? '[]') as string[];
    expect(captured.some((l) => l.startsWith('info') && l.includes('listening on'))).toBe(true);
    expect(captured.some((l) => l.startsWith('warn') && l.includes('refused a connection'))).toBe(true);
    expect(stderr.replace(/CAPTURED .*\n/, '')).toBe('');
  });
});
