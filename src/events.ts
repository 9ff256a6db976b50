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
  | 'cancelled';

/** Why grid slots went unserved. */
export type MissedReason =
  /** A run lasted past them. */
  | 'overrun'
  /** The scheduler was not running when they came due. */
  | 'downtime'
  /** The process woke late (event-loop stall, long backlog) and the policy dropped them. */
  | 'late';

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
  /** `startedAt - scheduledAt`, ms. */
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

export interface FabricChangedEvent {
  fabricId: string;
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

/** The scheduler's events, as an eventemitter3 object map. */
export interface SchedulerEvents {
  'status:changed': (event: StatusChangedEvent) => void;
  'sync:started': (event: SyncStartedEvent) => void;
  'sync:succeeded': (event: SyncSucceededEvent) => void;
  'sync:failed': (event: SyncFailedEvent) => void;
  'sync:skipped': (event: SyncSkippedEvent) => void;
  'sync:missed': (event: SyncMissedEvent) => void;
  'fabric:added': (event: FabricChangedEvent) => void;
  'fabric:updated': (event: FabricChangedEvent) => void;
  'fabric:removed': (event: FabricChangedEvent) => void;
  'clock:jump': (event: ClockJumpEvent) => void;
  error: (event: ErrorEvent) => void;
}

/** The outcome of one run request (what `syncNow` resolves to), tagged by `status`. */
export type SyncResult =
  | ({ status: 'succeeded' } & SyncSucceededEvent)
  | ({ status: 'failed' } & SyncFailedEvent)
  | ({ status: 'skipped' } & SyncSkippedEvent);
