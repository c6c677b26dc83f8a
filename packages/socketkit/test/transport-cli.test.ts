// The CLI declarations of the transport registry (issue 24): a bad declaration is refused when registered,
// and the built-in ones state the rules the CLI used to hard-code.
import { describe, expect, test } from '@jest/globals';
import { NATS_CLI, TCP_CLI, UNIX_CLI, registerTransport, transportCli, type TransportCliFlag } from '../src/index.js';

const load = async () => Promise.reject(new Error('never loaded'));
function flag(over: Partial<TransportCliFlag>): TransportCliFlag {
  return { name: 'x-speed', type: 'string', help: 'speed', ...over };
}

describe('TransportDefinition.cli', () => {
  test('the built-in transports are registered with their declarations', () => {
    expect(transportCli('unix')).toBe(UNIX_CLI);
    expect(transportCli('tcp')).toBe(TCP_CLI);
    expect(transportCli('nats')).toBe(NATS_CLI);
    const names = TCP_CLI.flags.map((f) => f.name).join(' ');
    expect(names).toBe('socket-dir host port tls-cert tls-key tls-ca tls-request-cert allow-insecure');
  });

  test.each([
    ['a bad flag name', [flag({ name: '--Speed' })], 'invalid CLI flag name "--Speed"'],
    ['a bad type', [flag({ type: 'number' as 'string' })], '--x-speed needs type "string" or "boolean"'],
    ['no help', [flag({ help: ' ' })], '--x-speed needs a help text'],
    ['a flag twice', [flag({}), flag({})], '--x-speed is declared twice'],
    ['a shared name, other type', [flag({ name: 'port', type: 'boolean' })], '--port is a string flag of "tcp"'],
  ])('%s is refused with INVALID_CONFIG, and nothing is registered', (_what, flags, message) => {
    const name = `cli-bad-${flags.length}-${String(flags[0]?.name).replace(/[^a-z]/g, '')}`;
    let thrown: unknown;
    try {
      registerTransport(name, { package: name, load, cli: { flags } });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining(message) });
    expect(transportCli(name)).toBeUndefined();
  });

  test('tcp: its TLS rules and the options its flags make', () => {
    const rules = TCP_CLI.options as NonNullable<typeof TCP_CLI.options>;
    expect(rules({ 'tls-cert': 'c.pem', 'tls-key': 'k.pem' }, { port: 0 }, 'serve')).toEqual({
      port: 0,
      tls: { cert: 'c.pem', key: 'k.pem' },
    });
    expect(rules({}, { host: 'h' }, 'listen')).toEqual({ host: 'h' });
    expect(() => rules({ 'tls-cert': 'c.pem' }, {}, 'listen')).toThrow('--tls-cert and --tls-key go together');
    expect(() => rules({ 'tls-ca': 'ca.pem' }, {}, 'serve')).toThrow('serve with TLS needs --tls-cert and --tls-key');
    const port = TCP_CLI.flags.find((f) => f.name === 'port')?.parse;
    expect(port?.('0', 'serve')).toBe(0);
    expect(() => port?.('0', 'listen')).toThrow('--port must be an integer 1-65535, got "0"');
  });
});
