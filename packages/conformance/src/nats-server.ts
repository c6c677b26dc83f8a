// The nats-server helpers moved to @socketkit/test-support (shared with the nats, broker and cli tests and the
// bench); this entry point stays for the suites that import it from here.
export {
  freePort,
  type NatsServerHandle,
  natsServerBinary,
  type StartNatsOptions,
  startNatsServer,
} from '@socketkit/test-support';
