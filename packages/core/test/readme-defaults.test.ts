// The core README's option tables state the engine's real defaults, server and
// client (the server table once said authTimeout 5000 ms while the code used 3000 ms).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { DEFAULT_BACKOFF } from '../src/client/backoff.js';
import { resolveClientOptions } from '../src/client/options.js';
import { SERVER_DEFAULTS } from '../src/server/options.js';
import type { ClientTransport } from '../src/transport.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/**
 * Rows of a README table (`| \`a\` / \`b\` | x / y ms | ...`; the client table separates with commas) as
 * option name → stated default.
 */
function statedDefaults(header: string, separator = /\s*\/\s*/): Map<string, string> {
  const table = readme.slice(readme.indexOf(header));
  const rows = table.slice(0, table.indexOf('\n\n')).split('\n').slice(2);
  const stated = new Map<string, string>();
  for (const row of rows) {
    const [names, defaults] = row
      .split('|')
      .slice(1, 3)
      .map((c) => c.trim()) as [string, string];
    const keys = names.split(separator).map((n) => n.replace(/`/g, ''));
    const values = defaults.split(separator);
    keys.forEach((k, i) => stated.set(k, values[Math.min(i, values.length - 1)] as string));
  }
  return stated;
}

/** The README's spelling of a default: "5000 ms", "8 MiB", "10", "`disconnect`". */
function spelled(key: string, value: unknown): string[] {
  if (typeof value === 'string') return [`\`${value}\``];
  if (typeof value === 'boolean') return [String(value), value ? 'on' : 'off'];
  if (typeof value !== 'number') return [String(value)];
  const forms = [String(value), `${value} ms`];
  if (value >= 1024 * 1024 && value % (1024 * 1024) === 0) forms.push(`${value / (1024 * 1024)} MiB`);
  if (key === 'heartbeatInterval' && value === 0) forms.push('0 (off)');
  if (key === 'bufferSize') forms.push(`${value} messages`);
  return forms;
}

describe('core README option table', () => {
  const stated = statedDefaults('| option (server) |');
  const checked = [...stated.keys()].filter((k) => k in SERVER_DEFAULTS);

  it('covers the options it lists', () => {
    expect(checked).toEqual(expect.arrayContaining(['maxConnections', 'drainTimeout', 'closeTimeout', 'authTimeout']));
  });

  it.each(checked)('%s: the stated default is the real one', (key) => {
    const real = (SERVER_DEFAULTS as Record<string, unknown>)[key];
    expect(spelled(key, real)).toContain(stated.get(key));
  });
});

describe('core README client option table', () => {
  const stated = statedDefaults('| option (client) |', /\s*,\s*/);
  const resolved = resolveClientOptions({ eventName: 'readme', transport: {} as ClientTransport }) as unknown as Record<
    string,
    unknown
  >;
  const checked = [...stated.keys()].filter((k) => k in resolved && k !== 'reconnect' && k !== 'autoReconnect');

  it('covers the options it lists', () => {
    expect(checked).toEqual(expect.arrayContaining(['connectTimeout', 'defaultTimeout', 'bufferSize', 'handshake']));
  });

  it.each(checked)('%s: the stated default is the real one', (key) => {
    expect(spelled(key, resolved[key])).toContain(stated.get(key));
  });

  it('autoReconnect and reconnect: the stated backoff is DEFAULT_BACKOFF', () => {
    const row = readme.split('\n').find((line) => line.startsWith('| `autoReconnect`, `reconnect` |')) ?? '';
    const { initialDelay, multiplier, maxDelay, jitter, maxRetries } = DEFAULT_BACKOFF;
    expect(row).toContain(`| ${resolved.autoReconnect === true ? 'on' : 'off'}; `);
    expect(row).toContain(
      `${initialDelay} ms ×${multiplier} → ${maxDelay / 1000} s, ±${jitter * 100} %, \`maxRetries\` ${maxRetries}`,
    );
  });
});
