#!/usr/bin/env node
/**
 * The `syncwheel` command: look at and steer the schedulers of a deployment through their Redis
 * storage, without being one of them.
 *
 *   syncwheel status --redis redis://127.0.0.1:6379 --prefix myapp [--json]
 *   syncwheel sync <id> | pause [<id> | --queue <name> | --all] | resume [...] | check [--repair]
 *
 * Exit codes: 0 done; 1 the command ran but found trouble (unknown fabric, `check` found
 * issues it did not repair); 2 bad usage; 3 Redis could not be reached or answered with an error.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createScheduler } from './scheduler/scheduler.js';
import { fabricStatusOf } from './scheduler/fabric-status.js';
import type { FabricStatus } from './scheduler/types.js';
import { CONTROL_RECORD_ID, loadControl, updateControl, type ControlData } from './ops/control.js';
import { RedisStorage } from './redis/storage.js';
import { RedlockSingleFlight } from './redis/single-flight.js';
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

Options:
  --redis <url>          Redis URL (or SYNCWHEEL_REDIS)          e.g. redis://127.0.0.1:6379
  --prefix <prefix>      key prefix of the deployment (or SYNCWHEEL_PREFIX), as given to RedisStorage
  --json                 machine-readable output
  --no-color             no colours (also NO_COLOR=1; FORCE_COLOR=1 forces them)
  --timeout <ms>         connect and command timeout (default 3000)
  -h, --help             this help

Exit codes: 0 ok, 1 trouble found (unknown fabric, unrepaired issues), 2 bad usage, 3 Redis unreachable.`;

class UsageError extends Error {}

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
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    io.err(`syncwheel: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values: v, positionals } = parsed;
  if (v.help) {
    io.out(USAGE);
    return 0;
  }
  const [command, ...rest] = positionals;
  try {
    if (!command) throw new UsageError('missing command');
    if (!['status', 'sync', 'pause', 'resume', 'check'].includes(command)) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    const url = v.redis ?? io.env['SYNCWHEEL_REDIS'];
    if (!url) throw new UsageError('missing --redis <url> (or SYNCWHEEL_REDIS)');
    if (!/^rediss?:\/\//.test(url)) throw new UsageError(`Expected --redis to be a redis:// or rediss:// URL, got ${JSON.stringify(url)}`);
    const prefix = v.prefix ?? io.env['SYNCWHEEL_PREFIX'];
    if (!prefix) throw new UsageError('missing --prefix <prefix> (or SYNCWHEEL_PREFIX)');
    const timeout = v.timeout === undefined ? 3000 : Number(v.timeout);
    if (!Number.isSafeInteger(timeout) || timeout <= 0) throw new UsageError(`Expected --timeout to be a positive integer number of ms, got ${JSON.stringify(v.timeout)}`);
    const needsId = command === 'sync' || ((command === 'pause' || command === 'resume') && !v.queue && !v.all);
    if (needsId && rest.length !== 1) throw new UsageError(`${command} needs exactly one fabric id${command === 'sync' ? '' : ' (or --queue <name>, or --all)'}`);
    if (!needsId && rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`);
    if ((v.queue || v.all) && command !== 'pause' && command !== 'resume') throw new UsageError('--queue and --all go with pause and resume');
    if (v.queue && v.all) throw new UsageError('give --queue or --all, not both');
    if (v.repair && command !== 'check') throw new UsageError('--repair goes with check');
    const colour = !v.json && !v['no-color'] && !io.env['NO_COLOR'] && (io.isTTY || !!io.env['FORCE_COLOR']);
    return await run({ command, id: rest[0], url, prefix, timeout, json: v.json, colour, queue: v.queue, all: v.all, repair: v.repair }, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`syncwheel: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
}

interface Cmd {
  command: string;
  id: string | undefined;
  url: string;
  prefix: string;
  timeout: number;
  json: boolean;
  colour: boolean;
  queue: string | undefined;
  all: boolean;
  repair: boolean;
}

async function run(cmd: Cmd, io: Io): Promise<number> {
  const client = new Redis(cmd.url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: cmd.timeout, commandTimeout: cmd.timeout, retryStrategy: () => null, enableOfflineQueue: false });
  let lastError: Error | undefined;
  client.on('error', (e: Error) => (lastError = e));
  try {
    await client.connect();
  } catch (error) {
    io.err(`syncwheel: cannot reach Redis at ${redact(cmd.url)}: ${(lastError ?? (error as Error)).message || 'connection failed'}`);
    client.disconnect();
    return 3;
  }
  const storage = new RedisStorage({ client, prefix: cmd.prefix });
  let singleFlight: RedlockSingleFlight | undefined;
  try {
    switch (cmd.command) {
      case 'status':
        return await status(storage, cmd, io);
      case 'sync': {
        const id = cmd.id!;
        if (!(await exists(storage, id))) return unknown(id, io);
        const at = Date.now();
        await updateControl(storage, (c) => ((c.syncRequests[id] = at), c));
        io.out(cmd.json ? JSON.stringify({ requested: id, at }) : `Sync of ${show(id)} requested; a running scheduler takes it within its housekeepingInterval.`);
        return 0;
      }
      case 'pause':
      case 'resume': {
        const on = cmd.command === 'pause';
        const id = cmd.id;
        if (id !== undefined && !(await exists(storage, id))) return unknown(id, io);
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
        const { records } = await storage.list();
        const queues = Object.fromEntries([...new Set(records.map((r) => r.definition.queue))].map((q) => [q, {}]));
        singleFlight = new RedlockSingleFlight({ clients: [client], prefix: cmd.prefix, partition: false });
        const scheduler = createScheduler({ storage, singleFlight, queues, executor: () => undefined });
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
    if (error instanceof StorageError || isRedisError(error)) {
      io.err(`syncwheel: Redis at ${redact(cmd.url)} failed: ${(error as Error).message}`);
      return 3;
    }
    throw error;
  } finally {
    await singleFlight?.close().catch(() => undefined);
    client.disconnect();
  }
}

function isRedisError(error: unknown): boolean {
  return error instanceof Error && /Redis|ECONNREFUSED|Connection is closed|timed out|Stream isn't writeable/i.test(`${error.name} ${error.message}`);
}

async function exists(storage: RedisStorage, id: string): Promise<boolean> {
  if (id === CONTROL_RECORD_ID) return false;
  try {
    return (await storage.get(id)) !== undefined;
  } catch (error) {
    if (error instanceof StorageError && error.operation === 'read') return true; // unreadable but present
    throw error;
  }
}

function unknown(id: string, io: Io): number {
  io.err(`syncwheel: unknown fabric ${show(id)}`);
  return 1;
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
  main(process.argv.slice(2), {
    out: (s) => process.stdout.write(`${s}\n`),
    err: (s) => process.stderr.write(`${s}\n`),
    env: process.env,
    isTTY: process.stdout.isTTY === true,
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`syncwheel: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
