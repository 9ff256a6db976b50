/**
 * Every error syncwheel throws or reports is one of these classes, each carrying the data a
 * caller needs to act on it (check with `instanceof`).
 */

/** Base class of all syncwheel errors. */
export class SyncwheelError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A fabric definition (or one of its fields) was refused. Nothing was changed. */
export class InvalidFabricError extends SyncwheelError {
  /** The offending field (`'id'`, `'syncInterval'`, …), or `'definition'` for the whole value. */
  readonly field: string;
  /** The value that arrived. */
  readonly value: unknown;
  /** The fabric id, when one could be read. */
  readonly fabricId: string | undefined;
  constructor(field: string, expected: string, value: unknown, fabricId?: string) {
    super(`Expected ${field} to be ${expected}, got ${describe(value)}${fabricId !== undefined ? ` (fabric ${JSON.stringify(truncate(fabricId))})` : ''}`);
    this.field = field;
    this.value = value;
    this.fabricId = fabricId;
  }
}

/** An option passed to `createScheduler` (or an adapter) was refused. */
export class InvalidOptionError extends SyncwheelError {
  readonly option: string;
  readonly value: unknown;
  constructor(option: string, expected: string, value: unknown) {
    super(`Expected ${option} to be ${expected}, got ${describe(value)}`);
    this.option = option;
    this.value = value;
  }
}

/** An operation named a fabric that the scheduler's storage does not hold. */
export class UnknownFabricError extends SyncwheelError {
  readonly fabricId: string;
  constructor(fabricId: string) {
    super(`Unknown fabric ${JSON.stringify(truncate(fabricId))}`);
    this.fabricId = fabricId;
  }
}

/** `syncNow` was called for a disabled fabric. */
export class FabricDisabledError extends SyncwheelError {
  readonly fabricId: string;
  constructor(fabricId: string) {
    super(`Fabric ${JSON.stringify(truncate(fabricId))} is disabled`);
    this.fabricId = fabricId;
  }
}

/** A status change that the transition table does not allow: a bug, never a user error. */
export class IllegalTransitionError extends SyncwheelError {
  readonly fabricId: string;
  readonly from: string;
  readonly to: string;
  constructor(fabricId: string, from: string, to: string) {
    super(`Illegal status transition ${from} -> ${to} for fabric ${JSON.stringify(truncate(fabricId))}`);
    this.fabricId = fabricId;
    this.from = from;
    this.to = to;
  }
}

/** The reason `ctx.signal` is aborted when a run exceeds its `syncTimeout`. */
export class SyncTimeoutError extends SyncwheelError {
  readonly fabricId: string;
  readonly timeoutMs: number;
  constructor(fabricId: string, timeoutMs: number) {
    super(`Sync of fabric ${JSON.stringify(truncate(fabricId))} timed out after ${timeoutMs} ms`);
    this.fabricId = fabricId;
    this.timeoutMs = timeoutMs;
  }
}

/** The reason `ctx.signal` is aborted when the run is cut short by the scheduler itself. */
export class SyncAbortedError extends SyncwheelError {
  readonly fabricId: string;
  /** Why: the scheduler stopped, the fabric was removed or disabled, or its lock was lost. */
  readonly reason: 'shutdown' | 'removed' | 'disabled' | 'lock-lost';
  constructor(fabricId: string, reason: SyncAbortedError['reason'], options?: { cause?: unknown }) {
    super(`Sync of fabric ${JSON.stringify(truncate(fabricId))} aborted: ${reason}`, options);
    this.fabricId = fabricId;
    this.reason = reason;
  }
}

/** A storage adapter failed or returned data it could not read. */
export class StorageError extends SyncwheelError {
  readonly operation: string;
  readonly fabricId: string | undefined;
  constructor(operation: string, message: string, options?: { cause?: unknown; fabricId?: string }) {
    super(`Storage ${operation} failed: ${message}`, options);
    this.operation = operation;
    this.fabricId = options?.fabricId;
  }
}

/**
 * A claim was refused because the claimer's wall clock (`ClaimInfo.at`) is further from the
 * storage's clock (RedisStorage: Redis `TIME`) than the storage allows (`maxClockSkew`). The
 * scheduler stands down: it reports the error, leaves the single-flight's membership (so other
 * replicas take its fabrics) and takes no locks and makes no claims, probing once per
 * `operationTimeout`, until a claim succeeds again. Thrown by storages; `syncwheel/redis`
 * re-exports it.
 */
export class ClockSkewError extends StorageError {
  /** Claimer's time minus Redis time, ms (positive: the claimer is ahead). */
  readonly skewMs: number;
  /** The bound that was exceeded, ms. */
  readonly maxClockSkew: number;
  constructor(fabricId: string, skewMs: number, maxClockSkew: number, clockOf = "the storage's") {
    super(
      'write',
      `claim of fabric ${JSON.stringify(fabricId.length > 200 ? `${fabricId.slice(0, 200)}…` : fabricId)} refused: this process' clock is ${skewMs} ms ${skewMs >= 0 ? 'ahead of' : 'behind'} ${clockOf} clock (maxClockSkew ${maxClockSkew} ms)`,
      { fabricId },
    );
    this.skewMs = skewMs;
    this.maxClockSkew = maxClockSkew;
  }
}

/** Stored state for one fabric could not be read; the fabric starts over as never synced. */
export class CorruptStateError extends StorageError {
  readonly raw: unknown;
  constructor(fabricId: string, raw: unknown, reason: string) {
    super('read', `unreadable record for fabric ${JSON.stringify(truncate(fabricId))}: ${reason}`, { fabricId });
    this.raw = raw;
  }
}

/** Turns whatever an executor threw into a message string. */
export function errorMessage(error: unknown): string {
  // Never throws: a hostile thrown value (throwing toString, a Proxy) must not break the run's bookkeeping.
  try {
    if (error instanceof Error) return error.message || error.name;
    if (typeof error === 'string') return error;
    try {
      const json = JSON.stringify(error);
      if (json !== undefined) return truncate(json, 2000);
    } catch {
      // fall through
    }
    return String(error);
  } catch {
    return 'a thrown value that cannot be read';
  }
}

/** Converts a thrown value into an Error, keeping the original as `cause`. Never throws. */
export function toError(error: unknown): Error {
  let isError = false;
  try {
    isError = error instanceof Error;
  } catch {
    // a Proxy whose getPrototypeOf throws
  }
  return isError ? (error as Error) : new Error(errorMessage(error), { cause: error });
}

function truncate(s: string, max = 200): string {
  return s.length > max ? `${s.slice(0, max)}…(${s.length} chars)` : s;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return `string ${JSON.stringify(truncate(value, 60))}`;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

/** An operation that needs a running scheduler was called before `start()` or after `stop()`. */
export class SchedulerNotRunningError extends SyncwheelError {
  readonly operation: string;
  constructor(operation: string) {
    super(`Cannot ${operation}: the scheduler is not running (call start() first)`);
    this.operation = operation;
  }
}
