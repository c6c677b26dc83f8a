// A deployment with untrusted peers (docs/broker.md "Running untrusted workers"): NATS users with subject
// permissions, one per role. The worker user may read the streams and work tasks but not submit them nor create
// streams; the submitter may submit but not work; the RPC holder may hold identifiers and answer, not submit; the RPC
// caller may call, not hold an identifier. Each list is the one docs/broker.md gives.
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
/** What every communicator reads when it connects (the streams exist: a trusted user created them). */
const CONNECT = [
  `$JS.API.STREAM.INFO.${S}_TASKS`,
  `$JS.API.STREAM.INFO.${S}_DEAD`,
  `$JS.API.STREAM.INFO.${S}_ADV`,
  `$JS.API.CONSUMER.INFO.${S}_TASKS.workers`,
  `$JS.API.CONSUMER.INFO.${S}_ADV.dead-letter`,
];
const SUBMITTER_PUBLISH = [...CONNECT, 'sk.perm.task', 'sk.perm.conf.>', `$JS.API.STREAM.MSG.GET.${S}_TASKS`];
const HOLDER_PUBLISH = [
  ...CONNECT,
  '$KV.sk_perm_rpc.>',
  '$JS.API.INFO',
  '$JS.API.STREAM.INFO.KV_sk_perm_rpc',
  '$JS.API.DIRECT.GET.KV_sk_perm_rpc.>',
  '_INBOX.>',
];
const CALLER_PUBLISH = [...CONNECT, 'sk.perm.rpc.>'];
const user = (name: string, publish: string[], subscribe: string[]): string =>
  `{ user: ${name}, password: ${name}-secret, permissions: {
        publish: { allow: ${JSON.stringify(publish)} }
        subscribe: { allow: ${JSON.stringify(subscribe)} }
    } }`;
const CONFIG = `authorization {
  users = [
    { user: admin, password: admin-secret }
    ${user('worker', WORKER_PUBLISH, ['_INBOX.>', 'sk.perm.conf.>', 'sk.perm.out.>'])}
    ${user('submitter', SUBMITTER_PUBLISH, ['_INBOX.>', 'sk.perm.out.>'])}
    ${user('holder', HOLDER_PUBLISH, ['_INBOX.>', 'sk.perm.rpc.calc', 'sk.perm.out.>', 'sk.perm.conf.>'])}
    ${user('caller', CALLER_PUBLISH, ['_INBOX.>', 'sk.perm.out.>', 'sk.perm.conf.>'])}
  ]
}
`;

let js: Awaited<ReturnType<typeof startJetStream>> | undefined;

/** Communicators on the `perm` namespace, each logged in as a user of the test's config (password `<name>-secret`). */
function logins(): { as(name: string): Promise<JetStreamCommunicator>; open: JetStreamCommunicator[] } {
  const open: JetStreamCommunicator[] = [];
  const opts = { transport: 'jetstream' as const, servers: (js as { url: string }).url, name: 'perm' };
  return {
    open,
    as: async (name) => {
      const nats = { user: name, pass: `${name}-secret`, timeout: 2000 };
      const c = await connect({ ...opts, storage: 'memory' as const, nats });
      open.push(c);
      return c;
    },
  };
}
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

    it('a restricted submitter submits, gets outcomes; cannot work tasks nor hold an RPC identifier', async () => {
      const { as, open } = logins();
      try {
        const admin = await as('admin');
        const submitter = await as('submitter');
        await admin.addTaskSubscriber((b) => ({ worked: b }));
        await expect(submitter.taskSend('a')).resolves.toEqual({ worked: 'a' });
        await expect(submitter.taskSend('b', { noReply: true })).resolves.toEqual(expect.any(String));
        await expect(submitter.addTaskSubscriber((b) => b)).rejects.toMatchObject({ code: 'BROKER_UNAVAILABLE' });
        await expect(submitter.addRpcSubscriber((b) => b, 'calc')).rejects.toMatchObject({
          code: 'BROKER_UNAVAILABLE',
        });
        await expect(submitter.taskSend('c')).resolves.toEqual({ worked: 'c' }); // still submits
      } finally {
        await Promise.all(open.map((c) => c.close()));
      }
    }, 30_000);

    it('a restricted RPC holder answers, a restricted caller calls; neither may do the other', async () => {
      const { as, open } = logins();
      try {
        const admin = await as('admin');
        const holder = await as('holder');
        const caller = await as('caller');
        // The bucket exists (created by a trusted user): the holder only writes its entries.
        await admin.addRpcSubscriber(() => 'admin', 'boot');
        await admin.removeRpcSubscriber('boot');
        await holder.addRpcSubscriber((b) => ({ sum: (b as number[]).reduce((x, y) => x + y, 0) }), 'calc');
        await expect(caller.rpcSend('calc', [1, 2, 3])).resolves.toEqual({ sum: 6 });
        await expect(admin.rpcSend('calc', [4])).resolves.toEqual({ sum: 4 });
        await expect(caller.rpcSend('nobody', 1)).rejects.toMatchObject({ code: 'UNROUTABLE' });
        // Identifiers are still unique: a second holder of "calc" is refused.
        await expect(admin.addRpcSubscriber(() => 0, 'calc')).rejects.toMatchObject({
          code: 'DUPLICATE_SUBSCRIBER_IDENTIFIER',
        });
        await expect(caller.addRpcSubscriber(() => 0, 'other')).rejects.toMatchObject({ code: 'BROKER_UNAVAILABLE' });
        await expect(holder.taskSend('x', { noReply: true })).rejects.toMatchObject({ code: 'BROKER_UNAVAILABLE' });
        await expect(caller.rpcSend('calc', [5])).resolves.toEqual({ sum: 5 }); // both still work
      } finally {
        await Promise.all(open.map((c) => c.close()));
      }
    }, 30_000);
  },
);
