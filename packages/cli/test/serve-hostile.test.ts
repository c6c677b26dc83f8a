// `socketkit serve` survives any message a client can send (issue 11 item 12).
import { describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import { createConnection } from 'node:net';
import { cli, jsonLines, useTestDir } from './helpers.js';

let dir = '';
useTestDir('sk-', (d) => {
  dir = d;
});

describe('serve prints whatever a client sends, never crashing', () => {
  test(
    'a 3 KB message nested 3,000 deep is skipped and reported, one nested 500 deep is printed (cut), and the next ' +
      'message still arrives',
    async () => {
      const serve = cli(['serve', 'deep', '--socket-dir', dir, '--echo'], dir);
      await serve.waitFor('stderr', /listening on /);
      // Built by hand: msgpackr in this (jest) process cannot encode that deep.
      const str = (t: string): Buffer => Buffer.concat([Buffer.from([0xa0 | t.length]), Buffer.from(t)]);
      const frame = (data: Buffer, id?: string): Buffer => {
        const body = Buffer.concat([
          Buffer.from([id === undefined ? 0x85 : 0x86]),
          str('event_name'),
          str('deep'),
          str('timestamp_ms'),
          Buffer.from([0x01]),
          str('timestamp_iso'),
          str('x'),
          str('message_type'),
          str('data'),
          str('data'),
          data,
          ...(id === undefined ? [] : [str('id'), str(id)]),
        ]);
        const head = Buffer.alloc(4);
        head.writeUInt32BE(body.length);
        return Buffer.concat([head, body]);
      };
      const nested = (depth: number): Buffer =>
        Buffer.concat([Buffer.from([0x81]), str('deep'), Buffer.alloc(depth, 0x91), Buffer.from([0xc0])]);
      // 3,000 deep is past the codec's decode limit (512): reported and skipped. 500 deep decodes, and printing must
      // cut
      // it.
      const tooDeep = nested(3000);
      const deep = nested(500);
      const sock = createConnection({ path: join(dir, 'deep.sock') });
      sock.on('error', () => undefined);
      await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
      sock.on('data', () => undefined);
      sock.write(frame(tooDeep));
      sock.write(frame(deep));
      sock.write(frame(deep, 'req-1')); // --echo answers it: the reply must not crash the server either
      sock.write(frame(Buffer.concat([Buffer.from([0x81]), str('after'), Buffer.from([0x01])])));
      await serve.waitFor('stdout', /"after":1/);
      const lines = jsonLines(serve.stdout());
      expect(`${lines.length} lines; stderr: ${serve.stderr()}`).toMatch(/^3 lines/);
      expect(JSON.stringify(lines[0])).toContain('nested too deep to print');
      expect(serve.stderr()).toMatch(/error INVALID_MESSAGE: skipped an invalid message/);
      expect(serve.child.exitCode).toBeNull();
      sock.destroy();
      serve.child.kill('SIGTERM');
      expect(await serve.exited).toBe(0);
    },
  );
});
