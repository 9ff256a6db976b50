/**
 * Run history, scheduler side: the entry a finished run appends (written with its outcome, in
 * the same storage write: `WriteOptions.history`), and `getFabricHistory`'s read.
 */
import { InvalidOptionError, StorageError, errorMessage } from '../errors.js';
import { HISTORY_ERROR_MAX, historyError, type RunHistoryEntry } from '../storage/history.js';

export type { RunHistoryEntry };
import type { WriteOptions } from '../storage/types.js';
import type { Core } from './core.js';
import { MAX_HISTORY_SIZE } from './options.js';
import type { Outcome, Run } from './run.js';

/** What the outcome write of `run` hands to the storage; `undefined` when history is off (no work). */
export function historyWrite(core: Core, run: Run, outcome: Outcome, finishedAt: number, durationMs: number): { readonly options: WriteOptions } | undefined {
  const keep = core.opts.historySize;
  if (keep === 0) return undefined;
  const replica = core.opts.singleFlight.replicaId;
  const entry: RunHistoryEntry =
    outcome.kind === 'ok'
      ? { scheduledAt: run.startedSlot!, startedAt: run.startedAt!, finishedAt, trigger: run.trigger, outcome: 'succeeded', durationMs, fencingToken: run.fencingToken! }
      : { scheduledAt: run.startedSlot!, startedAt: run.startedAt!, finishedAt, trigger: run.trigger, outcome: 'failed', reason: outcome.reason, error: historyError(errorMessage(outcome.error)), durationMs, fencingToken: run.fencingToken! };
  return { options: { history: { entry: typeof replica === 'string' && replica !== '' ? { ...entry, replica } : entry, keep } } };
}

/** The error `getFabricHistory` throws when the storage keeps no history (no `readHistory`). */
export class HistoryUnsupportedError extends StorageError {
  constructor() {
    super('readHistory', 'this storage keeps no run history (it has no readHistory method)');
  }
}

/** Options of `scheduler.getFabricHistory`. */
export interface HistoryQuery {
  /**
   * Most entries to return (newest first), 1 to 1,000.
   * @default the scheduler's `historySize` (20 when it is 0)
   */
  limit?: number;
}

/**
 * `scheduler.getFabricHistory(id, { limit })`: the fabric's last runs (newest first, at most
 * `limit`) read from the storage, so runs of every replica show; `[]` for an unknown fabric;
 * `HistoryUnsupportedError` when the storage keeps no history. Checked arguments, a read bounded
 * by `operationTimeout`, every entry checked.
 */
export async function readFabricHistory(core: Core, id: unknown, query: HistoryQuery | undefined): Promise<RunHistoryEntry[]> {
  if (typeof id !== 'string' || id.length === 0) throw new InvalidOptionError('id', 'a non-empty fabric id string', id);
  if (query !== undefined && (query === null || typeof query !== 'object')) throw new InvalidOptionError('options', 'an object', query);
  const limit = query?.limit ?? (core.opts.historySize || 20);
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_HISTORY_SIZE) throw new InvalidOptionError('limit', `an integer from 1 to ${MAX_HISTORY_SIZE}`, query?.limit);
  const storage = core.opts.storage;
  if (typeof storage.readHistory !== 'function') throw new HistoryUnsupportedError();
  const raw: unknown = await core.io.bound('readHistory', storage.readHistory(id, limit), id);
  if (!Array.isArray(raw)) throw new StorageError('readHistory', `readHistory answered ${typeof raw}, not an array`, { fabricId: id });
  return raw.slice(0, limit).map((e: unknown, i) => checkEntry(id, e, i));
}

const NUMBERS = ['scheduledAt', 'startedAt', 'finishedAt', 'durationMs', 'fencingToken'] as const;

/** An entry from any adapter, checked (a typed `StorageError` naming the field, never a TypeError later). */
function checkEntry(id: string, e: unknown, i: number): RunHistoryEntry {
  const bad = (field: string, value: unknown) =>
    new StorageError('readHistory', `history entry ${i} of fabric ${JSON.stringify(id)}: bad ${field} ${String(JSON.stringify(value)).slice(0, 100)}`, { fabricId: id });
  if (e === null || typeof e !== 'object') throw bad('entry', e);
  const r = e as Record<string, unknown>;
  for (const f of NUMBERS) if (typeof r[f] !== 'number' || !Number.isFinite(r[f])) throw bad(f, r[f]);
  if (r['outcome'] !== 'succeeded' && r['outcome'] !== 'failed') throw bad('outcome', r['outcome']);
  if (typeof r['trigger'] !== 'string') throw bad('trigger', r['trigger']);
  for (const f of ['reason', 'error', 'replica'] as const) if (r[f] !== undefined && typeof r[f] !== 'string') throw bad(f, r[f]);
  if (typeof r['error'] === 'string' && r['error'].length > HISTORY_ERROR_MAX) return { ...(r as unknown as RunHistoryEntry), error: historyError(r['error']) };
  return r as unknown as RunHistoryEntry;
}
