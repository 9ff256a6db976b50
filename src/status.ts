import { IllegalTransitionError } from './errors.js';

/** Every sync status a fabric can have. */
export const SYNC_STATUSES = ['never_synced', 'syncing', 'in_sync', 'out_of_sync', 'error', 'disabled'] as const;
export type SyncStatus = (typeof SYNC_STATUSES)[number];

/** A status's index in {@link SYNC_STATUSES} (how MemoryStorage, a runtime and the gauges keep it as a number). */
export function statusIndex(status: SyncStatus): number {
  switch (status) {
    case 'never_synced':
      return 0;
    case 'syncing':
      return 1;
    case 'in_sync':
      return 2;
    case 'out_of_sync':
      return 3;
    case 'error':
      return 4;
    default:
      return 5;
  }
}

/**
 * The transition table: the only status changes the scheduler makes. Anything else is a bug
 * and throws {@link IllegalTransitionError}.
 *
 * - `syncing` is entered only from a resting status, and left only by the run's outcome
 *   (`in_sync`, `error`), by disabling, or by restoring the status it had before an aborted run.
 * - `out_of_sync` is derived from `lastSyncAt` (older than twice the interval); the stored
 *   status moves there only when the scheduler notices the staleness. It reads `in_sync` again
 *   without a run only when a longer interval makes the last success recent enough.
 * - `disabled` is reachable from everywhere and goes back to the status the history implies.
 */
export const TRANSITIONS = {
  never_synced: ['syncing', 'disabled'],
  syncing: ['in_sync', 'error', 'disabled', 'never_synced', 'out_of_sync'],
  in_sync: ['syncing', 'out_of_sync', 'disabled'],
  out_of_sync: ['syncing', 'disabled', 'in_sync'],
  error: ['syncing', 'disabled'],
  disabled: ['never_synced', 'in_sync', 'out_of_sync', 'error'],
} as const satisfies Record<SyncStatus, readonly SyncStatus[]>;

/** True when the table allows `from -> to` (staying put is always allowed). */
export function canTransition(from: SyncStatus, to: SyncStatus): boolean {
  return from === to || (TRANSITIONS[from] as readonly SyncStatus[]).includes(to);
}

/** Throws {@link IllegalTransitionError} unless the table allows `from -> to`. */
export function assertTransition(fabricId: string, from: SyncStatus, to: SyncStatus): void {
  if (!canTransition(from, to)) throw new IllegalTransitionError(fabricId, from, to);
}

export function isSyncStatus(value: unknown): value is SyncStatus {
  return typeof value === 'string' && (SYNC_STATUSES as readonly string[]).includes(value);
}

/**
 * The status a reader should see for an interval fabric with the default staleness rule: a
 * stored `in_sync` whose last success is older than twice the interval reads `out_of_sync`.
 */
export function effectiveStatus(stored: SyncStatus, lastSyncAt: number | null, syncInterval: number, now: number): SyncStatus {
  return statusGiven(stored, lastSyncAt, now - 2 * syncInterval);
}

/**
 * The status a reader should see given the fabric's staleness threshold (`Cadence.staleBefore(now)`):
 * a stored `in_sync` whose last success is before `staleBefore` reads `out_of_sync`.
 */
export function statusGiven(stored: SyncStatus, lastSyncAt: number | null, staleBefore: number): SyncStatus {
  if (stored === 'in_sync' && lastSyncAt !== null && lastSyncAt < staleBefore) return 'out_of_sync';
  return stored;
}

/**
 * The resting status implied by history, used when a fabric is re-enabled or a run is abandoned
 * (`staleBefore` as in {@link statusGiven}).
 */
export function restingStatus(lastSyncAt: number | null, consecutiveFailures: number, staleBefore: number): SyncStatus {
  if (consecutiveFailures > 0) return 'error';
  if (lastSyncAt === null) return 'never_synced';
  return lastSyncAt < staleBefore ? 'out_of_sync' : 'in_sync';
}
