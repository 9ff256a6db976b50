#!/usr/bin/env node
/**
 * The `syncwheel` command: look at and steer the schedulers of a deployment through their Redis
 * storage, without being one of them.
 *
 *   syncwheel status --redis redis://127.0.0.1:6379 --prefix myapp [--json]
 *   syncwheel sync <id> | pause [<id> | --queue <name> | --all] | resume [...] | check [--repair]
 *   syncwheel purge --prefix myapp [--yes]
 *
 * Exit codes: 0 done; 1 the command ran but found trouble (unknown fabric or queue, no syncwheel
 * data under the prefix, `check` found issues it did not repair); 2 bad usage (a bad flag value,
 * a database the server does not have, ioredis or redis-semaphore not installed); 3 Redis could
 * not be reached in time or answered with an error.
 *
 * ioredis (and redis-semaphore, for `check`) are optional peers of the package: they are loaded
 * only once a command needs Redis, so `--help` and `--version` work without them.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Cluster, Redis } from 'ioredis';
import { createScheduler } from './scheduler/scheduler.js';
import { fabricStatusOf } from './scheduler/fabric-status.js';
import type { FabricStatus } from './scheduler/types.js';
import { CONTROL_RECORD_ID, loadControl, updateControl, type ControlData } from './ops/control.js';
import { assertPurgeablePrefix, formatPurgeReport, openCluster, purgePrefix, shellQuote } from './ops/purge.js';
import { RedisStorage } from './redis/storage.js';
import type { RedlockSingleFlight } from './redis/single-flight.js';
import type { FabricRecord } from './storage/types.js';
import { StorageError } from './errors.js';

export const USAGE = `Usage: syncwheel <command> [options]

Commands:
  status                 table of every fabric (status, last successful sync, next sync, failures, last error)
  sync <id>              ask the running schedulers to sync a fabric now (taken by one replica
                         within its housekeepingInterval, 5 s by default)
  pause <id>             pause one fabric          pause --queue <name>   pause a queue
  pause --all            pause every scheduler of the deployment (maintenance window)
  resume <id> | --queue <name> | --all             lift a pause
  check [--repair]       report stale "syncing" states, off-grid next syncs, unreadable records;
                         --repair fixes them
  purge [--yes]          delete every key of --prefix (records, fences, locks, membership, change
                         log, 0.1 layout too); a dry run that counts them unless --yes. On a Redis
                         Cluster (detected: --redis names any node) every master is scanned

Options:
  --redis <url>          Redis URL (or SYNCWHEEL_REDIS)          e.g. redis://127.0.0.1:6379
  --prefix <prefix>      key prefix of the deployment (or SYNCWHEEL_PREFIX), as given to RedisStorage
  --json                 machine-readable output
  --no-color             no colours (also NO_COLOR=1; FORCE_COLOR=1 forces them)
  --timeout <ms>         bound on connecting and on each Redis command (default 3000)
  --yes                  purge: really delete (SCAN + UNLINK in batches)
  -h, --help             this help
  -v, --version          the syncwheel version

Exit codes: 0 ok; 1 trouble found (unknown fabric or queue, no syncwheel data under the prefix,
unrepaired issues); 2 bad usage (bad flag value, no such database, ioredis not installed);
3 Redis unreachable, too slow (--timeout) or failing.`;

class UsageError extends Error {}
/** Exit 2 without the usage text (the command line was fine; the environment is not). */
class SetupError extends Error {}
/** Exit 1: the command ran and found trouble. */
class TroubleError extends Error {}
/** Exit 3: Redis could not be reached in time, or failed. */
class UnreachableError extends Error {}

/** The package version (dist/cli.js and src/cli.ts both sit one level below package.json). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
  isTTY: boolean;
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
    if (!['status', 'sync', 'pause', 'resume', 'check', 'purge'].includes(command)) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    const url = v.redis ?? io.env['SYNCWHEEL_REDIS'];
    if (!url) throw new UsageError('missing --redis <url> (or SYNCWHEEL_REDIS)');
    const target = parseRedisUrl(url);
    const prefix = v.prefix ?? io.env['SYNCWHEEL_PREFIX'];
    if (command === 'purge' && prefix !== undefined) usable(prefix);
    if (!prefix) throw new UsageError('missing --prefix <prefix> (or SYNCWHEEL_PREFIX)');
    const timeout = v.timeout === undefined ? 3000 : Number(v.timeout);
    if (!/^\d+$/.test(v.timeout ?? '3000') || !Number.isSafeInteger(timeout) || timeout <= 0 || timeout > 2_147_483_647) {
      throw new UsageError(`Expected --timeout to be a positive integer number of ms (at most 2147483647), got ${JSON.stringify(v.timeout)}`);
    }
    if (v.queue !== undefined && v.queue === '') throw new UsageError('Expected --queue to be a queue name, got ""');
    const needsId = command === 'sync' || ((command === 'pause' || command === 'resume') && !v.queue && !v.all);
    if (needsId && rest.length !== 1) throw new UsageError(`${command} needs exactly one fabric id${command === 'sync' ? '' : ' (or --queue <name>, or --all)'}`);
    if (!needsId && rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`);
    if ((v.queue || v.all) && command !== 'pause' && command !== 'resume') throw new UsageError('--queue and --all go with pause and resume');
    if (v.queue && v.all) throw new UsageError('give --queue or --all, not both');
    if (v.repair && command !== 'check') throw new UsageError('--repair goes with check');
    if (v.yes && command !== 'purge') throw new UsageError('--yes goes with purge');
    const colour = !v.json && !v['no-color'] && !io.env['NO_COLOR'] && (io.isTTY || !!io.env['FORCE_COLOR']);
    return await run({ command, id: rest[0], url, target, prefix, timeout, json: v.json, colour, queue: v.queue, all: v.all, repair: v.repair, yes: v.yes, redisFlag: v.redis !== undefined }, io);
  } catch (error) {
    // every expected failure is one line on stderr
    // (the usage text only when no command was given at all: otherwise the one line says it)
    if (error instanceof UsageError) io.err(command ? `syncwheel: ${oneLine(error.message)} (see syncwheel --help)` : `syncwheel: ${oneLine(error.message)}\n\n${USAGE}`);
    else if (error instanceof SetupError || error instanceof TroubleError || error instanceof UnreachableError) io.err(`syncwheel: ${oneLine(error.message)}`);
    else throw error;
    return error instanceof TroubleError ? 1 : error instanceof UnreachableError ? 3 : 2;
  }
}

/** Where `--redis` points: the URL as ioredis takes it (without the database) and the database. */
interface RedisTarget {
  url: string;
  db: number;
}

/** Validates a redis:// or rediss:// URL the way ioredis will read it; bad ones are usage errors. */
export function parseRedisUrl(raw: string): RedisTarget {
  const bad = (why: string) => new UsageError(`Expected --redis to be a redis:// or rediss:// URL${why ? ` (${why})` : ''}, got ${JSON.stringify(raw)}`);
  if (!/^rediss?:\/\//i.test(raw)) throw bad('');
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw bad('not a valid URL');
  }
  if (!u.hostname) throw bad('no host');
  if (u.port !== '' && !(Number(u.port) > 0)) throw bad('port out of range');
  const path = u.pathname.replace(/^\/+|\/+$/g, '');
  if (path !== '' && !/^\d{1,6}$/.test(path)) throw bad('the path must be a database number such as /0');
  const db = path === '' ? 0 : Number(path);
  u.pathname = '';
  return { url: u.toString(), db };
}

function oneLine(s: string): string {
  return show(s.replace(/\s*\n\s*/g, ' ').trim());
}

interface Cmd {
  command: string;
  id: string | undefined;
  url: string;
  target: RedisTarget;
  prefix: string;
  timeout: number;
  json: boolean;
  colour: boolean;
  queue: string | undefined;
  all: boolean;
  repair: boolean;
  yes: boolean;
  /** Whether the URL came from --redis (not SYNCWHEEL_REDIS): purge's dry run repeats it. */
  redisFlag: boolean;
}

/** Loads an optional peer (ioredis, or the Redlock adapter needing redis-semaphore) or says what to install. */
async function load<T>(what: () => Promise<T>, name: string): Promise<T> {
  try {
    return await what();
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const missing = e?.code === 'ERR_SYNCWHEEL_MISSING_PEER' || ((e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') && e.message.includes(`'${name}'`));
    if (missing) throw new SetupError(`this command needs the package "${name}", which is not installed: npm install ${name}`);
    throw error;
  }
}

/** Rejects with an UnreachableError when `promise` has not settled within `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UnreachableError(`${what}: no answer within ${ms} ms (--timeout)`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Connects, proves the server answers and selects the database, all within `--timeout`. */
async function connect(cmd: Cmd): Promise<Redis> {
  const { Redis } = await load(() => import('ioredis'), 'ioredis');
  const where = `Redis at ${redact(cmd.url)}`;
  // no ready check (an INFO with its own wait), no retries, no offline queue: the PING below is
  // the one probe, bounded with the connection by --timeout; later commands by commandTimeout.
  const client = new Redis(cmd.target.url, { lazyConnect: true, db: 0, maxRetriesPerRequest: 0, connectTimeout: cmd.timeout, commandTimeout: cmd.timeout, retryStrategy: () => null, enableOfflineQueue: false, enableReadyCheck: false });
  let lastError: Error | undefined;
  client.on('error', (e: Error) => (lastError = e));
  try {
    await within(
      (async () => {
        try {
          await client.connect();
          await client.ping();
        } catch (error) {
          throw new UnreachableError(`cannot reach ${where}: ${(lastError ?? (error as Error)).message || 'connection failed'}`);
        }
        if (cmd.target.db !== 0) {
          try {
            await client.select(cmd.target.db);
          } catch (error) {
            // never fall back to database 0: that is another deployment's data
            if (/DB index|invalid DB|SELECT is not allowed/i.test((error as Error).message)) throw new SetupError(`${where} has no database ${cmd.target.db}: ${(error as Error).message}`);
            throw new UnreachableError(`${where} failed to select database ${cmd.target.db}: ${(error as Error).message}`);
          }
        }
      })(),
      cmd.timeout,
      `cannot reach ${where}`,
    );
  } catch (error) {
    client.disconnect();
    throw error;
  }
  return client;
}

async function run(cmd: Cmd, io: Io): Promise<number> {
  const client = await connect(cmd);
  if (cmd.command === 'purge') return await purge(client, cmd, io).finally(() => client.disconnect());
  const storage = new RedisStorage({ client, prefix: cmd.prefix });
  let singleFlight: RedlockSingleFlight | undefined;
  try {
    // a mistyped --prefix (or database) must not look like an empty deployment
    if ((await client.scard(storage.keys.ids)) === 0) {
      throw new TroubleError(`no syncwheel data under prefix ${show(JSON.stringify(cmd.prefix))} in database ${cmd.target.db} of ${redact(cmd.url)} (check --prefix and the database in --redis)`);
    }
    switch (cmd.command) {
      case 'status':
        return await status(storage, cmd, io);
      case 'sync': {
        const id = cmd.id!;
        const record = await find(storage, id);
        const at = Date.now();
        await updateControl(storage, (c) => ((c.syncRequests[id] = at), c));
        // Until the scheduler queues a request that arrives mid-run (the fleet issue's requestSync),
        // a replica that takes it while the fabric syncs skips it (sync:skipped, in-flight): say so.
        const syncing = record !== null && record.state.status === 'syncing';
        const since = syncing && record.state.lastAttemptAt !== null ? ` (since ${ago(record.state.lastAttemptAt, at)})` : '';
        if (cmd.json) io.out(JSON.stringify({ requested: id, at, syncing, ...(syncing ? { note: 'mid-run: a request taken before this sync ends is skipped (in-flight)' } : {}) }));
        else if (syncing) io.out(`Sync of ${show(id)} requested, but it is syncing now${since}: a replica that takes the request before this sync ends skips it (in-flight). Run this again once status shows it finished.`);
        else io.out(`Sync of ${show(id)} requested; a running scheduler takes it within its housekeepingInterval.`);
        return 0;
      }
      case 'pause':
      case 'resume': {
        const on = cmd.command === 'pause';
        const id = cmd.id;
        if (id !== undefined) await find(storage, id);
        if (cmd.queue !== undefined) await knownQueue(storage, cmd.queue, !on);
        const at = Date.now();
        await updateControl(storage, (c) => {
          if (cmd.all) c.scheduler = on ? at : null;
          else {
            const map = cmd.queue !== undefined ? c.queues : c.fabrics;
            const key = cmd.queue ?? id!;
            if (on) map[key] = at;
            else delete map[key];
          }
          return c;
        });
        const what = cmd.all ? 'every scheduler' : cmd.queue !== undefined ? `queue ${show(cmd.queue)}` : `fabric ${show(id!)}`;
        io.out(cmd.json ? JSON.stringify({ [cmd.command === 'pause' ? 'paused' : 'resumed']: cmd.all ? 'scheduler' : cmd.queue !== undefined ? { queue: cmd.queue } : { fabric: id } }) : `${on ? 'Paused' : 'Resumed'} ${what}; running schedulers apply it within their housekeepingInterval.`);
        return 0;
      }
      case 'check': {
        const { RedlockSingleFlight } = await load(() => import('./redis/single-flight.js'), 'redis-semaphore');
        const { records } = await storage.list();
        const queues = Object.fromEntries([...new Set(records.map((r) => r.definition.queue))].map((q) => [q, {}]));
        singleFlight = new RedlockSingleFlight({ clients: [client], prefix: cmd.prefix, partition: false });
        const scheduler = createScheduler({ storage, singleFlight, queues, executor: () => undefined, operationTimeout: cmd.timeout });
        const report = cmd.repair ? await scheduler.repair() : await scheduler.validate();
        const open = report.issues.filter((i) => !i.repaired);
        if (cmd.json) io.out(JSON.stringify(report, null, 2));
        else {
          io.out(`Checked ${report.fabrics} fabrics under prefix ${show(cmd.prefix)}: ${report.issues.length === 0 ? 'no issues' : `${report.issues.length} issue(s)`}`);
          for (const i of report.issues) io.out(`  ${i.repaired ? 'repaired' : i.repairable ? 'repairable' : 'not repairable'}  ${i.kind.padEnd(16)} ${show(i.fabricId)}: ${show(i.detail)}`);
          if (open.some((i) => i.repairable) && !cmd.repair) io.out('Run `syncwheel check --repair` to fix the repairable ones.');
        }
        return open.length > 0 ? 1 : 0;
      }
    }
    return 2;
  } catch (error) {
    if (error instanceof TroubleError || error instanceof SetupError || error instanceof UnreachableError) throw error;
    if (error instanceof StorageError || isRedisError(error)) throw new UnreachableError(`Redis at ${redact(cmd.url)} failed: ${(error as Error).message}`);
    throw error;
  } finally {
    await singleFlight?.close().catch(() => undefined);
    client.disconnect();
  }
}

/** A purge prefix refused by purgePrefix is a usage error (exit 2), before Redis is reached. */
function usable(prefix: string): void {
  try {
    assertPurgeablePrefix(prefix);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** `purge`: on a cluster node (INFO cluster) every master is scanned through an ioredis Cluster seeded with it. */
async function purge(client: Redis, cmd: Cmd, io: Io): Promise<number> {
  let cluster: Cluster | undefined;
  try {
    // INFO may be renamed away on managed Redis: then it is taken for a single server
    if (/^cluster_enabled:1\r?$/m.test(await client.info('cluster').catch(() => ''))) {
      if (cmd.target.db !== 0) throw new UsageError(`a Redis Cluster has only database 0, got --redis ${redact(cmd.url)}/${cmd.target.db}`);
      const { Cluster } = await load(() => import('ioredis'), 'ioredis');
      cluster = openCluster(Cluster, cmd.target.url, cmd.timeout);
      const c = cluster;
      await within(new Promise<void>((resolve, reject) => (c.once('ready', resolve), c.once('end', () => reject(new UnreachableError(`cannot reach the cluster at ${redact(cmd.url)}`))))), cmd.timeout, `cannot reach the cluster at ${redact(cmd.url)}`);
    }
    const report = await purgePrefix(cluster ?? client, { prefix: cmd.prefix, dryRun: !cmd.yes });
    const again = `syncwheel purge --prefix ${shellQuote(cmd.prefix)}${cmd.redisFlag ? ` --redis ${shellQuote(redact(cmd.url.replace(/\/$/, '') + (cmd.target.db ? `/${cmd.target.db}` : '')))}` : ''}`;
    if (cmd.json) io.out(JSON.stringify(report, null, 2));
    else for (const line of formatPurgeReport(report, show, again)) io.out(line);
    return !report.dryRun && (report.remaining > 0 || report.errors.count > 0) ? 1 : 0;
  } catch (error) {
    if (error instanceof UsageError || error instanceof UnreachableError || error instanceof SetupError) throw error;
    throw new UnreachableError(`Redis at ${redact(cmd.url)} failed: ${(error as Error).message}`);
  } finally {
    cluster?.disconnect();
  }
}

function isRedisError(error: unknown): boolean {
  return error instanceof Error && /Redis|ECONNREFUSED|Connection is closed|timed out|Stream isn't writeable/i.test(`${error.name} ${error.message}`);
}

/** The fabric's record (null when present but unreadable); a TroubleError when there is none. */
async function find(storage: RedisStorage, id: string): Promise<FabricRecord | null> {
  if (id === CONTROL_RECORD_ID) throw new TroubleError(`unknown fabric ${show(id)}`);
  try {
    const record = await storage.get(id);
    if (record === undefined) throw new TroubleError(`unknown fabric ${show(id)}`);
    return record;
  } catch (error) {
    if (error instanceof StorageError && error.operation === 'read') return null; // unreadable but present
    throw error;
  }
}

/** A queue is known when a stored fabric uses it; `resume` also accepts a queue that is paused now. */
async function knownQueue(storage: RedisStorage, queue: string, orPaused: boolean): Promise<void> {
  const [{ records }, control] = await Promise.all([storage.list(), loadControl(storage)]);
  const inUse = new Set(records.filter((r) => r.definition.id !== CONTROL_RECORD_ID).map((r) => r.definition.queue));
  if (inUse.has(queue) || (orPaused && control.queues[queue] !== undefined)) return;
  const known = [...inUse].sort().map(show).join(', ') || 'none';
  throw new TroubleError(`unknown queue ${show(JSON.stringify(queue))}: no fabric under this prefix uses it (queues in use: ${known})`);
}

async function status(storage: RedisStorage, cmd: Cmd, io: Io): Promise<number> {
  const [{ records, corrupt }, control] = await Promise.all([storage.list(), loadControl(storage)]);
  const now = Date.now();
  const rows: FabricStatus[] = records
    .filter((r) => r.definition.id !== CONTROL_RECORD_ID)
    .map((r) => fabricStatusOf(r, now, isPaused(control, r.definition.id, r.definition.queue), null))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (cmd.json) {
    io.out(JSON.stringify({ at: now, prefix: cmd.prefix, pauses: { scheduler: control.scheduler !== null, queues: Object.keys(control.queues), fabrics: Object.keys(control.fabrics) }, fabrics: rows, unreadable: corrupt.map((c) => ({ id: c.id, reason: c.reason })) }, null, 2));
    return 0;
  }
  const paint = (code: string, s: string) => (cmd.colour ? `\x1b[${code}m${s}\x1b[0m` : s);
  const COLOURS: Record<string, string> = { in_sync: '32', syncing: '36', error: '31', out_of_sync: '33', never_synced: '90', disabled: '90' };
  const header = ['FABRIC', 'QUEUE', 'STATUS', 'LAST SYNC', 'NEXT SYNC', 'FAIL', 'LAST ERROR'];
  const table = rows.map((f) => [show(f.id), show(f.queue), f.status + (f.paused ? ' (paused)' : ''), ago(f.lastSyncAt, now), f.enabled ? until(f.nextSyncAt, now) : 'disabled', String(f.consecutiveFailures), show(f.lastError ?? '').slice(0, 80)]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
  const line = (cells: string[], colourStatus?: string) =>
    cells.map((c, i) => {
      const padded = i === cells.length - 1 ? c : c.padEnd(widths[i]!);
      return i === 2 && colourStatus ? paint(COLOURS[colourStatus] ?? '0', padded) : padded;
    }).join('  ').trimEnd();
  io.out(paint('1', line(header)));
  rows.forEach((f, i) => io.out(line(table[i]!, f.status)));
  const c = control;
  const notes = [`${rows.length} fabric(s) under prefix ${show(cmd.prefix)}`];
  if (c.scheduler !== null) notes.push(paint('35', 'ALL SCHEDULERS PAUSED'));
  if (Object.keys(c.queues).length) notes.push(`paused queues: ${Object.keys(c.queues).map(show).join(', ')}`);
  if (corrupt.length) notes.push(paint('31', `${corrupt.length} unreadable record(s): run syncwheel check`));
  io.out(notes.join(' · '));
  return 0;
}

function isPaused(c: ControlData, id: string, queue: string): boolean {
  return c.scheduler !== null || c.queues[queue] !== undefined || c.fabrics[id] !== undefined;
}

/** Shows untrusted text on a terminal: control characters (escape sequences) become visible escapes. */
function show(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function ago(t: number | null, now: number): string {
  return t === null ? '-' : `${human(now - t)} ago`;
}

function until(t: number | null, now: number): string {
  if (t === null) return '-';
  return t <= now ? 'due' : `in ${human(t - now)}`;
}

function human(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

function redact(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
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
