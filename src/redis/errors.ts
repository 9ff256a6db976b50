import { SyncwheelError } from '../errors.js';

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
