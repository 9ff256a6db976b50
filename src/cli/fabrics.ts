/**
 * The commands that work on a deployment's fabrics through its `RedisStorage`: `status`, `sync`,
 * `history`, `pause`, `resume` and `check`. Each refuses a prefix with no syncwheel data (exit 1).
 */
import type { Redis } from 'ioredis';
import { createScheduler } from '../scheduler/scheduler.js';
import { CONTROL_RECORD_ID, loadControl, updateControl } from '../ops/control.js';
import { storeRequest } from '../scheduler/requests.js';
import { RedisStorage } from '../redis/storage.js';
import type { RedlockSingleFlight } from '../redis/single-flight.js';
import type { FabricRecord } from '../storage/types.js';
import { StorageError } from '../errors.js';
import { isRedisError, load } from './redis.js';
import { SetupError, TroubleError, UnreachableError, ago, redact, show, type Cmd, type Io } from './shared.js';
import { history } from './history.js';
import { status } from './status.js';

/** Runs `cmd` on `client` (connected; disconnected here once done). */
export async function fabricCommand(client: Redis, cmd: Cmd, io: Io): Promise<number> {
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
      case 'sync':
        return await sync(storage, cmd, io);
      case 'history':
        return await history(storage, cmd, io);
      case 'pause':
      case 'resume':
        return await pauseResume(storage, cmd, io);
      case 'check': {
        const { RedlockSingleFlight } = await load(() => import('../redis/single-flight.js'), 'redis-semaphore');
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

async function sync(storage: RedisStorage, cmd: Cmd, io: Io): Promise<number> {
  const id = cmd.id!;
  await find(storage, id);
  const at = Date.now();
  // Stored with the fabric (as scheduler.requestSync does): whoever runs it serves it.
  const { outcome, record } = await storeRequest(storage, id, at);
  if (outcome === 'absent' || !record) throw new TroubleError(`unknown fabric ${show(id)}`);
  const syncing = record.state.status === 'syncing';
  const result = outcome === 'coalesced' ? 'coalesced' : syncing ? 'queued' : 'requested';
  const since = syncing && record.state.lastAttemptAt !== null ? ` (since ${ago(record.state.lastAttemptAt, at)})` : '';
  const pending = record.state.requestedAt ?? at;
  if (cmd.json) io.out(JSON.stringify({ requested: id, at, result, syncing, ...(outcome === 'coalesced' ? { pendingSince: pending } : {}) }));
  else if (result === 'coalesced') io.out(`Sync of ${show(id)} was already requested (${ago(pending, at)}) and not yet served: one run serves both.`);
  else if (syncing) io.out(`Sync of ${show(id)} queued: it is syncing now${since}; one follow-up run starts when that run ends.`);
  else io.out(`Sync of ${show(id)} requested; the scheduler that runs it starts it within its housekeepingInterval.`);
  return 0;
}

async function pauseResume(storage: RedisStorage, cmd: Cmd, io: Io): Promise<number> {
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
