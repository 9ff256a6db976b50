import { StorageError, SyncwheelError } from '../errors.js';

/**
 * The lock service (one Redis, or too many Redlock masters for a quorum) could not be reached,
 * or answered too late for the lock to be worth anything. The run is not made.
 */
export class LockUnavailableError extends SyncwheelError {
  readonly fabricId: string;
  constructor(fabricId: string, message: string, options?: { cause?: unknown }) {
    super(`Lock for fabric ${JSON.stringify(fabricId.length > 200 ? `${fabricId.slice(0, 200)}…` : fabricId)} unavailable: ${message}`, options);
    this.fabricId = fabricId;
  }
}

/**
 * The reason a lease's `signal` is aborted: its lock was lost. `how` says how it was noticed:
 * `'refresh'` (Redis says someone else holds it, or the key is gone) or `'expired'` (no
 * extension was confirmed in time, e.g. Redis unreachable: the lock may have expired).
 */
export class LockLostError extends SyncwheelError {
  readonly fabricId: string;
  readonly how: 'refresh' | 'expired';
  constructor(fabricId: string, how: 'refresh' | 'expired', options?: { cause?: unknown }) {
    super(
      `Lock for fabric ${JSON.stringify(fabricId.length > 200 ? `${fabricId.slice(0, 200)}…` : fabricId)} lost: ${how === 'refresh' ? 'Redis no longer holds it for us' : 'no extension confirmed before it would expire'}`,
      options,
    );
    this.fabricId = fabricId;
    this.how = how;
  }
}

export { ClockSkewError } from '../errors.js';

/**
 * Redis' `maxmemory-policy` may evict syncwheel's keys (reported by `RedisStorage.warnings()`,
 * which the scheduler turns into an `error` event at start). `allkeys-*`: any key, records and
 * fences included (a fabric is forgotten, a fence counter lost). `volatile-*`: keys with a TTL:
 * locks (two holders at once), tombstones (a removed fabric can be re-created by a stale replica)
 * and the membership set. Use `noeviction`, or a Redis of its own for syncwheel.
 */
export class RedisEvictionWarning extends SyncwheelError {
  /** The `maxmemory-policy` found. */
  readonly policy: string;
  constructor(policy: string) {
    super(
      policy.startsWith('allkeys')
        ? `Redis maxmemory-policy is ${policy}: under memory pressure Redis may evict any syncwheel key (fabric records, fence counters, the change log, locks); use noeviction`
        : `Redis maxmemory-policy is ${policy}: under memory pressure Redis may evict syncwheel's keys that carry a TTL (fabric locks: two holders at once; tombstones: a removed fabric re-created; replica membership); use noeviction`,
    );
    this.policy = policy;
  }
}
