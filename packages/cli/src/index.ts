/**
 * @socketkit/cli — the `socketkit` command line (serve, listen, send,
 * request, bench). The binary is `dist/bin.js`; this entry point exposes the
 * same pieces for programmatic use and tests.
 * @packageDocumentation
 */
export { main, mainHelp, EXIT } from './cli.js';
export { parseCommand, UsageError, HELP, COMMANDS } from './args.js';
export type { ParsedCommand, CommandName, CommonArgs, HelpTopic } from './args.js';
export { BROKER_SUBCOMMANDS, BROKER_TOPICS, TASK_STATES } from './broker-args.js';
export type {
  BrokerCommand,
  BrokerCommonArgs,
  BrokerServeLimits,
  BrokerSubcommand,
  BrokerTopic,
  JetStreamTarget,
} from './broker-args.js';
export {
  serve,
  listen,
  send,
  request,
  bench,
  benchAvailable,
  benchCandidates,
  DEFAULT_CLI_LOG_LEVEL,
} from './commands.js';
export { messageLine, errorLine, errorCode, stderrLogger, safeText, safeJson } from './output.js';
export type { SafeTextOptions } from './output.js';
