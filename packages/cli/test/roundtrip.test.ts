import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startNatsServer, type NatsServerHandle } from '@socketkit/conformance/nats-server';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cli, jsonLines, runCli, type Cli, useTestDir } from './helpers.js';

let dir = '';
let nats: NatsServerHandle;
useTestDir('sk-', (d) => {
  dir = d;
});
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(() => nats.stop());

/** Starts `socketkit serve` and resolves once it printed its ready line; returns the transport flags clients need. */
async function startServe(
  event: string,
  transport: 'unix' | 'tcp' | 'nats',
  extra: string[] = [],
): Promise<{ serve: Cli; flags: string[] }> {
  if (transport === 'nats') {
    const flags = ['--transport', 'nats', '--servers', nats.url];
    const serve = cli(['serve', event, ...flags, ...extra], dir);
    const ready = await serve.waitFor('stderr', /listening on (\S+) .*\n/);
    expect(ready[1]).toBe(nats.url);
    return { serve, flags };
  }
  const flags = transport === 'unix' ? ['--socket-dir', dir] : ['--transport', 'tcp'];
  const serve = cli(['serve', event, ...flags, ...(transport === 'tcp' ? ['--port', '0'] : []), ...extra], dir);
  const ready = await serve.waitFor('stderr', /listening on (\S+) .*\n/);
  if (transport === 'unix') {
    expect(ready[1]).toBe(join(dir, `${event}.sock`));
    return { serve, flags };
  }
  const port = (await serve.waitFor('stderr', /tcp port (\d+)\)/))[1] as string;
  expect(ready[1]).toBe(`127.0.0.1:${port}`);
  return { serve, flags: [...flags, '--port', port] };
}

describe.each(['unix', 'tcp', 'nats'] as const)('%s: serve + listen + send round trip', (transport) => {
  test('stdin of serve reaches listeners; send reaches serve; SIGTERM stops cleanly', async () => {
    const { serve, flags } = await startServe('roundtrip', transport);

    // Two listeners, each exits after two messages.
    const listeners = [
      cli(['listen', 'roundtrip', ...flags, '--count', '2'], dir),
      cli(['listen', 'roundtrip', ...flags, '--count', '2'], dir),
    ];
    for (const l of listeners) await l.waitFor('stderr', /connected to /);
    await serve.waitFor('stderr', /client \S+ connected \(2 connected\)/);

    serve.child.stdin.write('{"step": 1, "text": "hello"}\n');
    serve.child.stdin.write('not json\n');
    serve.child.stdin.write('{"step": 2, "nested": {"ok": true}}\n');
    for (const l of listeners) {
      expect(await l.exited).toBe(0);
      const lines = jsonLines(l.stdout());
      expect(lines.map((m) => m.data)).toEqual([
        { step: 1, text: 'hello' },
        { step: 2, nested: { ok: true } },
      ]);
      for (const m of lines) {
        expect(m).toMatchObject({ event_name: 'roundtrip', message_type: 'data' });
        expect(typeof m.timestamp_ms).toBe('number');
        expect(typeof m.timestamp_iso).toBe('string');
      }
    }
    expect(serve.stderr()).toMatch(/error INVALID_MESSAGE: stdin line 2 is not valid JSON.*line skipped/);
    await serve.waitFor('stderr', /client \S+ disconnected.*\n(.|\n)*client \S+ disconnected/);

    // send --data, then JSON lines on stdin: serve prints what clients send.
    const one = await runCli(['send', 'roundtrip', ...flags, '--data', '{"from": "send", "n": 1}'], dir);
    expect(one.code).toBe(0);
    expect(one.stderr).toContain('sent 1 message');
    const many = await runCli(['send', 'roundtrip', ...flags], dir, '{"n": 2}\n\n{"n": 3}\n');
    expect(many.code).toBe(0);
    expect(many.stderr).toContain('sent 2 messages');
    await serve.waitFor('stdout', /"n":3/);
    expect(jsonLines(serve.stdout()).map((m) => m.data)).toEqual([{ from: 'send', n: 1 }, { n: 2 }, { n: 3 }]);

    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    expect(serve.stderr()).toContain('SIGTERM: stopping');
    expect(serve.stderr()).toContain('stopped');
    if (transport === 'unix') expect(existsSync(join(dir, 'roundtrip.sock'))).toBe(false);
  });

  test('request gets the reply of serve --echo', async () => {
    const { serve, flags } = await startServe('rpc', transport, ['--echo']);
    const r = await runCli(['request', 'rpc', ...flags, '--data', '{"q": "ping"}'], dir);
    expect(r.code).toBe(0);
    const [reply] = jsonLines(r.stdout);
    expect(reply).toMatchObject({ event_name: 'rpc', message_type: 'data', data: { echo: { q: 'ping' } } });
    expect(typeof reply?.reply_to).toBe('string');
    serve.child.kill('SIGINT');
    expect(await serve.exited).toBe(0);
  });
});

test('messages written to serve before anyone listens are queued for the first listener', async () => {
  const { serve, flags } = await startServe('queued', 'unix');
  // The bad last line is reported once serve has read (and queued) the two before it.
  serve.child.stdin.write('{"early": 1}\n{"early": 2}\n[]\n');
  await serve.waitFor('stderr', /stdin line 3 is not a JSON object/);
  expect(serve.stderr()).not.toContain('connected');
  const listen = cli(['listen', 'queued', ...flags, '--count', '2'], dir);
  expect(await listen.exited).toBe(0);
  expect(jsonLines(listen.stdout()).map((m) => m.data)).toEqual([{ early: 1 }, { early: 2 }]);
  serve.child.kill('SIGTERM');
  expect(await serve.exited).toBe(0);
});

test('listen --reconnect started before its server waits for it (issue 23 item 3)', async () => {
  const listen = cli(['listen', 'later', '--socket-dir', dir, '--reconnect', '--count', '1'], dir);
  await listen.waitFor('stderr', /waiting for the server at /);
  const serve = await startServe('later', 'unix');
  await listen.waitFor('stderr', /connected to /);
  serve.serve.child.stdin.write('{"late": 1}\n');
  expect(await listen.exited).toBe(0);
  expect(jsonLines(listen.stdout()).map((m) => m.data)).toEqual([{ late: 1 }]);
  serve.serve.child.kill('SIGTERM');
  expect(await serve.serve.exited).toBe(0);
});

test('listen without --reconnect, started before its server, fails at once with SOCKET_NOT_FOUND', async () => {
  const r = await runCli(['listen', 'nobody', '--socket-dir', dir], dir);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/error SOCKET_NOT_FOUND/);
});

test('listen --reconnect keeps listening across a server restart', async () => {
  const first = await startServe('restart', 'unix');
  const listen = cli(['listen', 'restart', '--socket-dir', dir, '--reconnect', '--count', '2'], dir);
  await listen.waitFor('stderr', /connected to /);
  first.serve.child.stdin.write('{"life": 1}\n');
  await listen.waitFor('stdout', /"life":1/);
  first.serve.child.kill('SIGTERM');
  expect(await first.serve.exited).toBe(0);
  await listen.waitFor('stderr', /connection lost: reconnecting/);

  const second = await startServe('restart', 'unix');
  await listen.waitFor('stderr', /reconnected to /);
  second.serve.child.stdin.write('{"life": 2}\n');
  expect(await listen.exited).toBe(0);
  expect(jsonLines(listen.stdout()).map((m) => m.data)).toEqual([{ life: 1 }, { life: 2 }]);
  second.serve.child.kill('SIGTERM');
  expect(await second.serve.exited).toBe(0);
});
