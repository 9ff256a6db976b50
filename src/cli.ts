#!/usr/bin/env node
/**
 * The `syncwheel` command: look at and steer the schedulers of a deployment through their Redis
 * storage, without being one of them.
 *
 *   syncwheel status --redis redis://127.0.0.1:6379 --prefix myapp [--json]
 *   syncwheel sync <id> | pause [<id> | --queue <name> | --all] | resume [...] | check [--repair]
 *   syncwheel purge --prefix myapp [--yes]
 *   syncwheel migrate --prefix myapp [--yes]
 *
 * Exit codes: 0 done (`migrate`: done, or nothing to do); 1 the command ran but found trouble
 * (unknown fabric or queue, no syncwheel data under the prefix, `check` found issues it did not
 * repair, the migration failed); 2 bad usage (a bad flag value, a database the server does not
 * have, ioredis or redis-semaphore not installed); 3 Redis could not be reached in time or
 * answered with an error.
 *
 * ioredis (and redis-semaphore, for `check`) are optional peers of the package: they are loaded
 * only once a command needs Redis, so `--help` and `--version` work without them.
 *
 * This file is the entry (the package `bin`, dist/cli.js): usage, argument checks, dispatch. The
 * commands live in src/cli/: fabrics.ts and status.ts (status, sync, pause, resume, check),
 * purge.ts, migrate.ts; redis.ts connects; shared.ts holds the errors and formatting.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fabricCommand } from './cli/fabrics.js';
import { migrate } from './cli/migrate.js';
import { assertUsablePrefix, purge } from './cli/purge.js';
import { connect, parseRedisUrl } from './cli/redis.js';
import { SetupError, TroubleError, UnreachableError, UsageError, oneLine, type Cmd, type Io } from './cli/shared.js';

export { parseRedisUrl };

export const USAGE = `Usage: syncwheel <command> [options]

Commands:
  status                 table of every fabric (status, last successful sync, next sync, failures, last error)
  sync <id>              ask the running schedulers to sync a fabric now (taken by one replica
                         within its housekeepingInterval, 5 s by default)
  history <id>           a fabric's last runs, newest first (when, trigger, outcome, duration,
                         fencing token, replica, error); --limit <n> (default 20, at most 1000)
  pause <id>             pause one fabric          pause --queue <name>   pause a queue
  pause --all            pause every scheduler of the deployment (maintenance window)
  resume <id> | --queue <name> | --all             lift a pause
  check [--repair]       report stale "syncing" states, off-grid next syncs, unreadable records;
                         --repair fixes them
  purge [--yes]          delete every key of --prefix (records, fences, locks, membership, change
                         log, 0.1 layout too); a dry run that counts them unless --yes. On a Redis
                         Cluster (detected: --redis names any node) every master is scanned
  migrate [--yes]        move syncwheel 0.1 data (schema 1) of --prefix to the current layout
                         (records, fences, control record); a dry run that counts what it would
                         move unless --yes. Stop every replica first. Idempotent; Cluster as purge

Options:
  --redis <url>          Redis URL (or SYNCWHEEL_REDIS)          e.g. redis://127.0.0.1:6379
  --prefix <prefix>      key prefix of the deployment (or SYNCWHEEL_PREFIX), as given to RedisStorage
  --json                 machine-readable output
  --no-color             no colours (also NO_COLOR=1; FORCE_COLOR=1 forces them)
  --timeout <ms>         bound on connecting and on each Redis command (default 3000)
  --yes                  purge: really delete (SCAN + UNLINK in batches); migrate: really migrate
  -h, --help             this help
  -v, --version          the syncwheel version

Exit codes: 0 ok; 1 trouble found (unknown fabric or queue, no syncwheel data under the prefix,
unrepaired issues, a failed migration); 2 bad usage (bad flag value, no such database, ioredis not
installed); 3 Redis unreachable, too slow (--timeout) or failing. migrate: 0 also when there is
nothing to migrate.`;

/** The package version (dist/cli.js and src/cli.ts both sit one level below package.json). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        redis: { type: 'string' },
        prefix: { type: 'string' },
        json: { type: 'boolean', default: false },
        'no-color': { type: 'boolean', default: false },
        timeout: { type: 'string' },
        queue: { type: 'string' },
        all: { type: 'boolean', default: false },
        repair: { type: 'boolean', default: false },
        yes: { type: 'boolean', default: false },
        limit: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', short: 'v', default: false },
      },
    });
  } catch (error) {
    io.err(`syncwheel: ${oneLine((error as Error).message)} (see syncwheel --help)`);
    return 2;
  }
  const { values: v, positionals } = parsed;
  if (v.help) {
    io.out(USAGE);
    return 0;
  }
  if (v.version) {
    io.out(version());
    return 0;
  }
  const [command, ...rest] = positionals;
  try {
    if (!command) throw new UsageError('missing command');
    if (!['status', 'sync', 'history', 'pause', 'resume', 'check', 'purge', 'migrate'].includes(command)) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    const url = v.redis ?? io.env['SYNCWHEEL_REDIS'];
    if (!url) throw new UsageError('missing --redis <url> (or SYNCWHEEL_REDIS)');
    const target = parseRedisUrl(url);
    const prefix = v.prefix ?? io.env['SYNCWHEEL_PREFIX'];
    if (command === 'purge' && prefix !== undefined) assertUsablePrefix(prefix);
    if (!prefix) throw new UsageError('missing --prefix <prefix> (or SYNCWHEEL_PREFIX)');
    const timeout = v.timeout === undefined ? 3000 : Number(v.timeout);
    if (!/^\d+$/.test(v.timeout ?? '3000') || !Number.isSafeInteger(timeout) || timeout <= 0 || timeout > 2_147_483_647) {
      throw new UsageError(`Expected --timeout to be a positive integer number of ms (at most 2147483647), got ${JSON.stringify(v.timeout)}`);
    }
    if (v.queue !== undefined && v.queue === '') throw new UsageError('Expected --queue to be a queue name, got ""');
    const needsId = command === 'sync' || command === 'history' || ((command === 'pause' || command === 'resume') && !v.queue && !v.all);
    if (needsId && rest.length !== 1) throw new UsageError(`${command} needs exactly one fabric id${command === 'sync' || command === 'history' ? '' : ' (or --queue <name>, or --all)'}`);
    if (!needsId && rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`);
    if ((v.queue || v.all) && command !== 'pause' && command !== 'resume') throw new UsageError('--queue and --all go with pause and resume');
    if (v.queue && v.all) throw new UsageError('give --queue or --all, not both');
    if (v.repair && command !== 'check') throw new UsageError('--repair goes with check');
    if (v.yes && command !== 'purge' && command !== 'migrate') throw new UsageError('--yes goes with purge and migrate');
    if (v.limit !== undefined && command !== 'history') throw new UsageError('--limit goes with history');
    const limit = v.limit === undefined ? undefined : Number(v.limit);
    if (limit !== undefined && (!/^\d+$/.test(v.limit!) || limit < 1 || limit > 1_000)) throw new UsageError(`Expected --limit to be an integer from 1 to 1000, got ${JSON.stringify(v.limit)}`);
    const colour = !v.json && !v['no-color'] && !io.env['NO_COLOR'] && (io.isTTY || !!io.env['FORCE_COLOR']);
    return await run({ command, id: rest[0], url, target, prefix, timeout, json: v.json, colour, queue: v.queue, all: v.all, repair: v.repair, yes: v.yes, limit, redisFlag: v.redis !== undefined }, io);
  } catch (error) {
    // every expected failure is one line on stderr
    // (the usage text only when no command was given at all: otherwise the one line says it)
    if (error instanceof UsageError) io.err(command ? `syncwheel: ${oneLine(error.message)} (see syncwheel --help)` : `syncwheel: ${oneLine(error.message)}\n\n${USAGE}`);
    else if (error instanceof SetupError || error instanceof TroubleError || error instanceof UnreachableError) io.err(`syncwheel: ${oneLine(error.message)}`);
    else throw error;
    return error instanceof TroubleError ? 1 : error instanceof UnreachableError ? 3 : 2;
  }
}

/** Connects and runs the command; the client is disconnected once it is done. */
async function run(cmd: Cmd, io: Io): Promise<number> {
  const client = await connect(cmd);
  if (cmd.command === 'purge') return await purge(client, cmd, io).finally(() => client.disconnect());
  if (cmd.command === 'migrate') return await migrate(client, cmd, io).finally(() => client.disconnect());
  return await fabricCommand(client, cmd, io);
}

const isMain = (() => {
  const arg = process.argv[1];
  if (!arg) return false;
  try {
    return realpathSync(arg) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
})();

if (isMain) {
  // exit as soon as the answer is written: nothing (a socket, a timer) may hold the process
  const exit = (code: number) => process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
  main(process.argv.slice(2), {
    out: (s) => process.stdout.write(`${s}\n`),
    err: (s) => process.stderr.write(`${s}\n`),
    env: process.env,
    isTTY: process.stdout.isTTY === true,
  }).then(exit, (error: unknown) => {
    process.stderr.write(`syncwheel: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    exit(1);
  });
}
