import { describe, expect, it } from '@jest/globals';
import {
  JETSTREAM_TARGET,
  jetStreamMarkdown,
  jetStreamTable,
  jetStreamTargets,
  jetStreamText,
} from '../src/report/jetstream-tables.js';
import type { BrokerResults } from '../src/scenarios/broker.js';
import type { JetStreamFigures, JetStreamScenarioResult } from '../src/scenarios/jetstream.js';

const params = { tasks: 5000, workers: 4, prefetch: 16, window: 256, rtt: 500, reps: 5 };

function fig(contender: JetStreamFigures['contender'], tasksPerSec: number, cpuUsPerTask = 100): JetStreamFigures {
  return { contender, tasksPerSec, rttP50Ms: 0.5, rttP99Ms: 1.5, cpuUsPerTask };
}

const result = (figures: JetStreamFigures[]): JetStreamScenarioResult => ({ ok: true, params, figures });

describe('the JetStream target of issue 27', () => {
  it('is met at 0.8× the raw program and above, missed below; the measured text has both rates and CPU/task', () => {
    const at = jetStreamTargets(result([fig('socketkit-jetstream', 8_000, 90), fig('raw-jetstream', 10_000, 75)]));
    expect(at).toEqual([
      {
        target: JETSTREAM_TARGET,
        measured: '8,000 vs 10,000 tasks/s = 0.80×; CPU/task 90 vs 75 µs = 1.20×',
        met: true,
      },
    ]);
    const below = jetStreamTargets(result([fig('socketkit-jetstream', 7_900), fig('raw-jetstream', 10_000)]));
    expect(below[0]?.met).toBe(false);
    const above = jetStreamTargets(result([fig('raw-jetstream', 5_000), fig('socketkit-jetstream', 6_000)]));
    expect(above[0]?.met).toBe(true);
  });

  it('is n/a, with the note, when the scenario was skipped or a side is missing', () => {
    const skipped: JetStreamScenarioResult = {
      ok: false,
      note: 'JetStream bench skipped: nats-server is not installed',
      params,
      figures: [],
    };
    expect(jetStreamTargets(skipped)).toEqual([
      { target: JETSTREAM_TARGET, measured: 'JetStream bench skipped: nats-server is not installed', met: null },
    ]);
    expect(jetStreamTargets(result([fig('socketkit-jetstream', 8_000)]))[0]?.met).toBeNull();
    expect(jetStreamTargets(result([fig('socketkit-jetstream', 8_000), fig('raw-jetstream', 0)]))[0]?.met).toBeNull();
    expect(jetStreamText(skipped)).toContain('nats-server is not installed');
    expect(jetStreamMarkdown(skipped).join('\n')).toContain('(n/a)');
  });
});

describe('the JetStream table', () => {
  it('shows each contender ÷ raw JetStream, and the broker section rows of the same run when it ran', () => {
    const r = result([
      fig('socketkit-jetstream', 6_000),
      fig('raw-jetstream', 8_000),
      fig('broker-memory', 4_000),
      fig('broker-durable', 2_000),
    ]);
    const own = jetStreamTable(r);
    expect(own.rows.map((row) => row[2])).toEqual(['0.75×', '1.00×', '0.50×', '0.25×']);
    const broker = {
      params: { workers: 8 },
      contenders: [
        {
          impl: 'socketkit-broker',
          mode: 'memory',
          label: 'socketkit broker, memory',
          server: '@socketkit/broker',
          ok: true,
          runs: [16_000],
          tasksPerSec: 16_000,
          cpuUsPerTask: 60,
          taskRtt: { p50: 150, p99: 900, mean: 200 },
        },
        { impl: 'rabbitmq', mode: 'memory', label: 'RabbitMQ', server: 'x', ok: true, runs: [1], tasksPerSec: 1 },
      ],
    } as unknown as BrokerResults;
    const withBroker = jetStreamTable(result([fig('socketkit-jetstream', 6_000), fig('raw-jetstream', 8_000)]), broker);
    expect(withBroker.rows).toHaveLength(3);
    expect(withBroker.rows[2]).toEqual([
      'socketkit broker, memory (broker section: 8 worker processes)',
      '16,000',
      '2.00×',
      '60',
      '0.15 ms',
      '0.90 ms',
    ]);
    const md = jetStreamMarkdown(r).join('\n');
    expect(md).toContain('## JetStream backend vs raw JetStream (issue 27)');
    expect(md).toContain('6,000 vs 8,000 tasks/s = 0.75×');
    expect(md).toContain('(MISSED)');
  });
});
