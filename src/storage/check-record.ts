/**
 * Checks what a storage adapter answers before the scheduler uses it. Any adapter (memory, Redis,
 * a host's own) can return anything; these functions turn every malformed answer into a typed
 * error or a `corrupt` entry, never a `TypeError` deep inside the scheduler.
 *
 * They run on every storage answer, so a record that was already checked and cannot change
 * (frozen, data properties only, its definition built by `normalizeFabric`) is remembered in a
 * WeakSet: checking it again costs one lookup. RedisStorage builds frozen records, so it takes
 * that path; a scheduler on the built-in MemoryStorage skips these checks (cas.ts, TRUSTED_CHECKS).
 */
import { normalizeFabric, type Fabric } from '../definition.js';
import { CorruptStateError, InvalidFabricError, StorageError, errorMessage } from '../errors.js';
import { isSyncStatus } from '../status.js';
import type { ClaimRefusal, CorruptRecord, FabricRecord, FabricState, WriteResult } from './types.js';

/** Largest magnitude of a stored timestamp, ms: the `Date` range (±8.64e15). */
export const MAX_TIMESTAMP_MS = 8.64e15;

/** Records that passed {@link checkRecord} and cannot change since. */
const TRUSTED = new WeakSet<object>();

const TIMESTAMPS = ['lastSyncAt', 'lastAttemptAt', 'anchorAt', 'lastSlotAt', 'nextSyncAt'] as const;
const COUNTERS = ['consecutiveFailures', 'fencingToken'] as const;
const STATE_KEYS = ['status', 'lastError', ...TIMESTAMPS, ...COUNTERS] as const;
const RECORD_KEYS = ['definition', 'state', 'version'] as const;

/**
 * Validates one record read from (or returned by) a storage for fabric `id`: an object with a
 * valid `definition` (the rules of `normalizeFabric`, its id equal to `id`), a `state` (status one
 * of `SYNC_STATUSES`; `lastSyncAt`, `lastAttemptAt`, `anchorAt`, `lastSlotAt`, `nextSyncAt` null
 * or finite numbers within ±{@link MAX_TIMESTAMP_MS}; `consecutiveFailures` and `fencingToken`
 * non-negative safe integers; `lastError` a string or null; `requestedAt` absent or a timestamp) and a positive safe-integer `version`.
 *
 * Returns the record itself when it is frozen with data properties only, otherwise a frozen copy of
 * what was read. Throws {@link CorruptStateError} (whose message gives the reason) otherwise.
 */
export function checkRecord(id: string, value: unknown): FabricRecord {
  const checked = validateRecord(id, value);
  if (typeof checked === 'string') throw new CorruptStateError(id, value, checked);
  return checked;
}

/**
 * Validates the answer of `Storage.write`: `{ ok: true, record }` with a valid record, or
 * `{ ok: false, current }` with `current` undefined or a valid record. Anything else (`{ ok: true }`
 * without a record, a record of another fabric, a non-boolean `ok`) throws `StorageError` with
 * `operation: 'write'` and `fabricId`.
 */
export function checkWriteResult(id: string, value: unknown): WriteResult {
  let ok: unknown;
  let payload: unknown;
  let refused: unknown;
  try {
    if (typeof value !== 'object' || value === null) return badWrite(id, `expected { ok: true, record } or { ok: false, current }, got ${show(value)}`);
    ok = (value as { ok?: unknown }).ok;
    if (ok !== true && ok !== false) return badWrite(id, `expected ok to be true or false, got ${show(ok)}`);
    payload = ok ? (value as { record?: unknown }).record : (value as { current?: unknown }).current;
    refused = ok ? undefined : (value as { refused?: unknown }).refused;
  } catch (error) {
    if (error instanceof StorageError) throw error;
    return badWrite(id, `its answer could not be read: ${errorMessage(error)}`, error);
  }
  if (ok) {
    if (payload === undefined) return badWrite(id, 'answered { ok: true } without a record');
    const record = validateRecord(id, payload);
    return typeof record === 'string' ? badWrite(id, `answered { ok: true } with an unreadable record: ${record}`) : { ok: true, record };
  }
  if (refused !== undefined && refused !== 'lease-lost' && refused !== 'removed') return badWrite(id, `expected refused to be 'lease-lost', 'removed' or absent, got ${show(refused)}`);
  const why = refused === undefined ? {} : { refused: refused as ClaimRefusal };
  if (payload === undefined) return { ok: false, current: undefined, ...why };
  const current = validateRecord(id, payload);
  return typeof current === 'string' ? badWrite(id, `answered { ok: false } with an unreadable current record: ${current}`) : { ok: false, current, ...why };
}

/**
 * Validates the answer of `Storage.list`. Valid records are kept (one per id: the highest
 * version); invalid ones move to `corrupt` with their reason, after the adapter's own `corrupt`
 * entries. A record whose `definition.id` cannot be read is reported under the id `''` (which no
 * fabric can have). An answer that is not `{ records: [], corrupt?: [] }` throws `StorageError`
 * with `operation: 'list'`.
 */
export function checkListResult(value: unknown): { records: FabricRecord[]; corrupt: CorruptRecord[] } {
  let rawRecords: unknown[];
  let rawCorrupt: unknown[];
  try {
    if (typeof value !== 'object' || value === null) throw new StorageError('list', `expected { records, corrupt }, got ${show(value)}`);
    const { records, corrupt } = value as { records?: unknown; corrupt?: unknown };
    if (!Array.isArray(records)) throw new StorageError('list', `expected records to be an array, got ${show(records)}`);
    if (corrupt !== undefined && !Array.isArray(corrupt)) throw new StorageError('list', `expected corrupt to be an array or absent, got ${show(corrupt)}`);
    rawRecords = Array.from(records as unknown[]);
    rawCorrupt = corrupt === undefined ? [] : Array.from(corrupt as unknown[]);
  } catch (error) {
    if (error instanceof StorageError) throw error;
    throw new StorageError('list', `its answer could not be read: ${errorMessage(error)}`, { cause: error });
  }
  const corrupt: CorruptRecord[] = rawCorrupt.map(readCorruptEntry);
  const byId = new Map<string, FabricRecord>();
  rawRecords.forEach((raw, i) => {
    const id = readId(raw);
    if (id === undefined) {
      corrupt.push({ id: '', raw, reason: `records[${i}] has no readable definition.id` });
      return;
    }
    const record = validateRecord(id, raw);
    if (typeof record === 'string') corrupt.push({ id, raw, reason: record });
    else if ((byId.get(id)?.version ?? 0) < record.version) byId.set(id, record);
  });
  return { records: [...byId.values()], corrupt };
}

/** The record, or the reason it is refused. Never throws. */
function validateRecord(id: string, value: unknown): FabricRecord | string {
  if (typeof value === 'object' && value !== null && TRUSTED.has(value)) {
    const defId = (value as FabricRecord).definition.id;
    return defId === id ? (value as FabricRecord) : `definition.id ${show(defId)} does not match the requested id`;
  }
  try {
    return validateUntrusted(id, value);
  } catch (error) {
    return `reading it threw: ${errorMessage(error)}`;
  }
}

function validateUntrusted(id: string, value: unknown): FabricRecord | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `expected an object { definition, state, version }, got ${show(value)}`;
  const { definition, state, version } = value as Record<string, unknown>;
  if (!(typeof version === 'number' && Number.isSafeInteger(version) && version > 0)) return `expected version to be a positive safe integer, got ${show(version)}`;
  let fabric: Fabric;
  try {
    fabric = normalizeFabric(definition, { syncTimeout: 0 });
  } catch (error) {
    return `bad definition: ${error instanceof InvalidFabricError ? error.message : errorMessage(error)}`;
  }
  if (fabric.id !== id) return `definition.id ${show(fabric.id)} does not match the requested id`;
  if (typeof state !== 'object' || state === null || Array.isArray(state)) return `expected state to be an object, got ${show(state)}`;
  const s = state as Record<string, unknown>;
  const bad = stateProblem(s);
  if (bad !== null) return bad;
  const fresh = {} as Record<string, unknown>;
  for (const key of STATE_KEYS) fresh[key] = s[key];
  if (typeof s['requestedAt'] === 'number') fresh['requestedAt'] = s['requestedAt'];
  // Keep the adapter's own object when nothing about it can change any more; else a frozen copy.
  if (definition === fabric && Object.isFrozen(value) && Object.isFrozen(state) && dataOnly(value, RECORD_KEYS) && dataOnly(state, STATE_KEYS) && (!('requestedAt' in state) || dataOnly(state, ['requestedAt']))) {
    TRUSTED.add(value);
    return value as FabricRecord;
  }
  const copy: FabricRecord = Object.freeze({ definition: fabric, state: Object.freeze(fresh as unknown as FabricState), version });
  TRUSTED.add(copy);
  return copy;
}

/**
 * What is wrong with a fabric state (status one of `SYNC_STATUSES`, timestamps null or within the
 * Date range, counters non-negative safe integers, `lastError` a string or null), or null when
 * nothing is. Cheap (no allocation): `MemoryStorage.write` runs it on every write.
 */
export function stateProblem(s: Readonly<Record<string, unknown>>): string | null {
  const status = s['status'];
  if (!isSyncStatus(status)) return `expected state.status to be one of SYNC_STATUSES, got ${show(status)}`;
  const lastError = s['lastError'];
  if (lastError !== null && typeof lastError !== 'string') return `expected state.lastError to be a string or null, got ${show(lastError)}`;
  // Each field read by name (not in a loop over names): this runs on every MemoryStorage write.
  const state = s as Readonly<Record<(typeof TIMESTAMPS)[number] | (typeof COUNTERS)[number], unknown>>;
  if (!isTimestamp(state.lastSyncAt)) return timestampProblem('lastSyncAt', state.lastSyncAt);
  if (!isTimestamp(state.lastAttemptAt)) return timestampProblem('lastAttemptAt', state.lastAttemptAt);
  if (!isTimestamp(state.anchorAt)) return timestampProblem('anchorAt', state.anchorAt);
  if (!isTimestamp(state.lastSlotAt)) return timestampProblem('lastSlotAt', state.lastSlotAt);
  if (!isTimestamp(state.nextSyncAt)) return timestampProblem('nextSyncAt', state.nextSyncAt);
  if (!isCounter(state.consecutiveFailures)) return counterProblem('consecutiveFailures', state.consecutiveFailures);
  if (!isCounter(state.fencingToken)) return counterProblem('fencingToken', state.fencingToken);
  const requested = s['requestedAt'];
  if (requested !== undefined && !isTimestamp(requested)) {
    return `expected state.requestedAt to be absent or a number of ms within ±8.64e15 (the Date range), got ${show(requested)}`;
  }
  return null;
}

function isTimestamp(v: unknown): boolean {
  return v === null || (typeof v === 'number' && v >= -MAX_TIMESTAMP_MS && v <= MAX_TIMESTAMP_MS);
}

function isCounter(v: unknown): boolean {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function timestampProblem(key: string, v: unknown): string {
  return `expected state.${key} to be null or a number of ms within ±8.64e15 (the Date range), got ${show(v)}`;
}

function counterProblem(key: string, v: unknown): string {
  return `expected state.${key} to be a non-negative safe integer, got ${show(v)}`;
}

/** True when every one of `keys` is an own data property (not a getter that could answer differently later). */
function dataOnly(obj: object, keys: readonly string[]): boolean {
  for (const key of keys) {
    const d = Object.getOwnPropertyDescriptor(obj, key);
    if (d === undefined || !('value' in d)) return false;
  }
  return true;
}

function readId(raw: unknown): string | undefined {
  try {
    const id = (raw as { definition?: { id?: unknown } } | null)?.definition?.id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

function readCorruptEntry(entry: unknown, i: number): CorruptRecord {
  try {
    const { id, raw, reason } = entry as { id?: unknown; raw?: unknown; reason?: unknown };
    if (typeof id === 'string') return { id, raw, reason: typeof reason === 'string' ? reason : 'unreadable (the storage gave no reason)' };
  } catch {
    // fall through
  }
  return { id: '', raw: entry, reason: `corrupt[${i}] is not { id, raw, reason }` };
}

function badWrite(id: string, message: string, cause?: unknown): never {
  throw new StorageError('write', `the storage's answer for fabric ${show(id)} is not a write result: ${message}`, cause === undefined ? { fabricId: id } : { cause, fabricId: id });
}

/** A short, never-throwing description of a value for a reason text. */
function show(value: unknown): string {
  try {
    if (value === undefined) return 'undefined';
    if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' || typeof value === 'symbol') return String(value);
    if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
    if (typeof value === 'function') return 'a function';
    if (value === null) return 'null';
    return Array.isArray(value) ? 'an array' : 'an object';
  } catch {
    return 'a value that cannot be inspected';
  }
}
