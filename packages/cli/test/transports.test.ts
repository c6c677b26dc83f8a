// The CLI's --transport follows the one transport registry (issue 11): its
// validation and its help list whatever is registered, built-in or not.
import { describe, expect, test } from '@jest/globals';
import { registerTransport, transportNames } from 'socketkit';
import { HELP, parseCommand } from '../src/args.js';

describe('--transport and the transport registry', () => {
  test(
    'the help lists the registered transports, a registered one is accepted, anything else refused naming them ' +
      'all',
    () => {
      expect(HELP.listen).toContain(`--transport ${transportNames().join('|')}`);
      registerTransport('cli-memory', {
        package: 'cli-memory',
        load: async () => Promise.reject(new Error('never loaded by parsing')),
      });
      for (const topic of ['main', 'serve', 'listen', 'send', 'request'] as const)
        expect(HELP[topic]).toContain('--transport unix|tcp|nats|cli-memory');
      expect(parseCommand(['listen', 'jobs', '--transport', 'cli-memory'])).toMatchObject({
        command: 'listen',
        transport: 'cli-memory',
      });
      expect(() => parseCommand(['listen', 'jobs', '--transport', 'udp'])).toThrow(
        '--transport must be unix, tcp, nats or cli-memory, got "udp"',
      );
    },
  );
});
