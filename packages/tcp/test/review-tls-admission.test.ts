import { readFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, describe, expect, it } from '@jest/globals';
import { TcpSocketServer } from '../src/index.js';
import { hasOpenssl, usePki } from './pki.js';

/**
 * Review of issue 22 item 8: a TLS handshake's slot under maxUnauthenticated
 * is released for that very socket. Two connections may share the remote
 * address and port (one source port, two addresses of a server bound to
 * 0.0.0.0): the one that completes its handshake must not release the other's.
 */
const { file } = usePki('sktls-review-', (pki) => {
  pki.ca('ca', '/CN=socketkit review ca');
  pki.issue(
    'server',
    'ca',
    '/CN=socketkit review server',
    'subjectAltName=IP:127.0.0.1,IP:127.0.0.2\nextendedKeyUsage=serverAuth\n',
  );
});
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function until(cond: () => boolean, what: string, limitMs = 5000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A free port on 127.0.0.5 to use as the source port of both connections. */
function freeSourcePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.5', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function rawFrom(localPort: number, host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ host, port, localAddress: '127.0.0.5', localPort }, () => resolve(sock));
    sock.once('error', reject);
    cleanups.push(() => sock.destroy());
  });
}

const title = 'TLS handshakes under maxUnauthenticated: the release is per socket (review of issue 22)';
(hasOpenssl ? describe : describe.skip)(
  hasOpenssl ? title : `${title} [skipped: no openssl to make a certificate]`,
  () => {
    it('one source address:port to two server addresses: the one that completes its handshake leaves the other ' +
      'counted (10 of 10)', async () => {
      const s = new TcpSocketServer({
        eventName: 'tlsreview',
        logLevel: 'silent',
        envFile: false,
        port: 0,
        host: '0.0.0.0',
        tls: { cert: file('server.crt'), key: file('server.key') },
        token: 'a-token-for-the-tls-review-test-0123',
        maxUnauthenticated: 8,
        authTimeout: 20_000,
      });
      cleanups.push(() => s.stop());
      await s.start();
      const port = s.port as number;
      const ca = readFileSync(file('ca.crt'));
      let counted = 0;
      const ROUNDS = 10;
      for (let i = 0; i < ROUNDS; i++) {
        const src = await freeSourcePort();
        const a = await rawFrom(src, '127.0.0.1', port);
        await until(() => s.connectionCounts.handshaking === 1, 'the first in its handshake');
        const silent = await rawFrom(src, '127.0.0.2', port);
        await until(() => s.connectionCounts.handshaking === 2, 'both in their handshake');
        // The first one completes its TLS handshake and goes away; the silent one is still in its handshake.
        const secure = tlsConnect({ socket: a, ca, checkServerIdentity: () => undefined });
        secure.on('error', () => undefined);
        await new Promise<void>((resolve) => secure.once('secureConnect', () => resolve()));
        await until(() => s.connectionCounts.awaiting === 1, 'the server took it as a peer (secureConnection)');
        secure.destroy();
        await until(
          () => s.connectionCounts.handshaking <= 1 && s.connectionCounts.awaiting === 0,
          'the first one gone',
        );
        if (s.connectionCounts.handshaking === 1) counted++;
        silent.destroy();
        await until(() => s.connectionCounts.handshaking === 0, 'the silent one gone');
      }
      expect(counted).toBe(ROUNDS);
    }, 60_000);
  },
);
