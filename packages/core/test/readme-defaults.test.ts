// The core README's server option table states the engine's real defaults
// (issue 22 item 15: it said authTimeout 5000 ms while the code used 3000 ms).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { SERVER_DEFAULTS } from '../src/server/options.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** `| \`a\` / \`b\` | x / y ms | ...` rows of the server table as option name → stated default. */
function statedServerDefaults(): Map<string, string> {
  const table = readme.slice(readme.indexOf('| option (server) |'));
  const rows = table.slice(0, table.indexOf('\n\n')).split('\n').slice(2);
  const stated = new Map<string, string>();
  for (const row of rows) {
    const [names, defaults] = row
      .split('|')
      .slice(1, 3)
      .map((c) => c.trim()) as [string, string];
    const keys = names.split(/\s*\/\s*/).map((n) => n.replace(/`/g, ''));
    const values = defaults.split(/\s*\/\s*/);
    keys.forEach((k, i) => stated.set(k, values[Math.min(i, values.length - 1)] as string));
  }
  return stated;
}

/** The README's spelling of a default: "5000 ms", "8 MiB", "10", "`disconnect`". */
function spelled(key: string, value: unknown): string[] {
  if (typeof value === 'string') return [`\`${value}\``];
  if (typeof value !== 'number') return [String(value)];
  const forms = [String(value), `${value} ms`];
  if (value >= 1024 * 1024 && value % (1024 * 1024) === 0) forms.push(`${value / (1024 * 1024)} MiB`);
  if (key === 'heartbeatInterval' && value === 0) forms.push('0 (off)');
  return forms;
}

describe('core README option table', () => {
  const stated = statedServerDefaults();
  const checked = [...stated.keys()].filter((k) => k in SERVER_DEFAULTS);

  it('covers the options it lists', () => {
    expect(checked).toEqual(expect.arrayContaining(['maxConnections', 'drainTimeout', 'closeTimeout', 'authTimeout']));
  });

  it.each(checked)('%s: the stated default is the real one', (key) => {
    const real = (SERVER_DEFAULTS as Record<string, unknown>)[key];
    expect(spelled(key, real)).toContain(stated.get(key));
  });
});
