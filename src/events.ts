import type { SyncStatus } from './status.js';

/** What started a run. */
export type SyncTrigger = 'schedule' | 'catch-up' | 'retry' | 'manual';

/** Why a failed run failed. */
export type FailureReason = 'error' | 'timeout' | 'aborted' | 'lock-lost';

/** Why a due run was not made. */
export type SkipReason =
  /** The fabric is already syncing (or queued) in this scheduler. */
  | 'in-flight'
  /** Another holder (another replica) has the fabric's lock. */
  | 'locked'
  /** Storage shows the slot was already claimed (by another replica). */
  | 'already-claimed'
  /** The lock service or storage could not be reached; the run is never made without its claim. */
  | 'unavailable'
  /** The scheduler stopped, or the fabric was removed or disabled, before the run began. */
  | 'cancelled'
  /** The fabric, its queue or the whole scheduler was paused while the run waited for a lane. */
  | 'paused'
  /** The failure breaker holds the fabric until its next probe (seen in the storage at the claim). */
  | 'breaker';

/** Why grid slots went unserved. */
export type MissedReason =
  /** A run lasted past them. */
  | 'overrun'
  /** The scheduler was not running when they came due. */
  | 'downtime'
  /** The process woke late (event-loop stall, long backlog) and the policy dropped them. */
  | 'late'
  /** They came due while the fabric, its queue or the scheduler was paused (counted on resume). */
  | 'paused'
  /** `clearBacklog()` dropped the run that was waiting to serve them. */
  | 'cleared'
  /** They were older than the catch-up window (`catchUpWindow`) when seen, whatever the policy. */
  | 'catch-up-window';

export interface StatusChangedEvent {
  fabricId: string;
  from: SyncStatus;
  to: SyncStatus;
  /** Epoch ms. */
  at: number;
}

export interface SyncStartedEvent {
  fabricId: string;
  /** The slot served, epoch ms (the request time for a manual run). */
  scheduledAt: number;
  startedAt: number;
  /**
   * Start minus the time the run was due, ms: the slot for scheduled and catch-up runs, the
   * backoff time for a retry, the request for a manual run.
   */
  lateness: number;
  attempt: number;
  fencingToken: number;
  trigger: SyncTrigger;
}

export interface SyncSucceededEvent extends SyncStartedEvent {
  finishedAt: number;
  durationMs: number;
}

export interface SyncFailedEvent extends SyncStartedEvent {
  finishedAt: number;
  durationMs: number;
  /** What the executor threw (non-Error values are wrapped, the original kept as `cause`). */
  error: Error;
  reason: FailureReason;
  /** When the retry is due, `null` when the next try is the next regular slot. */
  nextRetryAt: number | null;
}

export interface SyncSkippedEvent {
  fabricId: string;
  scheduledAt: number;
  trigger: SyncTrigger;
  reason: SkipReason;
}

export interface SyncMissedEvent {
  fabricId: string;
  /** Number of grid slots not served. */
  count: number;
  /** Earliest and latest slot missed, epoch ms. */
  firstSlotAt: number;
  lastSlotAt: number;
  reason: MissedReason;
}

/**
 * A fabric's last success became older than its staleness bound (`maxStaleness`, by default
 * 2 × `syncInterval` or the last two occurrences of its schedule). Emitted once per crossing, by
 * the scheduler running it, when it next looks at the fabric (its next slot or retry, a run's
 * end) or by its freshness sweep (see docs/operations.md#freshness for the bound). A success makes
 * it fresh again.
 */
export interface FabricStaleEvent {
  fabricId: string;
  /** Its last successful sync, epoch ms. */
  lastSyncAt: number;
  /** When it crossed its bound, epoch ms. */
  staleSince: number;
  /** When the scheduler saw it, epoch ms (`at - staleSince` is how late the event is). */
  at: number;
}

export interface FabricChangedEvent {
  fabricId: string;
  /**
   * True when the change was made by another scheduler sharing the storage (seen through its
   * change feed, a listing or a refused claim), not through this one. Absent otherwise.
   */
  remote?: true;
}

export interface ClockJumpEvent {
  /** Wall-clock step seen, ms (positive: forward). Every due time was moved by it. */
  skewMs: number;
  at: number;
}

export interface ErrorEvent {
  error: Error;
  /** What the scheduler was doing: `'storage'`, `'lock'`, `'listener'`, `'load'`, … */
  operation: string;
  fabricId?: string;
}

/** What a pause or resume applies to. */
export type PauseScope = 'scheduler' | 'queue' | 'fabric';

export interface PauseChangedEvent {
  scope: PauseScope;
  /** The queue name or fabric id (absent for the whole scheduler). */
  target?: string;
  /** `true` when the change came from another replica (or the CLI) through the storage. */
  remote: boolean;
  at: number;
}

export interface BacklogClearedEvent {
  /** The queue cleared, or undefined for every queue. */
  queue?: string;
  /** Runs dropped. */
  count: number;
  at: number;
}

/** A fabric went behind the failure breaker (option `breaker`): from now on it is only probed. */
export interface BreakerOpenedEvent {
  fabricId: string;
  /** Consecutive failed runs. */
  failures: number;
  /** Wait before the next probe, ms. */
  probeInterval: number;
  /** The next probe (a slot of its grid), epoch ms. */
  nextProbeAt: number;
  at: number;
}

/** A fabric behind the breaker succeeded: it is back on its grid. */
export interface BreakerClosedEvent {
  fabricId: string;
  /** Consecutive failed runs before the success. */
  failures: number;
  at: number;
}

/** A problem found in stored state by `validate()` (and fixed by `repair()` when it can be). */
export type StateIssueKind =
  /** Stored `syncing` with no live claim: whoever ran it is gone. */
  | 'stale-syncing'
  /** `nextSyncAt` is not a slot of the fabric's grid (`anchorAt + k * syncInterval`) nor a retry. */
  | 'off-grid'
  /** A record for a fabric no host defines (see `validate({ definedIds })`). */
  | 'undefined-fabric'
  /** The fabric names a queue this scheduler does not configure (it runs in `'default'`). */
  | 'unknown-queue'
  /** The record cannot be read. */
  | 'unreadable';

export interface StateRepairedEvent {
  fabricId: string;
  issue: StateIssueKind;
  /** What was done, in words. */
  action: string;
  at: number;
}

/** The scheduler's events, as an eventemitter3 object map. */
export interface SchedulerEvents {
  'status:changed': (event: StatusChangedEvent) => void;
  'sync:started': (event: SyncStartedEvent) => void;
  'sync:succeeded': (event: SyncSucceededEvent) => void;
  'sync:failed': (event: SyncFailedEvent) => void;
  'sync:skipped': (event: SyncSkippedEvent) => void;
  'sync:missed': (event: SyncMissedEvent) => void;
  'fabric:stale': (event: FabricStaleEvent) => void;
  'fabric:added': (event: FabricChangedEvent) => void;
  'fabric:updated': (event: FabricChangedEvent) => void;
  'fabric:removed': (event: FabricChangedEvent) => void;
  'clock:jump': (event: ClockJumpEvent) => void;
  /** A fabric, a queue or the whole scheduler was paused (here, or seen in the storage). */
  paused: (event: PauseChangedEvent) => void;
  resumed: (event: PauseChangedEvent) => void;
  'backlog:cleared': (event: BacklogClearedEvent) => void;
  /** A fabric went behind the failure breaker (on the replica that recorded the failure). */
  'breaker:opened': (event: BreakerOpenedEvent) => void;
  /** A fabric behind the breaker succeeded and is back on its grid. */
  'breaker:closed': (event: BreakerClosedEvent) => void;
  /** Stored state was repaired (by `repair()` or the automatic stale-`syncing` check). */
  'state:repaired': (event: StateRepairedEvent) => void;
  error: (event: ErrorEvent) => void;
}

/** The outcome of one run request (what `syncNow` resolves to), tagged by `status`. */
export type SyncResult =
  | ({ status: 'succeeded' } & SyncSucceededEvent)
  | ({ status: 'failed' } & SyncFailedEvent)
  | ({ status: 'skipped' } & SyncSkippedEvent);
