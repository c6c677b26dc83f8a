import { readFileSync } from 'node:fs';
import { HELP, UsageError, parseCommand, type ParsedCommand } from './args.js';
import { bench, benchAvailable, listen, request, send, serve } from './commands.js';
import { errorLine, safeText } from './output.js';

/** Exit codes of the `socketkit` binary. */
export const EXIT = { OK: 0, RUNTIME_ERROR: 1, USAGE_ERROR: 2 } as const;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function run(parsed: Exclude<ParsedCommand, { command: 'help' } | { command: 'version' }>): Promise<number> {
  switch (parsed.command) {
    case 'serve':
      return serve(parsed);
    case 'listen':
      return listen(parsed);
    case 'send':
      return send(parsed);
    case 'request':
      return request(parsed);
    // ls, stats and top (and the tcp transport their monitors load) are imported when run: send, listen and the
    // other short-lived commands start without them.
    case 'ls':
      return (await import('./ls-command.js')).ls(parsed);
    case 'stats':
      return (await import('./stats-command.js')).stats(parsed);
    case 'top':
      return (await import('./stats-command.js')).top(parsed);
    case 'bench':
      return bench(parsed);
    case 'broker':
      // Loaded only here: the other commands never load @socketkit/broker.
      return (await import('./broker-command.js')).broker(parsed);
  }
}

/**
 * For a transport package that is not installed (the facade's error names it
 * in `details.package`): how to add it beside a global or npx-run CLI.
 */
function missingTransportHint(err: unknown): string {
  const pkg = (err as { details?: { package?: unknown } } | undefined)?.details?.package;
  if (typeof pkg !== 'string') return '';
  return `\n  for a global CLI: npm install -g ${pkg}; with npx: npx -p @socketkit/cli -p ${pkg} socketkit ...`;
}

/**
 * The binary's help: `bench` is listed only in a repository checkout, the
 * one place its runner exists.
 */
export function mainHelp(withBench: boolean = benchAvailable()): string {
  return withBench ? HELP.main : HELP.main.replace(/^ {2}bench .*\n/m, '');
}

/**
 * Runs the `socketkit` command line with `argv` (without `node` and the
 * script) and resolves with the exit code: 0 ok, 1 runtime error (stderr
 * names the error code), 2 usage error.
 */
export async function main(argv: readonly string[]): Promise<number> {
  if (argv.length === 0) {
    process.stderr.write(`${mainHelp()}\n`);
    return EXIT.USAGE_ERROR;
  }
  let parsed: ParsedCommand;
  try {
    parsed = parseCommand(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    const where = err.command === undefined ? 'socketkit' : `socketkit ${err.command}`;
    process.stderr.write(`${where}: ${safeText(err.message)}\nrun "${where} --help" for usage\n`);
    return EXIT.USAGE_ERROR;
  }
  if (parsed.command === 'help') {
    process.stdout.write(`${parsed.topic === undefined ? mainHelp() : HELP[parsed.topic]}\n`);
    return EXIT.OK;
  }
  if (parsed.command === 'version') {
    process.stdout.write(`${version()}\n`);
    return EXIT.OK;
  }
  if (parsed.command === 'bench' && parsed.script === undefined && !benchAvailable()) {
    process.stderr.write(
      'socketkit: bench runs the benchmark suite of a socketkit repository checkout, which this ' +
        'installation is not (pass --script PATH to run a runner elsewhere)\n',
    );
    return EXIT.USAGE_ERROR;
  }
  try {
    return await run(parsed);
  } catch (err) {
    process.stderr.write(`${errorLine(err)}${missingTransportHint(err)}\n`);
    return EXIT.RUNTIME_ERROR;
  }
}
