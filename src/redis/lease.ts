/**
 * One lease of `RedlockSingleFlight`: a redis-semaphore mutex (one Redis) or Redlock mutex
 * (several masters) on a fabric's lock resource, extended while held, with a watchdog that
 * aborts the lease's signal once no acquire or extension has been confirmed for the lock's
 * validity (`ttl - drift`).
 *
 * Every deadline here is measured on the monotonic side of the `Clock` (`monotonicReader`): a
 * wall-clock step on the holder (NTP, VM resume) neither stretches nor shortens a lease. Redis
 * measures the key's TTL on its own clock from when it processed the command, which is after
 * the moment we read before sending it, so `confirmedAt + validity` always ends before the key
 * can expire (less the drift allowance for clock rate differences).
 */
import type * as RedisSemaphore from 'redis-semaphore';
import type { LockOptions } from 'redis-semaphore';
import { monotonicReader, type Clock, type TimerHandle } from '../clock.js';
import { toError } from '../errors.js';
import type { Lease, LeaseProof } from '../single-flight.js';
import { LockLostError, LockUnavailableError } from './errors.js';
import { requirePeer } from '../peer.cjs';

// An optional peer dependency of syncwheel/redis: loaded here so a missing one says what to install.
const { Mutex, RedlockMutex } = requirePeer<typeof RedisSemaphore>('redis-semaphore', 'syncwheel/redis', 'ioredis redis-semaphore');

/** The client surface RedlockSingleFlight uses: an ioredis `Redis` (or ioredis-mock). */
export type RedlockClient = Pick<import('ioredis').Redis, 'eval' | 'evalsha' | 'get' | 'set' | 'zrem'>;

/** A Redlock lease: its signal aborts when the lock is lost. */
export interface RedlockLease extends Lease {
  readonly signal: AbortSignal;
  /**
   * The value this holder wrote to the lock key (on every master with Redlock): redis-semaphore's
   * random identifier. Another holder's lock never carries it.
   */
  readonly holder: string;
  /**
   * With one Redis: `{ key: keys.lock(fabricId), value: holder }`, which `RedisStorage` checks in
   * the claim script. Undefined with Redlock over several masters (no single key proves a quorum).
   */
  readonly proof?: LeaseProof;
  /**
   * Milliseconds (monotonic) left before the lock may have expired without us knowing: the
   * validity after the last confirmed acquire or extension, minus the time since. 0 once the
   * lease is lost or released.
   */
  remaining(): number;
  release(): Promise<void>;
}

/** What {@link acquireLease} needs from its `RedlockSingleFlight`. */
export interface LeaseParams {
  fabricId: string;
  clients: readonly RedlockClient[];
  resource: string;
  /** The proof's key (single client only): where redis-semaphore stores `resource`. */
  lockKey: string;
  ttl: number;
  refreshInterval: number;
  driftFactor: number;
  clock: Clock;
  /** Called once when the lease ends (released or lost). */
  onEnd: () => void;
}

/** A monotonic reader and the confirmation time shared by the tracked mutexes. */
interface Tracking {
  readonly now: () => number;
  confirmedAt: number;
  refreshError: Error | undefined;
}

/** Mutex that remembers when Redis last confirmed it, and rides out a failed extension until the watchdog says the lock may be gone. */
class TrackedMutex extends Mutex {
  constructor(client: RedlockClient, key: string, options: LockOptions, readonly tracking: Tracking) {
    super(client as never, key, options);
  }
  protected override async _refresh(): Promise<boolean> {
    const t = this.tracking;
    const sent = t.now();
    try {
      const ok = await super._refresh();
      if (ok) t.confirmedAt = Math.max(t.confirmedAt, sent);
      return ok;
    } catch (error) {
      // Unreachable: the lock is still ours until confirmedAt + validity; the watchdog aborts before that.
      t.refreshError = toError(error);
      return true;
    }
  }
}

/** RedlockMutex that remembers when a quorum last confirmed it (failures are lock loss: the library releases on failure). */
class TrackedRedlockMutex extends RedlockMutex {
  constructor(clients: readonly RedlockClient[], key: string, options: LockOptions, readonly tracking: Tracking) {
    super(clients as never, key, options);
  }
  protected override async _refresh(): Promise<boolean> {
    const t = this.tracking;
    const sent = t.now();
    const ok = await super._refresh();
    if (ok) t.confirmedAt = Math.max(t.confirmedAt, sent);
    return ok;
  }
}

/**
 * Tries once to take the lock. Resolves to a lease, to undefined when another holder has it, or
 * rejects with `LockUnavailableError` (Redis or a quorum unreachable, or an answer too late for
 * the lock to be worth anything: a success that lands later is released).
 */
export async function acquireLease(p: LeaseParams): Promise<RedlockLease | undefined> {
  const { fabricId, clients, ttl, clock } = p;
  const drift = Math.round(ttl * p.driftFactor) + 2;
  const validity = ttl - drift;
  const tracking: Tracking = { now: monotonicReader(clock), confirmedAt: 0, refreshError: undefined };
  const controller = new AbortController();
  let lost = false;
  let released = false;
  let watchdog: TimerHandle | undefined;
  const stopWatchdog = (): void => {
    if (watchdog !== undefined) clock.clearTimeout(watchdog);
    watchdog = undefined;
  };
  const lose = (how: 'refresh' | 'expired', cause?: unknown): void => {
    if (lost || released) return;
    lost = true;
    stopWatchdog();
    mutex.stopRefresh();
    p.onEnd();
    controller.abort(new LockLostError(fabricId, how, cause === undefined ? undefined : { cause }));
  };
  const lockOptions: LockOptions = {
    lockTimeout: ttl,
    acquireAttemptsLimit: 1,
    acquireTimeout: validity,
    retryInterval: 0,
    refreshInterval: p.refreshInterval,
    onLockLost: (error) => lose('refresh', error),
  };
  const setErrors: unknown[] = [];
  const single = clients.length === 1;
  const mutex: TrackedMutex | TrackedRedlockMutex = single
    ? new TrackedMutex(clients[0]!, p.resource, lockOptions, tracking)
    : new TrackedRedlockMutex(
        clients.map((c) => trackSetErrors(c, setErrors)),
        p.resource,
        lockOptions,
        tracking,
      );
  const sent = tracking.now();
  const attempt = mutex.tryAcquire();
  let acquired: boolean;
  try {
    acquired = await withTimeout(clock, attempt, validity, () => `no answer within ${validity} ms`);
  } catch (error) {
    // Too slow or failed: undo a success that lands later.
    attempt.then((ok) => (ok ? mutex.release() : undefined)).catch(() => undefined);
    throw new LockUnavailableError(fabricId, toError(error).message, { cause: error });
  }
  if (!acquired) {
    const quorum = Math.floor(clients.length / 2) + 1;
    if (clients.length - setErrors.length < quorum) {
      throw new LockUnavailableError(fabricId, `${setErrors.length} of ${clients.length} Redis masters failed, no quorum of ${quorum}`, { cause: setErrors[0] });
    }
    return undefined;
  }
  const elapsed = tracking.now() - sent;
  if (elapsed >= validity) {
    mutex.stopRefresh();
    await withTimeout(clock, mutex.release(), validity, () => 'release timed out').catch(() => undefined);
    throw new LockUnavailableError(fabricId, `acquiring took ${Math.round(elapsed)} ms, longer than the lock's validity (${validity} ms)`);
  }
  tracking.confirmedAt = Math.max(tracking.confirmedAt, sent);
  const remaining = (): number => (lost || released ? 0 : Math.max(0, tracking.confirmedAt + validity - tracking.now()));
  // Watchdog: abort when no acquire/extension has been confirmed for `validity` ms (Redis
  // unreachable or slow): past that point another replica may hold the lock.
  const arm = (): void => {
    watchdog = clock.setTimeout(check, Math.max(1, Math.ceil(remaining())));
  };
  const check = (): void => {
    watchdog = undefined;
    if (lost || released) return;
    if (remaining() <= 0) lose('expired', tracking.refreshError);
    else arm();
  };
  arm();
  const release = async (): Promise<void> => {
    if (released) return;
    const wasLost = lost;
    released = true;
    stopWatchdog();
    if (wasLost) return;
    p.onEnd();
    await withTimeout(clock, mutex.release(), validity, () => `release got no answer within ${validity} ms`).catch((error: unknown) => {
      mutex.stopRefresh();
      throw new LockUnavailableError(fabricId, `release failed (the lock expires on its own): ${toError(error).message}`, { cause: error });
    });
  };
  const holder = mutex.identifier;
  const lease: RedlockLease = {
    signal: controller.signal,
    holder,
    ...(single ? { proof: Object.freeze({ key: p.lockKey, value: holder }) } : {}),
    remaining,
    release,
  };
  return lease;
}

/** Wraps a client so failed `SET`s (the acquire command) are counted: no quorum because masters are down is "unavailable", not "held elsewhere". */
function trackSetErrors(client: RedlockClient, errors: unknown[]): RedlockClient {
  const c = client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const wrapped = {
    set: (...args: unknown[]) =>
      c['set']!.apply(client, args).catch((error: unknown) => {
        errors.push(error);
        throw error;
      }),
    get: (...args: unknown[]) => c['get']!.apply(client, args),
    eval: (...args: unknown[]) => c['eval']!.apply(client, args),
    evalsha: (...args: unknown[]) => c['evalsha']!.apply(client, args),
    zrem: (...args: unknown[]) => c['zrem']!.apply(client, args),
  };
  return wrapped as unknown as RedlockClient;
}

/** Races `p` against a timer of `clock`; the timer never outlives the race. */
export function withTimeout<T>(clock: Clock, p: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: TimerHandle | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = clock.setTimeout(() => reject(new Error(message())), Math.max(1, ms));
  });
  return Promise.race([p, timeout]).finally(() => clock.clearTimeout(timer));
}
