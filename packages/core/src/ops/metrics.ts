import type { ServerStats } from './stats.js';

/**
 * Renders server statistics in the Prometheus text exposition format
 * (version 0.0.4): one `# HELP` / `# TYPE` pair per metric family, every
 * sample labelled with `event` (and `client` / `code` where it applies).
 * Several servers' stats can be rendered into one scrape: families are
 * grouped, each listed once.
 */
export function renderPrometheus(stats: ServerStats | readonly ServerStats[]): string {
  const all = Array.isArray(stats) ? (stats as readonly ServerStats[]) : [stats as ServerStats];
  const out: string[] = [];
  const family = (
    name: string,
    type: 'counter' | 'gauge',
    help: string,
    rows: Array<[Record<string, string>, number]>,
  ) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of rows) out.push(`${name}${formatLabels(labels)} ${formatValue(value)}`);
  };
  const per = (pick: (s: ServerStats) => number): Array<[Record<string, string>, number]> =>
    all.map((s) => [{ event: s.event }, pick(s)]);

  family(
    'socketkit_up',
    'gauge',
    'Whether the server is running (1) or not (0).',
    per((s) => (s.startedAt > 0 ? 1 : 0)),
  );
  family(
    'socketkit_uptime_seconds',
    'gauge',
    'Seconds since the server started.',
    per((s) => s.uptimeMs / 1000),
  );
  family(
    'socketkit_clients',
    'gauge',
    'Connected clients.',
    per((s) => s.clients.length),
  );
  family(
    'socketkit_max_connections',
    'gauge',
    'Most clients at once.',
    per((s) => s.maxConnections),
  );
  family(
    'socketkit_queue_length',
    'gauge',
    'Messages waiting in the no-client queue.',
    per((s) => s.queue.length),
  );
  family(
    'socketkit_queue_capacity',
    'gauge',
    'Capacity of the no-client queue in messages.',
    per((s) => s.queue.capacity),
  );
  family(
    'socketkit_queue_dropped_total',
    'counter',
    'Messages dropped from the full no-client queue (oldest first).',
    per((s) => s.queue.dropped),
  );
  family(
    'socketkit_messages_received_total',
    'counter',
    'Application messages received from clients.',
    per((s) => s.totals.messagesIn),
  );
  family(
    'socketkit_messages_sent_total',
    'counter',
    'Frames written to clients (a broadcast to N clients counts N).',
    per((s) => s.totals.messagesOut),
  );
  family(
    'socketkit_bytes_received_total',
    'counter',
    'Bytes received from clients, frame headers included.',
    per((s) => s.totals.bytesIn),
  );
  family(
    'socketkit_bytes_sent_total',
    'counter',
    'Bytes written to clients, frame headers included.',
    per((s) => s.totals.bytesOut),
  );
  family(
    'socketkit_slow_consumer_total',
    'counter',
    'Clients disconnected or messages dropped by the slow-consumer policy.',
    per((s) => s.totals.slowConsumerDisconnects),
  );
  family(
    'socketkit_invalid_messages_total',
    'counter',
    'Invalid messages (well framed, not a valid message) skipped.',
    per((s) => s.totals.invalidMessages ?? 0),
  );
  family(
    'socketkit_refused_connections_total',
    'counter',
    'Connections refused, by error code.',
    all.flatMap((s) =>
      Object.entries(s.refused).map(([code, n]): [Record<string, string>, number] => [{ event: s.event, code }, n]),
    ),
  );
  family(
    'socketkit_client_pending_bytes',
    'gauge',
    'Bytes written to a client that the transport has not yet taken.',
    all.flatMap((s) =>
      s.clients.map((c): [Record<string, string>, number] => [{ event: s.event, client: c.id }, c.pendingBytes]),
    ),
  );
  family(
    'socketkit_client_dropped_total',
    'counter',
    'Messages dropped for a client by the slow-consumer policy.',
    all.flatMap((s) =>
      s.clients.map((c): [Record<string, string>, number] => [{ event: s.event, client: c.id }, c.dropped]),
    ),
  );
  return `${out.join('\n')}\n`;
}

function formatLabels(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** Label values escape backslash, double quote and line feed (exposition format). */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
