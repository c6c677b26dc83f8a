import { describe, expect, it } from '@jest/globals';
import { brokerMarkdown, brokerTable } from '../src/report/broker-tables.js';
import { type BrokerContender, type BrokerResults, brokerTargets, makeBrokerPlan } from '../src/scenarios/broker.js';

function contender(
  impl: BrokerContender['impl'],
  mode: BrokerContender['mode'],
  tasksPerSec?: number,
): BrokerContender {
  return {
    impl,
    mode,
    label: `${impl} ${mode}`,
    server: impl,
    ok: true,
    runs: tasksPerSec === undefined ? [] : [tasksPerSec],
    ...(tasksPerSec === undefined ? {} : { tasksPerSec }),
  };
}

describe('targets of issue 25 (broker bench)', () => {
  const baselines = [
    contender('rabbitmq', 'memory', 5_000),
    contender('rabbitmq', 'durable', 2_000),
    contender('bullmq', 'memory', 1_500),
    contender('bullmq', 'durable', 1_200),
  ];

  it('checks the floors and the 2× ratios per mode, and the round trip against request/reply', () => {
    const sk = [
      { ...contender('socketkit-broker', 'memory', 25_000), taskRtt: { p50: 150, p99: 400, mean: 170 } },
      contender('socketkit-broker', 'durable', 3_000),
    ];
    const t = brokerTargets([...sk, ...baselines], 50);
    const met = (prefix: string): boolean | null | undefined => t.find((x) => x.target.startsWith(prefix))?.met;
    expect(met('socketkit broker, memory: ≥ 20,000')).toBe(true);
    expect(met('socketkit broker, memory: ≥ 2× amqplib')).toBe(true); // 5×
    expect(met('socketkit broker, memory: ≥ 2× BullMQ')).toBe(true);
    expect(met('socketkit broker, durable: ≥ 5,000')).toBe(false);
    expect(met('socketkit broker, durable: ≥ 2× amqplib')).toBe(false); // 1.5×
    expect(met('socketkit broker, durable: ≥ 2× BullMQ')).toBe(true); // 2.5×
    expect(met('task round trip')).toBe(true); // 150 ≤ 4 × 50
    expect(brokerTargets(sk, 30).find((x) => x.target.startsWith('task round trip'))?.met).toBe(false); // 150 > 120
  });

  it('without the socketkit broker, says what the baselines ask for instead of passing or failing', () => {
    const t = brokerTargets(baselines, 60);
    expect(t.every((x) => x.met === null)).toBe(true);
    expect(
      t.find((x) => x.target === 'socketkit broker, memory: ≥ 2× amqplib + RabbitMQ (memory)')?.measured,
    ).toContain('10,000 tasks/s needed');
    expect(t.find((x) => x.target.startsWith('task round trip'))?.measured).toContain('≤ 240 µs needed');
  });

  it('a failed contender counts as not measured', () => {
    const failed = { ...contender('socketkit-broker', 'memory', 30_000), ok: false, error: 'boom' };
    expect(brokerTargets([failed], 50)[0]?.met).toBeNull();
  });
});

describe('broker tables', () => {
  it('show every contender with socketkit ÷ it in the same mode, and skips as notes', () => {
    const r: BrokerResults = {
      params: (({ execArgv: _, ...p }) => p)(makeBrokerPlan(true)),
      contenders: [contender('socketkit-broker', 'memory', 20_000), contender('rabbitmq', 'memory', 4_000)],
      targets: [],
      skipped: ['BullMQ baseline (memory) skipped: redis-server is not installed'],
      seconds: 1,
    };
    const table = brokerTable(r);
    expect(table.rows[1]?.[3]).toBe('5.00×');
    expect(table.rows[0]?.[3]).toBe('–');
    expect(brokerMarkdown(r).join('\n')).toContain('redis-server is not installed');
  });
});
