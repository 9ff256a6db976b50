/**
 * syncwheel: keeps many fabrics synced on a fixed-rate grid, once at a time, with honest status.
 * Every public name is listed here (no `export *`).
 */
export { createScheduler, Scheduler, slotAtOrAfter } from './scheduler.js';
export type {
  Executor,
  FabricStatus,
  MissedRunPolicy,
  RetryOptions,
  SchedulerOptions,
  StopOptions,
  SyncContext,
} from './scheduler.js';
export type {
  ClockJumpEvent,
  ErrorEvent,
  FabricChangedEvent,
  FailureReason,
  MissedReason,
  SchedulerEvents,
  SkipReason,
  StatusChangedEvent,
  SyncFailedEvent,
  SyncMissedEvent,
  SyncResult,
  SyncSkippedEvent,
  SyncStartedEvent,
  SyncSucceededEvent,
  SyncTrigger,
} from './events.js';
export { MAX_FABRIC_ID_LENGTH, normalizeFabric, parseDuration } from './definition.js';
export type { Fabric, FabricDefinition } from './definition.js';
export {
  CorruptStateError,
  FabricDisabledError,
  IllegalTransitionError,
  InvalidFabricError,
  InvalidOptionError,
  SchedulerNotRunningError,
  StorageError,
  SyncAbortedError,
  SyncTimeoutError,
  SyncwheelError,
  UnknownFabricError,
} from './errors.js';
export { SYNC_STATUSES, TRANSITIONS, canTransition, effectiveStatus } from './status.js';
export type { SyncStatus } from './status.js';
export { MAX_TIMER_DELAY, systemClock } from './clock.js';
export type { Clock, TimerHandle } from './clock.js';
export { TimingWheel } from './wheel.js';
export type { TimingWheelOptions, WheelEntry } from './wheel.js';
export { MemoryStorage } from './storage/memory.js';
export { initialState } from './storage/types.js';
export type { CorruptRecord, FabricRecord, FabricState, FabricWrite, Storage, WriteResult } from './storage/types.js';
export { InProcessSingleFlight } from './single-flight.js';
export type { AcquireOptions, Lease, SingleFlight } from './single-flight.js';
