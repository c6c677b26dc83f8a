// "Must hold" 2 of the JetStream backend, a bounded sample (the full 1,000 tasks / 8 workers / 3 submitters is
// scripts/jetstream-chaos.mjs): a three-node cluster (R3); SIGKILL the stream leader mid-run, bring it back, then
// SIGKILL a second node: every outcome once, none lost, every process reconnects by itself.
import { describe, expect, it } from '@jest/globals';
import { runChaos } from '../scripts/jetstream-chaos.mjs';
import { natsBinary } from './jetstream-helpers.js';

const d = natsBinary === undefined ? describe.skip : describe;

d(`JetStream backend chaos${natsBinary === undefined ? ' [skipped: no nats-server binary]' : ''}`, () => {
  it('200 tasks, 4 workers, 2 submitters, 3 nodes: SIGKILL the stream leader, later a second node: 0 lost, 0 ' +
    'duplicate outcomes', async () => {
    const f = await runChaos({
      tasks: 200,
      workers: 4,
      submitters: 2,
      prefetch: 4,
      sleepMs: 20,
      ackWaitMs: 2000,
      submitSeconds: 15,
    });
    expect(f.failures).toBe(0);
    expect(f.outcomes).toBe(200); // one outcome per task seen by the callers: none lost, none twice
    expect(f.uniqueOutcomes).toBe(200);
    expect(f.kills).toHaveLength(2);
    expect(f.kills[1]?.node).not.toBe(f.kills[0]?.node);
    for (const k of f.kills) expect(k.outcomesBefore).toBeLessThan(200); // mid-run
    // A task runs again only after a lost ack or lease (flagged redelivered); its second outcome is refused.
    expect(f.executions - 200).toBeLessThanOrEqual(f.redelivered);
    expect(f.processesReconnected).toBe(f.processesDisconnected);
    expect(f.processesDisconnected).toBeGreaterThan(0);
  }, 90_000);
});
