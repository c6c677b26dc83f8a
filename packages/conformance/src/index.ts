/**
 * @socketkit/conformance — the transport conformance harness (private):
 * factories per transport, per-test cleanup, and small waiting helpers used by
 * the conformance and reliability suites. Import it only from jest tests.
 * @packageDocumentation
 */
export * from './harness.js';
export * from './nats-server.js';
