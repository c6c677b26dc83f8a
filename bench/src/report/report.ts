/**
 * The whole report as markdown (`latest.md`): the tables in order and the
 * notes on how the figures were measured.
 */
import { SLOW_DRAIN_TIMEOUT_MS } from '../scenarios/slow-consumer.js';
import type { BenchResults } from './results.js';
import { brokerMarkdown } from './broker-tables.js';
import { jetStreamMarkdown } from './jetstream-tables.js';
import { coldTables } from '../scenarios/cold.js'; // [issue 28: cold start and first messages]
import { idleTables } from '../scenarios/idle.js'; // [issue 28: idle clients]
import { whereTheTimeGoes } from './gaps.js';
import { headlineTable, markdownTable, natsTable, resultsTable, scalingTable } from './tables.js';
import { slowTable, targetsTable, unixTcpTable } from './tables.js';

/** Lines describing how the figures were measured. */
export function methodNotes(results: BenchResults): string[] {
  const m = results.meta;
  const peers = results.peers ?? { zeromq: 'not recorded', python: 'not recorded' };
  return [
    `Every figure is the median of ${m.reps} measured runs (after one warm-up run); in each ` +
      'run the implementations take turns (order rotated per run) in the same worker processes.',
    'Server and every client/writer run in separate Node processes (child_process.fork); ' +
      'times come from CLOCK_MONOTONIC (process.hrtime; time.monotonic_ns in the Python peer), ' +
      'shared by all processes on the host.',
    'Throughput = messages ÷ (time the last client got the last message − time the producer ' +
      'started). MB/s counts frame bytes on the wire (10^6 bytes), all clients together.',
    'Raw node:net baselines: msgpackr (useRecords: false), the same 4-byte big-endian length ' +
      'prefix and the same msgpack map (event_name, timestamp_ms, Python-style timestamp_iso, ' +
      'message_type, data); one decode per received frame; no validation, no handshake. ' +
      '"per-write" calls socket.write once per frame; the ceiling copies frames into buffers of ' +
      'up to 64 KiB and writes each buffer once (on a broadcast one buffer goes to every ' +
      'socket), flushing at the end of the tick. "÷ ceiling" divides by the better of the two ' +
      'raw variants (for NATS: by plain nats.js).',
    peers.zeromq.startsWith('skipped')
      ? `zeromq.js column ${peers.zeromq}.`
      : `zeromq.js (${peers.zeromq}): an XPUB with noDrop (a full high-water mark holds the ` +
        "producer, like socketkit's drain(); the publisher counts subscriptions to know every " +
        'subscriber is in) → SUB for broadcast and fan-out, DEALER → ROUTER for round trips, over ' +
        'ipc:// (the unix rows) and tcp://127.0.0.1; the same msgpack body as the raw baseline in ' +
        `one zeromq message, decoded once on receipt; \`await socket.send()\` per message ` +
        '(zeromq.js takes one send at a time).',
    peers.python.startsWith('skipped')
      ? `Python reference peer ${peers.python}.`
      : `Python reference peer (${peers.python}): python/peer.py with blocking sockets and one ` +
        'reader thread per connection; msgpack.packb of the same map (datetime.isoformat() ' +
        'timestamps), msgpack.unpackb per frame; its server batches broadcasts into 64 KiB ' +
        'sendall() calls. Server and clients are Python processes driven by the bench workers; no handshake.',
    'Producers (socketkit and raw alike) check for back-pressure every 64 KiB offered: ' +
      'socketkit awaits server.drain(), the raw server awaits "drain" on the sockets above their ' +
      'high-water mark. Writers (scenario 5) yield to the event loop every 64 KiB.',
    'Request/reply: one request in flight at a time; socketkit uses client.request() and a ' +
      'server handler, the raw client matches reply_to itself. The round-trip targets compare ' +
      'with the faster raw variant.',
    'Slow consumer: a socketkit server broadcasts 64 KiB messages to a fast client (counting ' +
      'them) and a second client that stopped reading (receive buffer of 1 message, so it pauses ' +
      'its socket). Runs alternate unloaded (fast client only) and loaded. The producer awaits ' +
      'server.drain() every 1 MiB offered; the server runs with ' +
      `drainTimeout ${SLOW_DRAIN_TIMEOUT_MS} ms (library default 5000 ms). RSS is sampled in the ` +
      'server process every 5 ms and at every drain, from just before the run until the slow ' +
      "client's connection is closed.",
    ...(results.scenarios.some((s) => s.transport === 'nats')
      ? [
          'NATS (scenarios 1, 2 and 4): socketkit through @socketkit/nats (NatsSocketServer / ' +
            'NatsSocketClient) and plain nats.js (@nats-io/transport-node: one publish per message to ' +
            'a subject every subscriber listens on, subscription callbacks, nc.request() / ' +
            'msg.respond() for round trips; the publisher yields every 64 KiB and awaits nc.flush() ' +
            'every 1 MiB) through one local nats-server (default settings, 127.0.0.1, started by the ' +
            'run). The NATS target compares socketkit with that nats.js baseline; the "crossing a ' +
            'broker" table compares socketkit over NATS with socketkit over unix and tcp.',
        ]
      : []),
    ...(results.scaling !== undefined && results.scaling.length > 0
      ? [
          'Scaling curve: fan-out of 100-byte messages to 1, 10, 100 and 1,000 clients; the clients ' +
            `share up to ${Math.max(...results.scaling.map((p) => p.processes))} worker processes ` +
            '(1,000 clients = 100 per process, each process connecting its share all at once); a fresh ' +
            'server process per point. Connects/s = clients ÷ (last connect done − first connect ' +
            'started). Memory per idle client = server RSS (and JS heap) growth after a forced GC, ' +
            'divided by the clients. Each point broadcasts max(50, deliveries ÷ clients) messages per ' +
            `run (one warm-up and ${m.reps} measured runs, medians). CPU per delivered message = ` +
            'user+system CPU time of the server and all client processes ÷ messages delivered; bytes ' +
            "per delivered message = the server's write-syscall bytes (/proc/self/io wchar) ÷ messages " +
            'delivered. A point whose clients cannot all connect is recorded as failed with the first error.',
        ]
      : []),
    ...(results.profiles !== undefined && results.profiles.length > 0
      ? [
          'Profiles of missed targets: the scenario re-run with socketkit alone (one warm-up and ' +
            "two measured runs), V8's sampling profiler (node:inspector, 200 µs) on in the server and " +
            'the first client during the measured runs only; self time per function as a share of that ' +
            "process's non-idle time. One profile per scenario (the first transport that missed it; " +
            'NATS apart); the .cpuprofile files stay in bench/profiles/.',
        ]
      : []),
    'msgpackr native acceleration (isNativeAccelerationEnabled of msgpackr as the raw baselines import it, in a ' +
      `socketkit worker): ${m.msgpackrNative === null ? 'unknown' : m.msgpackrNative ? 'enabled' : 'disabled'}. ` +
      "socketkit's codec decodes with msgpackr's JavaScript decoder until it has decoded 256 payloads of at " +
      'least 140 bytes, then with the full msgpackr (native extractor included when it loads).',
  ];
}

/** The whole report as markdown (`latest.md`). */
export function markdownReport(results: BenchResults, chartFile: string): string {
  const m = results.meta;
  const profiles = results.profiles ?? [];
  return [
    `# socketkit benchmark — ${m.mode} run`,
    '',
    `${m.startedAt} · Node ${m.node} · ${m.platform} · ${m.cpus} × ${m.cpuModel} ` +
      `· ${m.memoryGiB} GiB RAM · ${m.durationSeconds.toFixed(0)} s · load ` +
      `average ${m.loadAverage.start.toFixed(1)} → ${m.loadAverage.end.toFixed(1)} · ` +
      `commit ${m.gitCommit || 'unknown'}`,
    '',
    `![benchmark chart](${chartFile})`,
    '',
    // [issue 28: cold start] its target rows follow issue 16's
    `## Targets (issue 16${results.cold === undefined ? '' : ', then issue 28'}, with issue 6's slow-consumer targets)`,
    '',
    markdownTable(targetsTable(results.targets)),
    '',
    '## socketkit ÷ each baseline',
    '',
    'Ceiling = the better raw node:net variant (for NATS: plain nats.js). ↑ rows: above 1× ' +
      'means socketkit is faster; ↓ rows (latency): above 1× means socketkit is slower.',
    '',
    markdownTable(headlineTable(results.headline ?? [])),
    '',
    '## Every implementation',
    '',
    '"÷ ceiling" is that implementation\'s first figure ÷ the ceiling\'s; "socketkit ÷ this" ' +
      'is socketkit\'s first figure ÷ that implementation\'s. "CPU µs / msg" (broadcast ' +
      'scenarios): user + system CPU of the server and every client process (Python peer ' +
      'processes included; nats-server not) per delivered message; it moves less than throughput on a busy host.',
    '',
    markdownTable(resultsTable(results.rows)),
    '',
    ...((results.scaling ?? []).length > 0
      ? ['## Scaling curve: fan-out to 1 … 1,000 clients', '', markdownTable(scalingTable(results.scaling)), '']
      : []),
    ...(results.broker === undefined ? [] : brokerMarkdown(results.broker)),
    ...(results.jetstream === undefined ? [] : jetStreamMarkdown(results.jetstream, results.broker)), // [issue 27]
    // [issue 28: cold start and first messages]
    ...(results.cold === undefined
      ? []
      : [
          '## From the first message: import, cold start, cold burst, drain cadence, payload shapes',
          '',
          ...coldTables(results.cold).flatMap((t) => [`### ${t.title}`, '', markdownTable(t.table), '']),
          ...results.cold.errors.map((e) => `- failed: ${e}`),
          '',
        ]),
    // [issue 28: idle clients]
    ...(results.idle === undefined
      ? []
      : [
          '## Idle clients: 1 … 10,000 on one server',
          '',
          ...idleTables(results.idle).flatMap((t) => [`### ${t.title}`, '', markdownTable(t.table), '']),
          ...results.idle.errors.map((e) => `- failed: ${e}`),
          '',
        ]),
    ...whereTheTimeGoes(profiles, results.targets),
    '## Scenario 6: slow consumer',
    '',
    markdownTable(slowTable(results.slowConsumer)),
    '',
    '## Unix sockets vs TCP',
    '',
    markdownTable(unixTcpTable(results.unixVsTcp)),
    '',
    ...(results.viaNats !== undefined && results.viaNats.length > 0
      ? [
          '## NATS: what crossing a broker costs',
          '',
          'socketkit over a local nats-server next to socketkit over Unix sockets and TCP in the ' +
            'same run. Ratios are nats ÷ unix and nats ÷ tcp: below 1× on ↑ rows, above 1× on ↓ rows ' +
            'means NATS is slower.',
          '',
          markdownTable(natsTable(results.viaNats)),
          '',
        ]
      : []),
    '## How this was measured',
    '',
    ...methodNotes(results).map((n) => `- ${n}`),
    ...results.notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
}
