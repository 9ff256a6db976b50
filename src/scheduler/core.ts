/**
 * What the scheduler's modules share: resolved options, the time authority, storage I/O,
 * guarded events, metrics, pauses and the table of fabric runtimes. Built once by the facade and
 * handed down; no module below the facade calls back up into it.
 */
import type { MissedReason, SchedulerEvents, SkipReason, SyncResult, SyncSkippedEvent } from '../events.js';
import type { SyncStatus } from '../status.js';
import type { StorageIO } from './cas.js';
import type { Emit } from './emitter.js';
import type { FabricRuntime } from './fabric-runtime.js';
import type { FabricGauges } from './gauges.js';
import type { Queue } from './lanes.js';
import type { RunMetrics } from './metrics-observer.js';
import type { ResolvedOptions } from './options.js';
import type { Pauses } from './pauses.js';
import type { Run } from './run.js';
import type { SchedulerTime } from './time.js';
import type { MissedSlots } from './catch-up.js';
import type { StandDown } from './stand-down.js';

export type Lifecycle = 'idle' | 'starting' | 'running' | 'stopping';

export interface Core {
  readonly opts: ResolvedOptions;
  readonly time: SchedulerTime;
  readonly io: StorageIO;
  readonly emit: Emit;
  readonly reportError: (operation: string, error: unknown, fabricId?: string) => void;
  /** Whether anyone listens to `event` (payloads are built only then). */
  readonly hasListeners: (event: keyof SchedulerEvents) => boolean;
  readonly metrics: RunMetrics;
  readonly pauses: Pauses;
  /** One runtime per fabric id this scheduler schedules (read-only here: runtimes come and go through `gauges`). */
  readonly fabrics: ReadonlyMap<string, FabricRuntime>;
  /** The fabric gauges; they add and forget runtimes (see gauges.ts). */
  readonly gauges: FabricGauges;
  /** The facade's lifecycle state. */
  lifecycle(): Lifecycle;
  /** Looks for a wall-clock step (at every wake: timers, host calls, a run's awaits). */
  observeClock(): void;
  /**
   * Forgets a fabric another scheduler sharing the storage removed (its tombstone was seen):
   * stops it here and emits `fabric:removed` with `remote: true`. The storage is not touched.
   */
  removedElsewhere(id: string): void;
  /** Standing down while this process' clock disagrees with the storage's (see stand-down.ts). */
  readonly standDown: StandDown;
}

/** Emits `status:changed` when the status really changed and someone listens. */
export function emitStatus(core: Core, fabricId: string, from: SyncStatus, to: SyncStatus, at: number): void {
  if (from !== to && core.hasListeners('status:changed')) core.emit('status:changed', { fabricId, from, to, at });
}

/** Counts and reports slots not served. */
export function reportMissed(core: Core, fabricId: string, queue: Queue, missed: MissedSlots | null, reason: MissedReason): void {
  if (missed === null || missed.count <= 0) return;
  core.metrics.missed(queue, reason, missed.count);
  core.emit('sync:missed', { fabricId, count: missed.count, firstSlotAt: missed.first, lastSlotAt: missed.last, reason });
}

/** The skipped result of a run (what `syncNow` resolves to). */
export function skippedResult(fabricId: string, scheduledAt: number, trigger: SyncSkippedEvent['trigger'], reason: SkipReason): Extract<SyncResult, { status: 'skipped' }> {
  return { status: 'skipped', fabricId, scheduledAt, trigger, reason };
}

/** Counts and reports a run not made, and answers its `syncNow` callers. */
export function reportSkipped(core: Core, run: Run, reason: SkipReason, emit = true): void {
  const result = skippedResult(run.rt.fabric.id, run.scheduledAt, run.trigger, reason);
  if (emit) {
    core.metrics.skipped(run.queue, reason);
    core.emit('sync:skipped', { fabricId: result.fabricId, scheduledAt: result.scheduledAt, trigger: result.trigger, reason });
  }
  finishWaiters(run, result);
}

/** Answers the run's `syncNow` callers. */
export function finishWaiters(run: Run, result: SyncResult): void {
  const waiters = run.waiters;
  if (!waiters) return;
  run.waiters = undefined;
  for (const resolve of waiters) resolve(result);
}
