// One transport registry (issue 11): a transport registered through
// socketkit's registerTransport() runs through the conformance suite with no
// change to the suite. This file registers an in-memory transport, selects
// it, then imports suites of the conformance package: every
// describeTransports block in them runs on it (and only on it here; the
// other files run them on unix, tcp and nats).
import { describe, expect, it } from '@jest/globals';
import { transportNames } from 'socketkit';
import { MEMORY } from './third-party/memory-transport.js';
import { conformanceTransportNames } from '../src/harness.js';
import './server-basics.test.js';
import './queue-limits.test.js';
import './client-behaviour.test.js';
import './resilience.test.js';
import './connect-abort.test.js';

describe('a third-party transport', () => {
  it('is in the registry after the built-in ones, and the suite runs on it', () => {
    expect(transportNames()).toEqual(['unix', 'tcp', 'nats', MEMORY]);
    expect(conformanceTransportNames()).toEqual([MEMORY]);
  });
});
