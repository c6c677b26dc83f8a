import { describe, expect, it } from '@jest/globals';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { renderPrometheus } from '../src/ops/metrics.js';
import { PeerCounters, RateSampler, ServerCounters, type ServerStats } from '../src/ops/stats.js';

function stats(event: string, over: Partial<ServerStats> = {}): ServerStats {
  return {
    event,
    protocol: 1,
    startedAt: 1_700_000_000_000,
    uptimeMs: 12_500,
    clients: [
      {
        id: 'client_1_1',
        connectedAt: 1,
        handshake: true,
        pendingBytes: 42,
        messagesIn: 3,
        messagesOut: 4,
        bytesIn: 5,
        bytesOut: 6,
        dropped: 7,
      },
      {
        id: 'weird "id"\\\nx',
        connectedAt: 2,
        handshake: false,
        pendingBytes: 0,
        messagesIn: 0,
        messagesOut: 0,
        bytesIn: 0,
        bytesOut: 0,
        dropped: 0,
      },
    ],
    maxConnections: 10,
    queue: { length: 2, capacity: 100, dropped: 9 },
    totals: {
      messagesIn: 11,
      messagesOut: 12,
      bytesIn: 13,
      bytesOut: 14,
      slowConsumerDisconnects: 1,
      invalidMessages: 2,
    },
    refused: { MAX_CONNECTIONS: 3, UNAUTHORIZED: 1 },
    rates: { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 },
    ...over,
  };
}

describe('renderPrometheus', () => {
  it('renders text a real Prometheus parser reads back, with every value and escaped labels', () => {
    const families = parsePrometheusTextFormat(renderPrometheus(stats('jobs')));
    const byName = new Map(families.map((f) => [f.name, f]));
    const value = (name: string, labels: Record<string, string> = { event: 'jobs' }) =>
      byName.get(name)?.metrics.find((m) => JSON.stringify(m.labels) === JSON.stringify(labels))?.value;
    expect(byName.get('socketkit_clients')?.type).toBe('GAUGE');
    expect(byName.get('socketkit_messages_sent_total')?.type).toBe('COUNTER');
    expect(value('socketkit_clients')).toBe('2');
    expect(value('socketkit_uptime_seconds')).toBe('12.5');
    expect(value('socketkit_queue_length')).toBe('2');
    expect(value('socketkit_queue_dropped_total')).toBe('9');
    expect(value('socketkit_bytes_sent_total')).toBe('14');
    expect(value('socketkit_refused_connections_total', { event: 'jobs', code: 'MAX_CONNECTIONS' })).toBe('3');
    expect(value('socketkit_client_pending_bytes', { event: 'jobs', client: 'client_1_1' })).toBe('42');
    expect(value('socketkit_client_pending_bytes', { event: 'jobs', client: 'weird "id"\\\nx' })).toBe('0');
  });

  it('lists each family once when several servers are rendered together', () => {
    const text = renderPrometheus([stats('jobs'), stats('orders', { clients: [] })]);
    const families = parsePrometheusTextFormat(text);
    const names = families.map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    const clients = families.find((f) => f.name === 'socketkit_clients');
    expect(clients?.metrics.map((m) => [m.labels?.event, m.value])).toEqual([
      ['jobs', '2'],
      ['orders', '0'],
    ]);
  });
});

describe('RateSampler', () => {
  it('derives per-second rates from the totals over the last few seconds, without a timer', () => {
    let now = 0;
    const counters = new ServerCounters();
    const sampler = new RateSampler(counters, () => now);
    sampler.start();
    // 10 s at 100 msg/s, then polled each second at 500 msg/s: the window forgets the slow start.
    now = 10_000;
    counters.messagesOut += 1000;
    expect(sampler.rates().messagesOut).toBe(100);
    for (let s = 11; s <= 20; s++) {
      now = s * 1000;
      counters.messagesOut += 500;
      counters.bytesOut += 50_000;
      sampler.rates();
    }
    expect(sampler.rates()).toEqual({ messagesIn: 0, messagesOut: 500, bytesIn: 0, bytesOut: 50_000 });
  });

  it('counts refusals by code and keeps per-peer counters plain numbers', () => {
    const counters = new ServerCounters();
    counters.refuse('MAX_CONNECTIONS');
    counters.refuse('MAX_CONNECTIONS');
    counters.refuse('__proto__');
    expect(Object.entries(counters.refused)).toEqual([
      ['MAX_CONNECTIONS', 2],
      ['__proto__', 1],
    ]);
    expect(Object.values(new PeerCounters())).toEqual([0, 0, 0, 0, 0]);
  });
});
