// The bench's transports come from the one transport registry (issue 11).
import { describe, expect, it } from '@jest/globals';
import { registerTransport, transportNames } from 'socketkit';
import { benchTransports, parseTransports } from '../src/harness/transports.js';

describe('bench transports', () => {
  it('default: the built-in transports of the registry; --transport checked against it', () => {
    expect(benchTransports()).toEqual(transportNames());
    expect(parseTransports(undefined)).toEqual(['unix', 'tcp', 'nats']);
    expect(parseTransports('tcp, unix')).toEqual(['tcp', 'unix']);
    expect(() => parseTransports('udp')).toThrow('--transport takes unix, tcp, nats, got "udp"');
  });

  it(
    'a registered third-party transport is named, and refused with the reason (the scenarios need per-transport ' +
      'wiring)',
    () => {
      registerTransport('bench-memory', {
        package: 'bench-memory',
        load: async () => Promise.reject(new Error('never loaded')),
      });
      expect(benchTransports()).toEqual(['unix', 'tcp', 'nats']);
      expect(() => parseTransports('bench-memory')).toThrow(
        /"bench-memory" is registered, but the bench drives only unix, tcp, nats/,
      );
    },
  );
});
