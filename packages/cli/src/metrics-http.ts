import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConnectionError, ErrorCode } from 'socketkit';

/** The Prometheus text exposition format's content type. */
const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Mode of the unix socket `--metrics-socket` creates: its owner only, as the server's own socket. */
export const METRICS_SOCKET_MODE = 0o600;

/** Where metrics are served: a loopback TCP port, or a unix socket path. */
export type MetricsListen = { port: number } | { path: string };

/** A running metrics endpoint. */
export interface MetricsEndpoint {
  /** `http://127.0.0.1:<port>/metrics`, or `unix:<path>`. */
  url: string;
  /** Stops serving (a unix socket file is removed). */
  close(): Promise<void>;
}

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/**
 * True when the request carries `Authorization: Bearer <token>`, compared in constant time.
 * Parsed in linear time: anyone who can reach the port sends this header before any token is
 * known (a backtracking pattern such as `(.+?) *$` took ~0.8 s of the event loop per 16 KB header).
 */
function authorized(req: IncomingMessage, expected: Buffer): boolean {
  const token = bearerToken(req.headers.authorization ?? '');
  // Digests have one length, so timingSafeEqual compares every byte whatever was sent.
  return token !== undefined && timingSafeEqual(digest(token), expected);
}

/**
 * The token of an `Authorization: Bearer <token>` header value (any case of
 * "bearer", spaces around the token ignored), or undefined. Linear in the
 * header's length: anyone who can reach the port sends it before any token
 * is known.
 */
export function bearerToken(header: string): string | undefined {
  const scheme = /^Bearer +/i.exec(header);
  if (scheme === null) return undefined;
  let end = header.length;
  while (end > scheme[0].length && header.charCodeAt(end - 1) === 0x20) end--;
  return end === scheme[0].length ? undefined : header.slice(scheme[0].length, end);
}

/**
 * Serves `source.metrics()` (Prometheus text) at `/metrics`, either on
 * `http://127.0.0.1:<port>` or on a unix socket created with mode 0600
 * (the process umask is narrowed while it is bound, so the socket never
 * exists with a wider mode). With `token`, every request must carry
 * `Authorization: Bearer <token>` (Prometheus: `authorization:
 * credentials_file`), else 401 with nothing else said; a loopback port is
 * reachable by every local user, so the CLI requires a token there.
 *
 * @throws ConnectionError `ADDRESS_IN_USE` when the port or socket path is taken.
 */
export async function serveMetrics(
  source: { metrics(): string },
  listen: MetricsListen,
  token?: string,
): Promise<MetricsEndpoint> {
  const expected = token === undefined ? undefined : digest(token);
  const http = createServer((req, res) => {
    if (expected !== undefined && !authorized(req, expected)) {
      res
        .writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="socketkit metrics"' })
        .end('unauthorized: send Authorization: Bearer <token>\n');
      return;
    }
    if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: scrape /metrics\n');
      return;
    }
    res.writeHead(200, { 'content-type': CONTENT_TYPE }).end(source.metrics());
  });
  const where = 'port' in listen ? `127.0.0.1:${listen.port}` : listen.path;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const inUse = err.code === 'EADDRINUSE';
      const fix = 'port' in listen ? ': choose another --metrics-port' : ': remove the file if no process serves it';
      reject(
        new ConnectionError(
          inUse ? ErrorCode.ADDRESS_IN_USE : ErrorCode.PERMISSION_DENIED,
          `cannot serve metrics on ${where}: ${err.message}${inUse ? fix : ''}`,
          { cause: err, details: { address: where } },
        ),
      );
    };
    http.once('error', onError);
    const ready = (): void => {
      http.off('error', onError);
      resolve();
    };
    if ('port' in listen) {
      http.listen(listen.port, '127.0.0.1', ready);
      return;
    }
    // The bind happens inside listen(): narrowing the umask around it creates the socket 0600.
    const old = process.umask(0o777 & ~METRICS_SOCKET_MODE);
    try {
      http.listen(listen.path, ready);
    } finally {
      process.umask(old);
    }
  });
  return {
    url: 'port' in listen ? `http://127.0.0.1:${(http.address() as AddressInfo).port}/metrics` : `unix:${listen.path}`,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}
