/**
 * The wings of @socketkit/core/src (docs/architecture.md), enforced by
 * packages/repo-checks with dependency-cruiser: a cycle or an import across a
 * forbidden line fails the test command.
 *
 *   wire/    per-connection plumbing both engines share: imports no other wing
 *   ops/     stats, metrics, monitor, logging: may use wire/, never an engine
 *   net/     node:net / node:fs helpers for the socket transports only
 *   server/  the server engine: never client/ (nor net/)
 *   client/  the client engine: never server/ (nor net/)
 *   root     transport.ts and settings.ts (imported by all, import no wing);
 *            engine.ts (the glue), index.ts and internal.ts (entry points; net/index.ts is the third)
 * @type {import('dependency-cruiser').IConfiguration}
 */
const WING = (name) => `^src/${name}/`;
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'No import cycles anywhere in core.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'wire-is-the-bottom',
      severity: 'error',
      comment: 'wire/ is shared by both engines: it imports nothing of server/, client/, ops/, net/ or the glue.',
      from: { path: WING('wire') },
      to: { path: ['^src/(server|client|ops|net)/', '^src/(engine|index|internal)\\.ts$'] },
    },
    {
      name: 'ops-is-no-engine',
      severity: 'error',
      comment: 'ops/ (stats, metrics, monitor, logging) never reaches into an engine or net/.',
      from: { path: WING('ops') },
      to: { path: ['^src/(server|client|net)/', '^src/(engine|index|internal)\\.ts$'] },
    },
    {
      name: 'server-never-client',
      severity: 'error',
      comment: 'server/ and client/ never import each other.',
      from: { path: WING('server') },
      to: { path: ['^src/client/', '^src/net/', '^src/(engine|index|internal)\\.ts$'] },
    },
    {
      name: 'client-never-server',
      severity: 'error',
      comment: 'server/ and client/ never import each other.',
      from: { path: WING('client') },
      to: { path: ['^src/server/', '^src/net/', '^src/(engine|index|internal)\\.ts$'] },
    },
    {
      name: 'net-is-for-transports',
      severity: 'error',
      comment: 'net/ holds node:net / node:fs helpers for the socket transports: it imports no engine or wire code.',
      from: { path: WING('net') },
      to: { path: ['^src/(server|client|ops|wire)/', '^src/(engine|index|internal)\\.ts$'] },
    },
    {
      name: 'root-ports-import-no-wing',
      severity: 'error',
      comment:
        'transport.ts and settings.ts are the ports and shared settings every wing imports: they import no wing.',
      from: { path: '^src/(transport|settings)\\.ts$' },
      to: { path: ['^src/(server|client|ops|wire|net)/', '^src/(engine|index|internal)\\.ts$'] },
    },
    {
      name: 'every-file-in-a-wing',
      severity: 'error',
      comment: 'A new file goes in a wing; the root holds only the ports, the settings, the glue and the entry points.',
      from: { path: '^src/[^/]+\\.ts$', pathNot: '^src/(transport|settings|engine|index|internal|duplex-pair)\\.ts$' },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['node_modules', '\\.d\\.ts$'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
