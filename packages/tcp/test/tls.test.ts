import { readFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { ConnectionError, ErrorCode } from '@socketkit/protocol';
import { TcpSocketClient, TcpSocketServer } from '../src/index.js';
import { hasOpenssl, usePki } from './pki.js';

/**
 * A throwaway CA, a server certificate for 127.0.0.1/localhost and a client
 * certificate, generated with openssl into a temp dir for this run only.
 */
const { file } = usePki('sktls-', (pki) => {
  for (const ca of ['ca', 'rogue-ca']) pki.ca(ca, `/CN=socketkit test ${ca}`);
  pki.issue(
    'server',
    'ca',
    '/CN=socketkit test server',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
  );
  pki.issue('client', 'ca', '/CN=socketkit test client', 'extendedKeyUsage=clientAuth\n');
  pki.issue('rogue-client', 'rogue-ca', '/CN=rogue client', 'extendedKeyUsage=clientAuth\n');
  pki.issue('other-host', 'ca', '/CN=elsewhere', 'subjectAltName=DNS:elsewhere.example\nextendedKeyUsage=serverAuth\n');
});
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});
const quiet = { logLevel: 'silent' as const, envFile: false as const };
type ServerOpts = Partial<ConstructorParameters<typeof TcpSocketServer>[0]>;
type ClientOpts = Partial<ConstructorParameters<typeof TcpSocketClient>[0]>;
function server(opts: ServerOpts): TcpSocketServer {
  const s = new TcpSocketServer({ eventName: 'secure', ...quiet, port: 0, ...opts });
  cleanups.push(() => s.stop());
  return s;
}
function client(port: number, opts: ClientOpts): TcpSocketClient {
  const c = new TcpSocketClient({ eventName: 'secure', ...quiet, port, autoReconnect: false, ...opts });
  cleanups.push(() => c.disconnect());
  return c;
}
async function until(cond: () => boolean, what: string, limitMs = 5000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
const serverTls = (): { cert: string; key: string } => ({ cert: file('server.crt'), key: file('server.key') });

(hasOpenssl ? describe : describe.skip)('TLS over TCP (throwaway CA made with openssl)', () => {
  it('a client that trusts the CA talks to the server both ways; cert/key/ca as file paths or PEM text', async () => {
    const s = server({ tls: serverTls(), handler: (d) => ({ echo: d }) });
    await s.start();
    const c = client(s.port as number, { tls: { ca: readFileSync(file('ca.crt'), 'utf8') } });
    await c.connect({ waitForWelcome: true });
    expect((await c.request({ n: 1 })).data).toEqual({ echo: { n: 1 } });
    s.send({ pushed: true });
    expect((await c.receive()).data).toEqual({ pushed: true });
  });

  it(
    'verification is on by default: without the CA, or with a certificate for another host, the client refuses ' +
      '(UNAUTHORIZED)',
    async () => {
      const s = server({ tls: serverTls() });
      await s.start();
      const noCa = (await client(s.port as number, { tls: {} })
        .connect()
        .catch((e: unknown) => e)) as ConnectionError;
      expect(noCa).toBeInstanceOf(ConnectionError);
      expect(noCa.code).toBe(ErrorCode.UNAUTHORIZED);
      expect(noCa.message).toContain('tls.ca');
      const other = server({ eventName: 'other', tls: { cert: file('other-host.crt'), key: file('other-host.key') } });
      await other.start();
      const wrongHost = (await client(other.port as number, { eventName: 'other', tls: { ca: file('ca.crt') } })
        .connect()
        .catch((e: unknown) => e)) as ConnectionError;
      expect(wrongHost.code).toBe(ErrorCode.UNAUTHORIZED);
      expect(s.getConnectedClients()).toEqual([]);
    },
  );

  it('a plain TCP client gets nothing from a TLS server', async () => {
    const s = server({ tls: serverTls() });
    await s.start();
    s.send({ secret: 1 });
    const plain = client(s.port as number, {});
    const err = await plain.connect({ waitForWelcome: true, timeout: 2000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(s.queuedMessages).toBe(1);
  });

  it(
    'mutual TLS (requestCert): a client without a certificate, or with one from another CA, ' +
      'is refused; a client certificate from the CA is served',
    async () => {
      const s = server({ tls: { ...serverTls(), ca: file('ca.crt'), requestCert: true } });
      await s.start();
      s.send({ secret: 'only for certified clients' });
      for (const tls of [
        { ca: file('ca.crt') },
        { ca: file('ca.crt'), cert: file('rogue-client.crt'), key: file('rogue-client.key') },
      ]) {
        const c = client(s.port as number, { tls });
        const err = await c.connect({ waitForWelcome: true, timeout: 2000 }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(Error);
        expect(s.queuedMessages).toBe(1);
      }
      const ok = client(s.port as number, {
        tls: { ca: file('ca.crt'), cert: file('client.crt'), key: file('client.key') },
      });
      await ok.connect({ waitForWelcome: true });
      expect((await ok.receive()).data).toEqual({ secret: 'only for certified clients' });
    },
  );

  it('TLS and a token together; a TLS server may bind a non-loopback address (protected mode)', async () => {
    const token = 'tls-and-token-together-0123';
    const s = server({ host: '0.0.0.0', tls: serverTls(), token });
    await s.start();
    const c = client(s.port as number, { tls: { ca: file('ca.crt') }, token });
    await c.connect({ waitForWelcome: true });
    expect(s.getConnectedClients()).toHaveLength(1);
    const tlsOnly = server({ eventName: 'tlsonly', host: '0.0.0.0', tls: serverTls() });
    await tlsOnly.start();
    expect(tlsOnly.isRunning()).toBe(true);
  });

  it(
    'TLS handshakes count under maxUnauthenticated (issue 22 item 8): the oldest is evicted and reported; ' +
      'authTimeout bounds a handshake',
    async () => {
      const token = 'tls-and-token-together-0123';
      const s = server({ tls: serverTls(), token, maxUnauthenticated: 8, authTimeout: 1500 });
      const refused: Array<{ code: string; peer: { transport: string; address?: string } }> = [];
      s.on('peerRefused', (r) => refused.push(r));
      await s.start();
      // 40 connections that never send a ClientHello.
      const silent = await Promise.all(
        Array.from(
          { length: 40 },
          () =>
            new Promise<Socket>((resolve) => {
              const sock = createConnection({ host: '127.0.0.1', port: s.port as number }, () => resolve(sock));
              sock.on('error', () => undefined);
              cleanups.push(() => sock.destroy());
            }),
        ),
      );
      await until(() => refused.length >= 40 - 8, 'evictions');
      expect(s.connectionCounts.handshaking).toBeLessThanOrEqual(8);
      expect(new Set(refused.map((r) => r.code))).toEqual(new Set([ErrorCode.ADMISSION_FULL]));
      expect(refused[0]?.peer).toEqual({ transport: 'tcp', address: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
      const c = client(s.port as number, { tls: { ca: file('ca.crt') }, token });
      await c.connect({ waitForWelcome: true });
      expect(s.getConnectedClients()).toHaveLength(1);
      // The ones left are closed by the handshake timeout (authTimeout): nothing stays in a handshake.
      await until(() => silent.every((x) => x.destroyed || x.readableEnded), 'handshake timeout', 10_000);
      await until(() => s.connectionCounts.handshaking === 0, 'no handshake left');
    },
  );

  it('bad TLS settings are INVALID_CONFIG at construction', () => {
    expect(() => new TcpSocketServer({ eventName: 'secure', ...quiet, tls: { cert: file('server.crt') } })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_CONFIG }) as unknown as Error,
    );
    expect(() => new TcpSocketServer({ eventName: 'secure', ...quiet, tls: { ca: file('ca.crt') } })).toThrow(
      /needs tls.cert/,
    );
    expect(
      () => new TcpSocketClient({ eventName: 'secure', ...quiet, port: 1, tls: { ca: file('missing.pem') } }),
    ).toThrow(/missing.pem/);
  });
});
