import { describe, expect, it } from '@jest/globals';
import { GAPS, gapFor, whereTheTimeGoes } from '../src/report/gaps.js';
import type { ProfileSummary, Target } from '../src/report/results.js';

const BROKER = 'socketkit broker, memory: ≥ 20,000 tasks/s (8 workers, prefetch 4)';
const IDLE = '10,000 idle clients connect to one server';
const FAN = 'Fan-out, 10 clients ≥ 0.95× ceiling (steady state)';

const profile: ProfileSummary = {
  id: 'fanout-10',
  title: 'Fan-out, 10 clients',
  transport: 'unix',
  processes: [
    { role: 'server', busyMs: 100, top: [{ name: 'writeFrame', location: 'x.js:1', selfMs: 40, selfPercent: 40 }] },
  ],
};

describe('what would close the gap of a missed target', () => {
  it('keeps one sentence per key, for the targets of issues 28 and 25', () => {
    expect(new Set(GAPS.map(([k]) => k)).size).toBe(GAPS.length);
    // every sentence says something (no placeholder left)
    for (const [, text] of GAPS) expect(text).not.toMatch(/to be measured/);
    expect(gapFor(BROKER)).toBeDefined();
    expect(gapFor(IDLE)).toBeDefined();
    expect(gapFor('2,000 idle clients connect to one server')).toBe(gapFor(IDLE));
    // an issue-16 target with the same words but another bound has none
    expect(gapFor('Request/reply p50 ≤ 1.15× raw')).toBeUndefined();
  });

  it("renders a missed target's sentence under its scenario's profile, and a met target's not at all", () => {
    const targets: Target[] = [
      {
        target: FAN,
        transport: 'unix',
        measured: '0.90×',
        met: false,
        profile: { id: 'fanout-10', transport: 'unix' },
      },
      { target: BROKER, transport: 'unix', measured: '12,000 tasks/s', met: false },
      { target: IDLE, transport: 'tcp', measured: '10000 in 4.0 s', met: true },
      { target: 'Request/reply p50 ≤ 1.15× raw', transport: 'unix', measured: '1.2×', met: false },
    ];
    const text = whereTheTimeGoes([profile], targets).join('\n');
    expect(text).toContain('## Where the time goes');
    const fan = `- ${FAN} (unix): what would close the gap: ${gapFor(FAN)}`;
    expect(text).toContain(fan);
    // under the profile: after its code block
    expect(text.indexOf(fan)).toBeGreaterThan(text.indexOf('writeFrame'));
    expect(text).toContain(`- ${BROKER} (unix): what would close the gap: ${gapFor(BROKER)}`);
    expect(text).not.toContain(IDLE);
    expect(text).not.toContain('Request/reply p50');
  });

  it('has no section when nothing was profiled and no missed target has a sentence', () => {
    expect(whereTheTimeGoes([], [{ target: IDLE, transport: 'unix', measured: 'ok', met: true }])).toEqual([]);
  });
});
