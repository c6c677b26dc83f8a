// `node bench/dist/ab/stats-ab.js [--rounds 7] [--messages 20000] [--clients 10]`
// (`pnpm --filter @socketkit/bench bench:stats`): the stats cost A/B alone
// (scenarios/stats-cost.ts); the full run prints the same figure as its "stats cost" row.
import { STATS_COST_TARGET, runStatsCost } from '../scenarios/stats-cost.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
  args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const r = await runStatsCost({
  rounds: Number(args.get('rounds') ?? 7),
  messages: Number(args.get('messages') ?? 20_000),
  clients: Number(args.get('clients') ?? 10),
});
if (!r.ok) {
  console.error(`stats cost A/B failed: ${r.error}`);
  process.exitCode = 1;
} else {
  const perMsg = (ms: number) => ((ms * 1000) / (r.messages * r.clients)).toFixed(3);
  console.log(
    `stats cost A/B: ${r.rounds} interleaved rounds, ${r.messages} broadcasts × ${r.clients} clients each (unix, raw ` +
      `counting clients)`,
  );
  console.log(`  stats on : median ${r.onMs.toFixed(1)} ms/round (${perMsg(r.onMs)} µs per delivered message)`);
  console.log(`  stats off: median ${r.offMs.toFixed(1)} ms/round (${perMsg(r.offMs)} µs per delivered message)`);
  const met = r.ratio <= STATS_COST_TARGET ? 'met' : 'MISSED';
  console.log(
    `  on ÷ off : ${r.ratio.toFixed(3)} (per-round ratios: ${r.roundRatios.map((x) => x.toFixed(3)).join(' ')}); ` +
      `target ≤ ${STATS_COST_TARGET}: ${met}`,
  );
}
