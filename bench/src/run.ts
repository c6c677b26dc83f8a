/**
 * `pnpm bench` / `node bench/dist/run.js [--quick]`: runs the six scenarios
 * of issue 6 over Unix sockets and TCP with same-run raw `node:net`
 * baselines, scenarios 1, 2 and 4 also over NATS (socketkit through a
 * nats-server started for the run), prints progress and a summary, and writes
 * `results/<name>.json`, `.md` and `.svg`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { natsServerBinary, startNatsServer, type NatsServerHandle } from '@socketkit/test-support';
import { renderChartSvg } from './report/chart.js';
import { WorkerHandle } from './harness/ipc.js';
import { pythonProbe } from './contenders/python.js';
import { runScaling, type ScalingPoint } from './scenarios/scaling.js';
import { runStatsCost, type StatsCostResult } from './scenarios/stats-cost.js';
import { zmqProbe } from './contenders/zeromq.js';
import { benchTransports, parseTransports } from './harness/transports.js';
import { markdownReport, methodNotes } from './report/report.js';
import { buildHeadline, buildRows, buildUnixVsTcp, buildViaNats, type BenchResults } from './report/results.js';
import type { ProfileSummary } from './report/results.js';
import { headlineTable, natsTable, profileLines, resultsTable, scalingTable, slowTable } from './report/tables.js';
import { targetsTable, textTable, unixTcpTable } from './report/tables.js';
import { buildTargets } from './report/targets.js';
import { runScenario, type ScenarioResult } from './scenarios/messaging.js';
import { NATS_SCENARIOS, SCENARIOS, implsFor, makePlan, type Plan } from './scenarios/plan.js';
import type { Progress, ScenarioDef } from './scenarios/plan.js';
import { runSlowConsumer, type SlowResult } from './scenarios/slow-consumer.js';
import { IMPLS, type Impl, type TransportKind } from './harness/types.js';
import { brokerText } from './report/broker-tables.js';
import { pythonBrokerLines, runPythonBroker, type PythonBrokerResult } from './scenarios/python-broker.js';
import { type BrokerResults, makeBrokerPlan, runBrokerBench, socketkitReqrepP50 } from './scenarios/broker.js';
import { type ColdResults, coldTables, coldTargets, runCold } from './scenarios/cold.js'; // [issue 28: cold start]
import { type JetStreamScenarioResult, runJetStreamScenario } from './scenarios/jetstream.js'; // [issue 27]
import { jetStreamTargets, jetStreamText } from './report/jetstream-tables.js'; // [issue 27: JetStream bench]
import { type IdleResults, idleTables, idleTargets, runIdle } from './scenarios/idle.js'; // [issue 28: idle clients]

const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const USAGE = `usage: node dist/run.js [options]

  --quick            smaller counts (about a quarter of the full run's time; used by
                     \`socketkit bench\` and smoke tests); writes results/quick.*
  --reps N           measured runs per figure (default 5, 3 with --quick; the figure is their median)
  --only LIST        scenarios to run, by number or id (e.g. 1,4 or reqrep; \`scaling\`
                     for the scaling curve, 7; \`stats\` for the stats cost A/B over unix;
                     \`broker\` for issue 25's broker vs RabbitMQ and BullMQ; \`jetstream\` for issue 27's
                     JetStream backend vs a raw @nats-io/jetstream work queue; \`cold\` for issue 28's
                     import time, cold start, cold burst, drain cadence and payload shapes, or some
                     of them: cold-import, cold-start, cold-burst, cold-drain, cold-shapes; \`idle\` for
                     1 … 10,000 idle clients on one server, memory and fan-out CPU per client)
  --transport LIST   ${benchTransports().join(', ')} (default all; nats runs scenarios 1, 2
                     and 4, socketkit only, through a nats-server started for the run,
                     and is skipped with a warning if nats-server is not installed)
  --impl LIST        implementations (default all): socketkit, raw-write, raw-batched
                     (the ceiling), zeromq, python, nats-raw
  --no-profile       do not profile the scenarios of missed targets
  --cpu-prof         run the workers under node --cpu-prof (profiles in bench/profiles/)
  --node-arg FLAG    extra Node flag for the workers, repeatable (e.g. --node-arg=--trace-gc)
  --out DIR          results directory (default bench/results)
  --name NAME        results file name (default latest, quick for --quick, partial
                     when scenarios, transports, implementations or reps are narrowed)
  --no-write         print only, write no files
  --json             print the results JSON on stdout (progress stays on stderr)
  -h, --help         this text`;

function elapsed(start: number): string {
  const s = Math.floor((Date.now() - start) / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: BENCH_DIR,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return '';
  }
}

async function probeNative(): Promise<boolean | null> {
  let w: WorkerHandle | undefined;
  try {
    w = await WorkerHandle.spawn('probe');
    return (await w.call<{ msgpackrNative: boolean }>('info')).msgpackrNative;
  } catch {
    return null;
  } finally {
    await w?.close();
  }
}

/** Entry point. Returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      reps: { type: 'string' },
      only: { type: 'string' },
      transport: { type: 'string' },
      impl: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      'no-profile': { type: 'boolean', default: false },
      'node-arg': { type: 'string', multiple: true },
      out: { type: 'string' },
      name: { type: 'string' },
      'no-write': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const reps = values.reps === undefined ? undefined : Number(values.reps);
  if (reps !== undefined && !(Number.isInteger(reps) && reps >= 1))
    throw new Error(`--reps must be a positive integer, got ${values.reps}`);
  const plan = makePlan(values.quick, reps);
  const only = values.only?.split(',').map((s) => s.trim());
  const defs = SCENARIOS.filter((d) => only === undefined || only.includes(String(d.n)) || only.includes(d.id));
  const scaling = only === undefined || only.includes('scaling') || only.includes('7');
  const statsAb = only === undefined || only.includes('stats');
  const brokerBench = only === undefined || only.includes('broker'); // [issue 25: broker bench]
  const pyBroker = only === undefined || only.includes('python-broker');
  const jetStreamBench = only === undefined || only.includes('jetstream'); // [issue 27: JetStream bench]
  // [issue 28: cold start] `cold` runs all five; cold-import, cold-start, cold-burst, cold-drain, cold-shapes some
  const coldParts = only === undefined || only.includes('cold') ? undefined : only.filter((o) => o.startsWith('cold-'));
  const coldBench = coldParts === undefined || coldParts.length > 0;
  const idleBench = only === undefined || only.includes('idle'); // [issue 28: idle clients]
  if (
    defs.length === 0 &&
    !scaling &&
    !statsAb &&
    !brokerBench &&
    !pyBroker &&
    !coldBench &&
    !jetStreamBench &&
    !idleBench
  )
    throw new Error(
      `--only ${values.only} matches no scenario (use 1-7 or ${SCENARIOS.map((d) => d.id).join(', ')}, scaling, ` +
        `stats, broker, python-broker, jetstream, cold, idle)`,
    );
  let transports: TransportKind[] = parseTransports(values.transport);
  let impls = values.impl === undefined ? IMPLS : (values.impl.split(',').map((s) => s.trim()) as Impl[]);
  if (!impls.every((i) => IMPLS.includes(i))) throw new Error(`--impl takes ${IMPLS.join(', ')}`);
  const skipped: string[] = [];
  const zmq = impls.includes('zeromq') ? await zmqProbe() : { ok: false as const, error: 'not selected' };
  if (impls.includes('zeromq') && !zmq.ok) {
    skipped.push(`zeromq.js column skipped: the optional dependency zeromq did not load (${zmq.error})`);
    impls = impls.filter((i) => i !== 'zeromq');
  }
  const py = impls.includes('python') ? pythonProbe() : { ok: false as const, error: 'not selected' };
  if (impls.includes('python') && !py.ok) {
    skipped.push(`Python reference peer skipped: ${py.error}`);
    impls = impls.filter((i) => i !== 'python');
  }
  let natsMissing = '';
  if (transports.includes('nats') && values.transport === undefined) {
    try {
      natsServerBinary();
    } catch (err) {
      natsMissing = err instanceof Error ? err.message : String(err);
      transports = transports.filter((t) => t !== 'nats');
    }
  }
  const partial =
    defs.length < SCENARIOS.length ||
    !scaling ||
    !statsAb ||
    !brokerBench ||
    !jetStreamBench ||
    !coldBench ||
    !idleBench ||
    values.transport !== undefined ||
    values.impl !== undefined ||
    plan.reps < 3;
  const name = values.name ?? (values.quick ? 'quick' : partial ? 'partial' : 'latest');
  const outDir = resolve(values.out ?? join(BENCH_DIR, 'results'));
  if (values['cpu-prof']) {
    const dir = join(BENCH_DIR, 'profiles');
    await mkdir(dir, { recursive: true });
    plan.execArgv = ['--cpu-prof', `--cpu-prof-dir=${dir}`];
  }
  plan.execArgv.push(...(values['node-arg'] ?? []));

  const log = (s: string): void => {
    process.stderr.write(`${s}\n`);
  };
  const start = Date.now();
  const startedAt = new Date().toISOString();
  const loadStart = loadavg()[0]!;
  const native = await probeNative();
  log(
    `socketkit bench — ${values.quick ? 'quick' : 'full'} run, ${plan.reps} measured runs per ` +
      `figure (median), ${cpus().length} CPUs, Node ${process.versions.node}`,
  );
  log(`msgpackr native acceleration: ${native === null ? 'unknown (probe failed)' : native ? 'enabled' : 'disabled'}`);
  if (loadStart > cpus().length)
    log(
      `warning: load average is ${loadStart.toFixed(1)} on ${cpus().length} CPUs; other work on this host will skew ` +
        `the figures`,
    );
  if (natsMissing !== '') log(`warning: skipping the NATS transport: ${natsMissing}`);
  for (const note of skipped) log(`warning: ${note}`);
  log(`peers: zeromq.js ${zmq.ok ? zmq.version : 'skipped'}; Python reference peer: ${py.ok ? py.version : 'skipped'}`);
  if (values.quick)
    log(`quick mode: smaller counts; the slow-consumer runs offer ${plan.slowBytes / 2 ** 20} MiB instead of 512 MiB`);

  const socketDir = await mkdtemp(join(tmpdir(), 'skb-'));
  const steps: Array<{ def: ScenarioDef | 'scaling'; transport: TransportKind }> = defs.flatMap((def) =>
    transports
      .filter(
        (t) =>
          (t !== 'nats' || NATS_SCENARIOS.includes(def.id)) &&
          (def.id === 'slow-consumer' ? impls.includes('socketkit') : implsFor(def.id, t, impls).length > 0),
      )
      .map((transport) => ({ def, transport })),
  );
  if (scaling)
    for (const transport of transports.filter((t) => t !== 'nats')) steps.push({ def: 'scaling', transport });
  const scenarios: ScenarioResult[] = [];
  const slow: SlowResult[] = [];
  const curve: ScalingPoint[] = [];
  const profiles: ProfileSummary[] = [];
  let targets: ReturnType<typeof buildTargets> = [];
  let statsCost: StatsCostResult | undefined;
  let pythonBroker: PythonBrokerResult | undefined;
  let broker: BrokerResults | undefined; // [issue 25: broker bench]
  let cold: ColdResults | undefined; // [issue 28: cold start]
  let jetStream: JetStreamScenarioResult | undefined; // [issue 27: JetStream bench]
  let idle: IdleResults | undefined; // [issue 28: idle clients]
  let nats: NatsServerHandle | undefined;
  try {
    if (steps.some((s) => s.transport === 'nats')) {
      nats = await startNatsServer();
      plan.natsUrl = nats.url;
      log(`nats-server started on ${nats.url} for the NATS steps`);
    }
    const progress = { step: log, detail: (t: string) => log(`[${elapsed(start)}]    ${t}`) };
    for (const [i, { def, transport }] of steps.entries()) {
      if (def === 'scaling') {
        log(
          `\n[${elapsed(start)}] step ${i + 1} of ${steps.length} — scaling curve (fan-out to 1, 10, 100, 1000 ` +
            `clients), over ${transport}`,
        );
        curve.push(...(await runScaling(transport, plan, socketDir, progress, impls)));
        continue;
      }
      log(
        `\n[${elapsed(start)}] step ${i + 1} of ${steps.length} — scenario ${def.n} of 6: ${def.title}, over ` +
          `${transport}`,
      );
      if (def.id === 'slow-consumer') slow.push(await runSlowConsumer(transport, plan, socketDir, progress));
      else scenarios.push(await runScenario(def, transport, plan, socketDir, progress, impls));
    }
    if (statsAb && impls.includes('socketkit')) {
      log(
        `\n[${elapsed(start)}] stats cost: server counters on vs off, interleaved A/B in one process over unix ` +
          `(median of 7 rounds)`,
      );
      statsCost = await runStatsCost(values.quick ? { messages: 5_000 } : {});
      log(
        `[${elapsed(start)}]    on ÷ off ${statsCost.ok ? statsCost.ratio.toFixed(3) : `failed: ${statsCost.error}`}`,
      );
    }
    if (pyBroker) {
      log(`\n[${elapsed(start)}] broker: tasks/s with Python workers beside Node workers (python/scripts/bench.py)`);
      pythonBroker = runPythonBroker(resolve(BENCH_DIR, '..'), values.quick ? 2_000 : 8_000);
      for (const line of pythonBrokerLines(pythonBroker)) log(`[${elapsed(start)}]    ${line.trim()}`);
    }
    // [issue 25: broker bench] socketkit's broker beside amqplib + RabbitMQ and BullMQ + Redis.
    if (brokerBench) {
      log(`\n[${elapsed(start)}] broker (issue 25): socketkit broker vs amqplib + RabbitMQ vs BullMQ + Redis`);
      const reqrepP50 = impls.includes('socketkit')
        ? await socketkitReqrepP50(scenarios, plan, socketDir, progress)
        : undefined;
      broker = await runBrokerBench(makeBrokerPlan(values.quick, reps, plan.execArgv), progress, reqrepP50);
    }
    // [issue 27: JetStream bench] the JetStream backend vs a raw @nats-io/jetstream work queue, same run.
    if (jetStreamBench) {
      log(`\n[${elapsed(start)}] JetStream (issue 27): socketkit JetStream backend vs raw @nats-io/jetstream`);
      const jsParams = { tasks: values.quick ? 2_000 : 5_000, rtt: values.quick ? 200 : 500, reps: plan.reps };
      try {
        jetStream = await runJetStreamScenario(jsParams, {
          brokers: broker === undefined,
          progress: (line) => progress.detail(line),
        });
      } catch (err) {
        const note = `JetStream bench failed: ${err instanceof Error ? err.message : String(err)}`;
        jetStream = { ok: false, note, params: { workers: 4, prefetch: 16, window: 256, ...jsParams }, figures: [] };
      }
      if (!jetStream.ok) log(`warning: ${jetStream.note}`);
    }
    // [issue 28: cold start] import time, cold start, cold burst, drain cadence, payload shapes
    if (coldBench && impls.includes('socketkit')) {
      log(`\n[${elapsed(start)}] from the first message (issue 28): import, cold start, cold burst, drain, shapes`);
      cold = await runCold(transports, plan, impls.includes('zeromq'), progress, coldParts);
    }
    // [issue 28: idle clients] 1 … 10,000 idle clients on one server, unix and tcp
    if (idleBench && impls.includes('socketkit') && transports.some((t) => t === 'unix' || t === 'tcp')) {
      log(
        `\n[${elapsed(start)}] idle clients (issue 28): memory per idle client and fan-out CPU, 1 … ` +
          `${plan.quick ? '2,000' : '10,000'} clients`,
      );
      idle = await runIdle(transports, plan, socketDir, progress);
    }
    targets = buildTargets(scenarios, slow, curve, statsCost);
    if (cold !== undefined) targets.push(...coldTargets(cold, scenarios)); // [issue 28: cold start]
    if (idle !== undefined) targets.push(...idleTargets(idle)); // [issue 28: idle clients]
    for (const t of broker?.targets ?? []) targets.push({ ...t, transport: 'unix' }); // [issue 25: broker bench]
    for (const t of jetStream === undefined ? [] : jetStreamTargets(jetStream))
      targets.push({ ...t, transport: 'nats' });
    if (!values['no-profile'] && impls.includes('socketkit')) {
      const seen = new Set<string>();
      for (const t of targets) {
        // One profile per scenario (the first transport that missed; NATS apart): the hot path is shared by unix and
        // tcp.
        const key = `${t.profile?.id} ${t.profile?.transport === 'nats' ? 'nats' : 'socket'}`;
        if (t.profile === undefined || seen.has(key)) continue;
        seen.add(key);
        const def = SCENARIOS.find((d) => d.id === t.profile!.id)!;
        log(
          `\n[${elapsed(start)}] profiling socketkit in scenario ${def.n} (${def.title}) over ` +
            `${t.profile.transport}: a target was missed`,
        );
        profiles.push(await profileScenario(def, t.profile.transport, plan, socketDir, progress));
      }
    }
  } finally {
    await nats?.stop();
    await rm(socketDir, { recursive: true, force: true });
  }

  const results: BenchResults = {
    meta: {
      startedAt,
      durationSeconds: (Date.now() - start) / 1000,
      mode: values.quick ? 'quick' : 'full',
      reps: plan.reps,
      node: process.versions.node,
      platform: `${process.platform} ${process.arch}`,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      msgpackrNative: native,
      gitCommit: gitCommit(),
      argv,
      loadAverage: { start: loadStart, end: loadavg()[0]! },
    },
    scenarios,
    slowConsumer: slow,
    rows: buildRows(scenarios),
    headline: buildHeadline(scenarios),
    targets,
    scaling: curve,
    profiles,
    peers: {
      zeromq: zmq.ok ? `zeromq.js with libzmq ${zmq.version}` : `skipped: ${zmq.error}`,
      python: py.ok ? py.version : `skipped: ${py.error}`,
    },
    unixVsTcp: buildUnixVsTcp(scenarios),
    viaNats: buildViaNats(scenarios),
    ...(statsCost === undefined ? {} : { statsCost }),
    ...(broker === undefined ? {} : { broker }), // [issue 25: broker bench]
    ...(pythonBroker === undefined ? {} : { pythonBroker }),
    ...(cold === undefined ? {} : { cold }), // [issue 28: cold start]
    ...(jetStream === undefined ? {} : { jetstream: jetStream }), // [issue 27: JetStream bench]
    ...(idle === undefined ? {} : { idle }), // [issue 28: idle clients]
    notes: [
      ...[...scenarios, ...slow]
        .filter((s) => !s.ok)
        .map((s) => `Scenario ${s.n} over ${s.transport} failed: ${s.error ?? 'unknown error'}`),
      // [issue 25: broker bench] a contender that ran and failed is a failure; one skipped (no server) is not.
      ...(broker?.contenders ?? [])
        .filter((c) => !c.ok)
        .map((c) => `Broker bench: ${c.label} failed: ${c.error ?? 'unknown error'}`),
      ...(cold?.errors ?? []).map((e) => `From the first message: ${e}`), // [issue 28: cold start]
      ...(idle?.errors ?? []).map((e) => `Idle clients: ${e}`), // [issue 28: idle clients]
    ],
  };
  // Skipped peers are worth a line in the report, but they do not fail the run.
  const notesOut = [...skipped];

  const out = values.json ? log : (s: string): void => void process.stdout.write(`${s}\n`);
  out(
    `\nsocketkit bench summary (${results.meta.mode}, median of ${plan.reps} runs, ` +
      `${results.meta.durationSeconds.toFixed(0)} s)\n`,
  );
  if (results.rows.length > 0)
    out(
      'Every implementation (÷ ceiling: its first figure ÷ the better raw node:net variant, nats.js over NATS)\n' +
        `${textTable(resultsTable(results.rows))}\n`,
    );
  if (results.headline.length > 0) out(`socketkit ÷ each baseline\n${textTable(headlineTable(results.headline))}\n`);
  if (curve.length > 0) out(`Scaling curve\n${textTable(scalingTable(curve))}\n`);
  if (slow.length > 0) out(`${textTable(slowTable(slow))}\n`);
  if (broker !== undefined) out(brokerText(broker)); // [issue 25: broker bench]
  if (jetStream !== undefined) out(jetStreamText(jetStream, broker)); // [issue 27: JetStream bench]
  for (const t of cold === undefined ? [] : coldTables(cold)) out(`${t.title}\n${textTable(t.table)}\n`); // [issue 28]
  for (const t of idle === undefined ? [] : idleTables(idle)) out(`${t.title}\n${textTable(t.table)}\n`); // [issue 28]
  if (results.targets.length > 0) out(`Targets\n${textTable(targetsTable(results.targets))}\n`);
  if (profiles.length > 0)
    out(
      'Where the time goes in the scenarios of missed targets (socketkit alone, V8 sampling ' +
        `profiler during the measured runs)\n${profileLines(profiles).join('\n')}\n`,
    );
  if (results.unixVsTcp.length > 0) out(`${textTable(unixTcpTable(results.unixVsTcp))}\n`);
  const viaNats = results.viaNats ?? [];
  if (viaNats.length > 0)
    out(
      `NATS: what crossing a broker costs (socketkit over a local nats-server vs socketkit over unix / ` +
        `tcp)\n${textTable(natsTable(viaNats))}\n`,
    );
  if (pythonBroker !== undefined) out(`${pythonBrokerLines(pythonBroker).join('\n')}\n`);
  for (const n of [...methodNotes(results), ...results.notes, ...notesOut]) out(`- ${n}`);

  if (!values['no-write']) {
    await mkdir(outDir, { recursive: true });
    const svgFile = `${name}.svg`;
    await writeFile(join(outDir, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
    await writeFile(join(outDir, `${name}.md`), markdownReport(results, svgFile));
    await writeFile(join(outDir, svgFile), await renderChartSvg(results));
    out(`\nwrote ${join(outDir, name)}.{json,md,svg}`);
  }
  if (values.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  return results.notes.length > 0 ? 1 : 0;
}

/**
 * Re-runs `def` with socketkit alone, V8's sampling profiler on in the server
 * and the first client during the measured runs (not start-up or warm-up);
 * the .cpuprofile files stay in bench/profiles/ for a closer look.
 */
async function profileScenario(
  def: ScenarioDef,
  transport: TransportKind,
  plan: Plan,
  socketDir: string,
  progress: Progress,
): Promise<ProfileSummary> {
  const dir = join(BENCH_DIR, 'profiles', `${def.id}-${transport}`);
  const out: ProfileSummary = { id: def.id, title: `${def.n} · ${def.title}`, transport, processes: [] };
  try {
    await mkdir(dir, { recursive: true });
    const r = await runScenario(def, transport, { ...plan, reps: 2 }, socketDir, progress, ['socketkit'], dir);
    if (!r.ok) throw new Error(r.error ?? 'scenario failed');
    out.processes = r.profile ?? [];
  } catch (err) {
    out.error = err instanceof Error ? err.message : String(err);
  }
  return out;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    process.exitCode = 2;
  },
);
