/**
 * Checking and repairing stored state: stale `syncing` left by a holder that is gone, an
 * off-grid `nextSyncAt`, records of fabrics no host defines, unknown queues, unreadable records.
 * Needs storage, a single-flight and a clock reading, not a running scheduler.
 */
import { InvalidOptionError } from '../errors.js';
import type { EventPayload } from './emitter.js';
import { CONTROL_RECORD_ID } from '../ops/control.js';
import type { SingleFlight } from '../single-flight.js';
import type { CorruptRecord, FabricRecord } from '../storage/types.js';
import { isThenable, type StorageIO } from './cas.js';
import { cadenceOf } from './cadence.js';
import { isOffGrid, regridState, restoreState } from './transitions.js';
import type { StateIssue, StateReport, ValidateOptions } from './types.js';
import type { SyncStatus } from '../status.js';

export interface StateCheckDeps {
  readonly io: StorageIO;
  readonly singleFlight: SingleFlight;
  readonly lockTtl: number;
  now(): number;
  hasQueue(name: string): boolean;
  /** Whether a run of `id` is in flight in this process. */
  isRunningHere(id: string): boolean;
  /** Deletes a fabric (its record and, in a scheduler, its runtime). */
  removeFabric(id: string): Promise<unknown>;
  statusChanged(id: string, from: SyncStatus, to: SyncStatus, at: number): void;
  repaired(event: EventPayload<'state:repaired'>): void;
  reportError(operation: string, error: unknown, fabricId?: string): void;
}

/** Reads `validate`/`repair` options, refusing what would be misread (a string is not a list of ids). */
export function readValidateOptions(options: unknown): Set<string> | undefined {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object { definedIds? }', options);
  for (const key of Object.keys(options)) if (key !== 'definedIds') throw new InvalidOptionError(key, 'absent (known options: definedIds)', (options as Record<string, unknown>)[key]);
  const ids = (options as ValidateOptions).definedIds;
  if (ids === undefined) return undefined;
  if (typeof ids === 'string' || ids === null || typeof ids !== 'object' || typeof (ids as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw new InvalidOptionError('definedIds', 'an iterable (array, Set) of fabric id strings', ids);
  }
  const out = new Set<string>();
  for (const id of ids as Iterable<unknown>) {
    if (typeof id !== 'string') throw new InvalidOptionError('definedIds', 'an iterable of fabric id strings', id);
    out.add(id);
  }
  return out;
}

/**
 * Restores the resting status of a record stuck in `syncing` if no live claim exists: holds the
 * fabric's lock meanwhile, and writes only if no run claimed the record since (same fencing
 * token). `'check'` only tells whether it is stale.
 */
export async function repairStale(deps: StateCheckDeps, r: FabricRecord, how: 'automatic' | 'repair' | 'check'): Promise<'repaired' | 'live' | 'unknown' | 'stale'> {
  const id = r.definition.id;
  if (deps.isRunningHere(id)) return 'live';
  let lease;
  try {
    const acquired = deps.singleFlight.acquire(id, { ttl: deps.lockTtl });
    lease = isThenable(acquired) ? await deps.io.bound('lock', acquired, id) : acquired;
  } catch (error) {
    if (how !== 'check') deps.reportError('lock', error, id);
    return 'unknown';
  }
  if (!lease) return 'live';
  try {
    if (how === 'check') return 'stale';
    const now = deps.now();
    let to: SyncStatus | undefined;
    const written = await deps.io.update(id, (current) => {
      const next = restoreState(current, r.state.fencingToken, now);
      to = next?.to;
      return next ? { definition: current!.definition, state: next.state } : null;
    }, undefined);
    if (!written || to === undefined) return 'live';
    deps.statusChanged(id, 'syncing', to, now);
    deps.repaired({ fabricId: id, issue: 'stale-syncing', action: `status syncing -> ${to} (no live claim)`, at: now });
    return 'repaired';
  } finally {
    try {
      const released = lease.release();
      if (released) await deps.io.bound('lock', released, id);
    } catch (error) {
      deps.reportError('lock', error, id);
    }
  }
}

/** `validate()` (fix false) and `repair()` (fix true). */
export async function checkState(deps: StateCheckDeps, options: ValidateOptions, fix: boolean): Promise<StateReport> {
  const defined = readValidateOptions(options);
  const now = deps.now();
  const issues: StateIssue[] = [];
  let fabrics = 0;
  // A page at a time (a million records are never objects at once); a listing may give a record
  // twice (`Storage.listPage` is at-least-once): each id is checked once.
  const seen = new Set<string>();
  for await (const { records, corrupt } of deps.io.listPages()) {
    for (const bad of corrupt) {
      if (bad.id === CONTROL_RECORD_ID || seen.has(bad.id)) continue;
      seen.add(bad.id);
      await checkCorrupt(deps, bad, fix, now, issues);
    }
    for (const r of records) {
      const id = r.definition.id;
      if (id === CONTROL_RECORD_ID || seen.has(id)) continue;
      seen.add(id);
      fabrics++;
      const pending = checkRecord(deps, r, defined, fix, now, issues);
      if (pending !== undefined) await pending;
    }
  }
  return { checkedAt: now, fabrics, issues };
}

/** An unreadable record: reported, and deleted with `fix`. */
async function checkCorrupt(deps: StateCheckDeps, bad: CorruptRecord, fix: boolean, now: number, issues: StateIssue[]): Promise<void> {
  const issue: StateIssue = { fabricId: bad.id, kind: 'unreadable', detail: bad.reason, repairable: true, repaired: false };
  if (fix) {
    try {
      await deps.io.delete(bad.id);
      issue.repaired = true;
      deps.repaired({ fabricId: bad.id, issue: 'unreadable', action: 'record deleted', at: now });
    } catch (error) {
      deps.reportError('storage', error, bad.id);
    }
  }
  issues.push(issue);
}

/**
 * One readable record: each kind of issue it has, repaired with `fix` where it can be. A promise
 * only when there is storage or lock work to wait for (most records have no issue).
 */
function checkRecord(deps: StateCheckDeps, r: FabricRecord, defined: ReadonlySet<string> | undefined, fix: boolean, now: number, issues: StateIssue[]): Promise<void> | undefined {
  const id = r.definition.id;
  if (defined && !defined.has(id)) return undefinedFabric(deps, id, fix, now, issues);
  if (!deps.hasQueue(r.definition.queue)) {
    issues.push({ fabricId: id, kind: 'unknown-queue', detail: `queue ${JSON.stringify(r.definition.queue)} is not configured here (its runs use "default")`, repairable: false, repaired: false });
  }
  if (r.state.status === 'syncing') return staleSyncing(deps, r, fix, issues);
  if (isOffGrid(r)) return offGrid(deps, r, fix, now, issues);
  return undefined;
}

async function undefinedFabric(deps: StateCheckDeps, id: string, fix: boolean, now: number, issues: StateIssue[]): Promise<void> {
  const issue: StateIssue = { fabricId: id, kind: 'undefined-fabric', detail: 'no host defines this fabric', repairable: true, repaired: false };
  if (fix) {
    await deps.removeFabric(id);
    issue.repaired = true;
    deps.repaired({ fabricId: id, issue: 'undefined-fabric', action: 'record deleted', at: now });
  }
  issues.push(issue);
}

async function staleSyncing(deps: StateCheckDeps, r: FabricRecord, fix: boolean, issues: StateIssue[]): Promise<void> {
  const verdict = await repairStale(deps, r, fix ? 'repair' : 'check');
  if (verdict === 'stale' || verdict === 'repaired') {
    issues.push({ fabricId: r.definition.id, kind: 'stale-syncing', detail: `stored "syncing" since ${new Date(r.state.lastAttemptAt ?? 0).toISOString()} but nobody holds its lock`, repairable: true, repaired: verdict === 'repaired' });
  }
}

async function offGrid(deps: StateCheckDeps, r: FabricRecord, fix: boolean, now: number, issues: StateIssue[]): Promise<void> {
  const id = r.definition.id;
  const issue: StateIssue = { fabricId: id, kind: 'off-grid', detail: offGridDetail(r), repairable: true, repaired: false };
  if (fix) {
    const written = await deps.io.update(id, (current) => {
      if (!current || current.version !== r.version) return null;
      const state = regridState(current.state, current.definition, now);
      return state ? { definition: current.definition, state } : null;
    }, undefined);
    if (written) {
      issue.repaired = true;
      deps.repaired({ fabricId: id, issue: 'off-grid', action: `nextSyncAt -> ${written.state.nextSyncAt}`, at: now });
    }
  }
  issues.push(issue);
}

/** What an off-grid record's issue says. */
function offGridDetail(r: FabricRecord): string {
  const s = r.state;
  const c = cadenceOf(r.definition);
  if (c.kind === 'interval') return `nextSyncAt ${s.nextSyncAt} is not anchorAt ${s.anchorAt} + k * ${c.interval}`;
  return `nextSyncAt ${s.nextSyncAt} is neither anchorAt ${s.anchorAt} nor a slot of ${c.label} after it`;
}
