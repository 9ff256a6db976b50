/**
 * syncwheel: keeps many fabrics synced on a fixed-rate grid, once at a time, with honest status.
 * Every public name is listed here (no `export *`).
 */
export { createScheduler, Scheduler } from './scheduler/scheduler.js';
export { slotAtOrAfter } from './scheduler/grid.js';
export { fabricStatusOf } from './scheduler/fabric-status.js';
export type { ClockStepMode, MissedRunPolicy, Phase, QueueOptions, RateOptions, RetryOptions, SchedulerOptions, StopOptions } from './scheduler/options.js';
export type { ScheduleInput } from './calendar/index.js';
export type { BreakerOptions, BreakerState } from './scheduler/breaker.js';
export type { SyncRequestOutcome } from './scheduler/requests.js';
export type { Executor, FabricStatus, UpsertCounts, PauseTarget, StateIssue, StateReport, SyncContext, ValidateOptions } from './scheduler/types.js';
export type { ReconcileResult } from './scheduler/reconcile.js';
export type {
  BacklogClearedEvent,
  BreakerClosedEvent,
  BreakerOpenedEvent,
  ClockJumpEvent,
  ErrorEvent,
  FabricChangedEvent,
  FabricStaleEvent,
  FailureReason,
  MissedReason,
  PauseChangedEvent,
  PauseScope,
  SchedulerEvents,
  SkipReason,
  StateIssueKind,
  StateRepairedEvent,
  StatusChangedEvent,
  SyncFailedEvent,
  SyncMissedEvent,
  SyncResult,
  SyncSkippedEvent,
  SyncStartedEvent,
  SyncSucceededEvent,
  SyncTrigger,
} from './events.js';
export { DEFAULT_QUEUE, MAX_DURATION_MS, MAX_FABRIC_ID_LENGTH, MAX_METADATA_DEPTH, MAX_METADATA_SIZE, MAX_QUEUE_NAME_LENGTH, normalizeFabric, parseDuration } from './definition.js';
export { MAX_TIMESTAMP_MS, checkListResult, checkRecord, checkWriteResult } from './storage/check-record.js';
export type { Fabric, FabricDefinition } from './definition.js';
export {
  ClockSkewError,
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
export { MAX_TIMER_DELAY, setLongTimeout, systemClock } from './clock.js';
export type { Clock, TimerHandle } from './clock.js';
export { TimingWheel } from './wheel.js';
export type { TimingWheelOptions, WheelEntry } from './wheel.js';
export { MemoryStorage } from './storage/memory.js';
export type { MemoryStorageOptions } from './storage/memory.js';
export { initialState } from './storage/types.js';
export { HISTORY_ERROR_MAX, decodeHistoryEntry, encodeHistoryEntry } from './storage/history.js';
export type { HistoryAppend, RunHistoryEntry } from './storage/history.js';
export { HistoryUnsupportedError } from './scheduler/history.js';
export { MAX_HISTORY_SIZE } from './scheduler/options.js';
export type { HistoryQuery } from './scheduler/history.js';
export type { BatchWrite, ChangePage, ClaimInfo, ClaimRefusal, CorruptRecord, FabricRecord, FabricState, FabricWrite, ListPage, Storage, StorageChange, WriteOptions, WriteResult } from './storage/types.js';
export { InProcessSingleFlight } from './single-flight.js';
export type { AcquireOptions, Lease, LeaseProof, SingleFlight } from './single-flight.js';
export { HISTOGRAM_BOUNDS_MS, METRIC_NAMES } from './metrics.js';
export type { HistogramSnapshot, MetricsSnapshot, QueueMetrics, RunCounts } from './metrics.js';
export { CONTROL_RECORD_ID, RESERVED_ID_PREFIX, loadControl, updateControl } from './ops/control.js';
export type { ControlData } from './ops/control.js';
export { ACTION_HEADER, createStatusHandler, escapeHtml } from './ops/status-page.js';
export { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './ops/status-snapshot.js';
export type { FabricPage, FabricQuery, FabricSort } from './ops/status-snapshot.js';
export type { StatusHandler, StatusHandlerOptions } from './ops/status-page.js';
