import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The Prometheus text exposition format's content type. */
const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Serves `source.metrics()` on `http://127.0.0.1:<port>/metrics` (loopback
 * only: the stats name clients and rates, which is no one else's business).
 * Resolves once listening, with the port and a `close()`.
 */
export async function serveMetrics(source: { metrics(): string }, port: number): Promise<{ port: number; close(): Promise<void> }> {
  const http = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: scrape /metrics\n');
      return;
    }
    res.writeHead(200, { 'content-type': CONTENT_TYPE }).end(source.metrics());
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, '127.0.0.1', () => {
      http.off('error', reject);
      resolve();
    });
  });
  return {
    port: (http.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => http.close(() => resolve())),
  };
}
