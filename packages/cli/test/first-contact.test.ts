// Issue 23, item 10: what a new user sees from the CLI on first contact.
import { describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { cli, jsonLines, runCli, useTestDir } from './helpers.js';

let dir = '';
useTestDir('sk-cli-first-', (d) => {
  dir = d;
});

const TOKEN = 'first-contact-token-0123456789\n';

async function tokenServer(event: string): Promise<ReturnType<typeof cli>> {
  writeFileSync(join(dir, 'token'), TOKEN, { mode: 0o600 });
  const server = cli(['serve', event, '--socket-dir', dir, '--token-file', join(dir, 'token')], dir);
  await server.waitFor('stderr', /listening on/);
  return server;
}

/** How many lines of `text` name the error `code`. */
const errorLines = (text: string, code: string): number =>
  text.split('\n').filter((l) => l.includes(`error ${code}`)).length;

describe('CLI: token errors (issue 23, item 10)', () => {
  test('send, request and listen without --token-file print UNAUTHORIZED once, with the --token-file hint', async () => {
    await tokenServer('locked');
    for (const args of [
      ['send', 'locked', '--data', '{"a":1}'],
      ['request', 'locked', '--data', '{"a":1}'],
      ['listen', 'locked'],
    ]) {
      const r = await runCli([...args, '--socket-dir', dir], dir);
      expect({ args, code: r.code }).toEqual({ args, code: 1 });
      expect({ args, lines: errorLines(r.stderr, 'UNAUTHORIZED') }).toEqual({ args, lines: 1 });
      // Nothing else: no warning repeating it.
      expect({ args, stderr: r.stderr.trim().split('\n') }).toEqual({
        args,
        stderr: [expect.stringContaining('error UNAUTHORIZED')],
      });
      expect(r.stderr).toContain('--token-file');
      expect(r.stderr).not.toContain('client options');
    }
  });

  test('a wrong token is printed once, with the --token-file hint', async () => {
    await tokenServer('locked2');
    writeFileSync(join(dir, 'wrong'), 'another-token-0123456789abcdef\n', { mode: 0o600 });
    const r = await runCli(
      ['send', 'locked2', '--socket-dir', dir, '--token-file', join(dir, 'wrong'), '--data', '{}'],
      dir,
    );
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr, 'UNAUTHORIZED')).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining('error UNAUTHORIZED')]);
    expect(r.stderr).toContain('--token-file');
    expect(r.stderr).not.toContain('client options');
  });
});

describe('CLI: listen says "connected" only once welcomed (issue 23, item 10)', () => {
  test('a server that accepts but never welcomes: no "connected" line, an error naming the missing welcome', async () => {
    // A socket that accepts and reads the hello but never answers.
    const path = join(dir, 'mute.sock');
    const sockets: Socket[] = [];
    let hello = false;
    const mute: Server = createServer((s) => {
      sockets.push(s);
      s.on('data', () => {
        hello = true;
      });
    });
    await new Promise<void>((r) => mute.listen(path, r));
    try {
      const l = cli(['listen', 'mute', '--socket-dir', dir, '--timeout', '1'], dir);
      const code = await Promise.race([l.exited, l.waitFor('stderr', /connected to/).then(() => 'printed connected')]);
      expect(l.stderr()).not.toContain('connected to');
      expect(code).toBe(1);
      expect(hello).toBe(true);
      expect(l.stderr()).toMatch(/no welcome/);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => mute.close(() => r()));
    }
  });
});

describe('CLI: send never takes the no-client queue (issue 23, item 10)', () => {
  test('a message queued while no client listens survives a socketkit send and reaches the next listener', async () => {
    const server = cli(['serve', 'q', '--socket-dir', dir], dir);
    await server.waitFor('stderr', /listening on/);
    server.child.stdin.write('{"queued":1}\n');
    // Wait until the server queued it (read as a monitor), so the order is not left to chance.
    for (let i = 0; i < 200; i++) {
      const s = await runCli(['stats', 'q', '--socket-dir', dir, '--json'], dir);
      if ((jsonLines(s.stdout)[0] as { queue?: { length?: number } } | undefined)?.queue?.length === 1) break;
      if (i === 199) throw new Error(`the message was never queued: ${s.stdout}${s.stderr}`);
    }
    const sent = await runCli(['send', 'q', '--socket-dir', dir, '--data', '{"from":"send"}'], dir);
    expect(sent.code).toBe(0);
    await server.waitFor('stdout', /"from":"send"/);
    const l = cli(['listen', 'q', '--socket-dir', dir, '--count', '1'], dir);
    await l.waitFor('stderr', /connected to/);
    // Had send taken the queue, the listener would get this one instead.
    server.child.stdin.write('{"queued":2}\n');
    const code = await l.exited;
    expect(code).toBe(0);
    expect(jsonLines(l.stdout())[0]?.data).toEqual({ queued: 1 });
  });
});

/**
 * A unix server in Python that refuses its first `refusals` connections ADMISSION_FULL, then welcomes and prints what
 * it gets.
 */
const BUSY_SERVER = `
import json, socket, struct, sys, time
import msgpack
path, event, refusals = sys.argv[1], sys.argv[2], int(sys.argv[3])
def frame(kind, data):
    body = msgpack.packb({"event_name": event, "timestamp_ms": int(time.time() * 1000),
        "timestamp_iso": "2026-01-01T00:00:00+00:00", "message_type": kind, "data": data})
    return struct.pack(">I", len(body)) + body
def read(conn):
    head = b""
    while len(head) < 4:
        c = conn.recv(4 - len(head))
        if not c: return None
        head += c
    (n,) = struct.unpack(">I", head)
    body = b""
    while len(body) < n:
        c = conn.recv(n - len(body))
        if not c: return None
        body += c
    return msgpack.unpackb(body, raw=False)
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(8)
print(json.dumps({"listening": path}), flush=True)
for i in range(refusals + 1):
    conn, _ = srv.accept()
    hello = read(conn)
    if i < refusals:
        refusal = {"code": "ADMISSION_FULL", "error": "busy admitting: retry", "origin": "socketkit"}
        conn.sendall(frame("error", refusal))
        conn.close()
        continue
    conn.sendall(frame("control", {"op": "welcome", "protocol": 3, "event": event, "client_id": "c1",
        "allow_client_send": True, "max_message_size": 1048576, "role": hello["data"].get("role")}))
    while True:
        m = read(conn)
        if m is None: break
        print(json.dumps({"hello_role": hello["data"].get("role"), "data": m["data"]}), flush=True)
`;

describe('CLI: ADMISSION_FULL is retried (issue 23, item 10)', () => {
  test('send retries a connect refused ADMISSION_FULL (retryable) and delivers, announcing itself as a sender', async () => {
    writeFileSync(join(dir, 'busy.py'), BUSY_SERVER);
    const py = spawn('/usr/bin/python3', [join(dir, 'busy.py'), join(dir, 'busy.sock'), 'busy', '2'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    py.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    const exited = new Promise<void>((r) => py.once('close', () => r()));
    try {
      while (!out.includes('listening')) await new Promise((r) => setTimeout(r, 20));
      const r = await runCli(['send', 'busy', '--socket-dir', dir, '--data', '{"n":1}'], dir);
      expect({ code: r.code, stderr: r.stderr }).toEqual({
        code: 0,
        stderr: expect.stringContaining('sent 1 message'),
      });
      expect(r.stderr).not.toContain('ADMISSION_FULL');
      await exited;
      expect(jsonLines(out).slice(1)).toEqual([{ hello_role: 'sender', data: { n: 1 } }]);
    } finally {
      py.kill('SIGKILL');
    }
  });
});
