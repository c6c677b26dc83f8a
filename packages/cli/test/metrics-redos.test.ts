// Review of issue 22 item 14: the bearer-token check of the metrics endpoint costs linear time in what a
// local user sends (any user can reach the loopback port, before any token is known).
import { describe, expect, test } from '@jest/globals';
import { request } from 'node:http';
import { bearerToken, serveMetrics } from '../src/metrics-http.js';

const TOKEN = 'metrics-token-of-32-bytes-123456';

function get(port: number, authorization: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics', headers: { authorization } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    })
      .on('error', reject)
      .end();
  });
}

describe('metrics endpoint under hostile Authorization headers', () => {
  test(
    'a 1 MB "Bearer a<spaces>b" value is parsed in one pass (the old pattern `(.+?) *$` was quadratic: hours ' +
      'here)',
    () => {
      // No clock: a quadratic parse of this value does not finish within the test's timeout.
      expect(bearerToken(`Bearer a${' '.repeat(1_000_000)}b`)).toBe(`a${' '.repeat(1_000_000)}b`);
      expect(bearerToken(`Bearer a${' '.repeat(1_000_000)}`)).toBe('a');
      expect(bearerToken(`Bearer ${' '.repeat(1_000_000)}`)).toBeUndefined();
    },
  );

  test('hostile headers get 401; the token, with spaces after it, in any case of "bearer", gets the ' +
    'metrics', async () => {
    const endpoint = await serveMetrics({ metrics: () => 'socketkit_up 1\n' }, { port: 0 }, TOKEN);
    const port = Number(new URL(endpoint.url).port);
    try {
      const hostile = `Bearer a${' '.repeat(16_000)}b`;
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push(await get(port, hostile));
      expect(statuses).toEqual(new Array(4).fill(401));
      expect(await get(port, `Bearer ${TOKEN}`)).toBe(200);
      expect(await get(port, `bearer   ${TOKEN}`)).toBe(200);
      expect(await get(port, `Bearer ${TOKEN}x`)).toBe(401);
      expect(await get(port, `Bearer ${TOKEN.slice(1)}`)).toBe(401);
      expect(await get(port, 'Bearer ')).toBe(401);
      expect(await get(port, `Basic ${TOKEN}`)).toBe(401);
    } finally {
      await endpoint.close();
    }
  }, 60_000);
});
