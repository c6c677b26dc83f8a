// A deployment with untrusted workers (docs/broker.md "Running untrusted workers"): NATS users with subject
// permissions. The worker user may read the streams and work tasks but not submit them nor create streams.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type JetStreamCommunicator } from '../src/index.js';
import { natsBinary, startJetStream } from './jetstream-helpers.js';

const d = natsBinary === undefined ? describe.skip : describe;
const S = 'SK_PERM';
const WORKER_PUBLISH = [
  `$JS.API.STREAM.INFO.${S}_TASKS`,
  `$JS.API.STREAM.INFO.${S}_DEAD`,
  `$JS.API.STREAM.INFO.${S}_ADV`,
  `$JS.API.CONSUMER.INFO.${S}_TASKS.workers`,
  `$JS.API.CONSUMER.INFO.${S}_ADV.dead-letter`,
  `$JS.API.CONSUMER.MSG.NEXT.${S}_TASKS.workers`,
  `$JS.API.CONSUMER.MSG.NEXT.${S}_ADV.dead-letter`,
  `$JS.ACK.${S}_TASKS.workers.>`,
  `$JS.ACK.${S}_ADV.dead-letter.>`,
  `$JS.API.STREAM.MSG.GET.${S}_TASKS`,
  `$JS.API.STREAM.MSG.DELETE.${S}_TASKS`,
  'sk.perm.dead',
  'sk.perm.out.>',
];
const CONFIG = `authorization {
  users = [
    { user: admin, password: admin-secret }
    { user: worker, password: worker-secret, permissions: {
        publish: { allow: ${JSON.stringify(WORKER_PUBLISH)} }
        subscribe: { allow: ["_INBOX.>", "sk.perm.conf.>", "sk.perm.out.>"] }
    } }
  ]
}
`;

let js: Awaited<ReturnType<typeof startJetStream>> | undefined;
beforeAll(async () => {
  if (natsBinary !== undefined) js = await startJetStream(CONFIG);
});
afterAll(async () => {
  await js?.stop();
});

d(
  `JetStream backend with NATS users and ` +
    `permissions${natsBinary === undefined ? ' [skipped: no nats-server binary]' : ''}`,
  () => {
    it('a restricted worker works tasks; it cannot submit one (refused, typed)', async () => {
      const url = (js as { url: string }).url;
      const opts = {
        transport: 'jetstream' as const,
        servers: url,
        name: 'perm',
        storage: 'memory' as const,
        publishTimeoutMs: 500,
      };
      const admin: JetStreamCommunicator = await connect({ ...opts, nats: { user: 'admin', pass: 'admin-secret' } });
      const worker: JetStreamCommunicator = await connect({ ...opts, nats: { user: 'worker', pass: 'worker-secret' } });
      try {
        await worker.addTaskSubscriber((b) => ({ worked: b }));
        await expect(admin.taskSend(1)).resolves.toEqual({ worked: 1 });
        await expect(worker.taskSend(2, { noReply: true })).rejects.toMatchObject({ code: 'BROKER_UNAVAILABLE' });
        await expect(admin.taskSend(3)).resolves.toEqual({ worked: 3 }); // the worker still works
      } finally {
        await worker.close();
        await admin.close();
      }
    }, 30_000);
  },
);
