import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type * as RedisSemaphore from 'redis-semaphore';
import type { LockOptions } from 'redis-semaphore';
import { durationOption } from '../definition.js';
import { InvalidOptionError, toError } from '../errors.js';
import type { AcquireOptions, Lease, SingleFlight } from '../single-flight.js';
import { LockLostError, LockUnavailableError } from './errors.js';
import { redisKeys, type RedisKeys } from './keys.js';
import { HEARTBEAT_SCRIPT, runScript, type ScriptClient } from './scripts.js';
import { requirePeer } from '../peer.cjs';

// An optional peer dependency of syncwheel/redis: loaded here so a missing one says what to install.
const { Mutex, RedlockMutex } = requirePeer<typeof RedisSemaphore>('redis-semaphore', 'syncwheel/redis', 'ioredis redis-semaphore');

/** The client surface RedlockSingleFlight uses: an ioredis `Redis` (or ioredis-mock). */
export type RedlockClient = Pick<Redis, 'eval' | 'evalsha' | 'get' | 'set' | 'zrem'>;

/** A Redlock lease: its signal aborts when the lock is lost. */
export interface RedlockLease extends Lease {
  readonly signal: AbortSignal;
  release(): Promise<void>;
}

/** Options of {@link RedlockSingleFlight}. */
export interface RedlockSingleFlightOptions {
  /**
   * One client per independent Redis master (1..N). With one client the lock is a plain
   * `SET NX PX` mutex; with several, Redlock: a majority must agree. Never closed and never
   * given listeners by syncwheel: give each `maxRetriesPerRequest` (1–3) and an `'error'`
   * listener. Membership (partitioning) lives on the first client.
   */
  clients: readonly RedlockClient[];
  /** Key prefix, the same for every replica of a deployment (and for their `RedisStorage`). Required. */
  prefix: string;
  /**
   * Lock TTL, ms: how long a lock outlives a holder that stopped extending it (crashed, paused,
   * cut off). A dead replica's fabric waits at most this long before a survivor can run it.
   * @default the `ttl` the scheduler asks for (its `lockTtl` option, 30_000)
   */
  lockTtl?: number;
  /**
   * How often a held lock is extended, ms.
   * @default lockTtl / 3
   */
  refreshInterval?: number;
  /**
   * Clock drift allowance, as a fraction of the TTL (plus 2 ms): a lock counts as valid for
   * `lockTtl - drift` after the last confirmed acquire or extension, and the lease is aborted
   * when that runs out without a new confirmation.
   * @default 0.01
   */
  driftFactor?: number;
  /**
   * Split scheduled slots among live replicas (rendezvous hashing over a heartbeat set in
   * Redis), so each slot is claimed by one replica instead of every replica contending.
   * `false`: every replica tries every slot and the lock decides.
   * @default true
   */
  partition?: boolean;
  /**
   * This replica's name in the membership set. Must be unique per live replica.
   * @default `${hostname()}:${process.pid}:<random>`
   */
  replicaId?: string;
  /**
   * How long a replica stays a member without a heartbeat, ms. A dead replica's fabrics move
   * to the survivors after at most this long (plus one heartbeat).
   * @default 15_000
   */
  membershipTtl?: number;
  /**
   * How often membership is refreshed (and the live set re-read), ms.
   * @default membershipTtl / 3
   */
  heartbeatInterval?: number;
  /**
   * Called with background errors (a failed heartbeat). Lock errors reach the scheduler's
   * `error` event through `acquire()` instead.
   * @default undefined (ignored)
   */
  onError?: (error: Error) => void;
}

const DEFAULTS = Object.freeze({ driftFactor: 0.01, partition: true, membershipTtl: 15_000 });

/** Mutex that remembers when Redis last confirmed it, and rides out a failed extension until the watchdog says the lock may be gone. */
class TrackedMutex extends Mutex {
  confirmedAt = 0;
  refreshError: Error | undefined;
  protected override async _refresh(): Promise<boolean> {
    const sent = Date.now();
    try {
      const ok = await super._refresh();
      if (ok) this.confirmedAt = sent;
      return ok;
    } catch (error) {
      // Unreachable: the lock is still ours until confirmedAt + ttl; the watchdog aborts before that.
      this.refreshError = toError(error);
      return true;
    }
  }
}

/** RedlockMutex that remembers when a quorum last confirmed it (failures are lock loss: the library releases on failure). */
class TrackedRedlockMutex extends RedlockMutex {
  confirmedAt = 0;
  refreshError: Error | undefined;
  protected override async _refresh(): Promise<boolean> {
    const sent = Date.now();
    const ok = await super._refresh();
    if (ok) this.confirmedAt = sent;
    return ok;
  }
}

/**
 * Single-flight across processes: a Redis lock per fabric (Redlock over 1..N independent
 * masters, via redis-semaphore), extended while the run lasts; the lease's signal aborts when
 * an extension fails or cannot be confirmed in time. With `partition` (the default) live
 * replicas split the scheduled slots by rendezvous hashing, so a slot costs O(1) Redis work
 * however many replicas run.
 *
 * @example
 * const singleFlight = new RedlockSingleFlight({ clients: [client], prefix: 'myapp' });
 */
export class RedlockSingleFlight implements SingleFlight {
  readonly #clients: readonly RedlockClient[];
  readonly #keys: RedisKeys;
  readonly #lockTtl: number | undefined;
  readonly #refreshInterval: number | undefined;
  readonly #driftFactor: number;
  readonly #partition: boolean;
  readonly #replicaId: string;
  readonly #membershipTtl: number;
  readonly #heartbeatInterval: number;
  readonly #onError: ((error: Error) => void) | undefined;
  readonly #held = new Map<string, { release(): Promise<void> }>();
  #members: string[] | undefined;
  #membersAt = 0;
  #heartbeat: NodeJS.Timeout | undefined;
  #beating: Promise<void> | undefined;
  #closed = false;

  constructor(options: RedlockSingleFlightOptions) {
    if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
    const { clients, prefix } = options;
    if (!Array.isArray(clients) || clients.length === 0) throw new InvalidOptionError('clients', 'a non-empty array of ioredis clients', clients);
    clients.forEach((c, i) => {
      if (c === null || typeof c !== 'object' || typeof (c as { set?: unknown }).set !== 'function' || typeof (c as { evalsha?: unknown }).evalsha !== 'function') {
        throw new InvalidOptionError(`clients[${i}]`, 'an ioredis client', c);
      }
    });
    if (typeof prefix !== 'string' || prefix.length === 0) throw new InvalidOptionError('prefix', 'a non-empty string', prefix);
    this.#clients = [...clients];
    this.#keys = redisKeys(prefix);
    this.#lockTtl = options.lockTtl === undefined ? undefined : durationOption('lockTtl', options.lockTtl, 0);
    this.#refreshInterval = options.refreshInterval === undefined ? undefined : durationOption('refreshInterval', options.refreshInterval, 0);
    if (this.#lockTtl !== undefined && this.#refreshInterval !== undefined && this.#refreshInterval >= this.#lockTtl) {
      throw new InvalidOptionError('refreshInterval', `less than lockTtl (${this.#lockTtl})`, options.refreshInterval);
    }
    const drift = options.driftFactor ?? DEFAULTS.driftFactor;
    if (typeof drift !== 'number' || !(drift >= 0 && drift < 0.5)) throw new InvalidOptionError('driftFactor', 'a number in [0, 0.5)', options.driftFactor);
    this.#driftFactor = drift;
    const partition = options.partition ?? DEFAULTS.partition;
    if (typeof partition !== 'boolean') throw new InvalidOptionError('partition', 'a boolean', options.partition);
    this.#partition = partition;
    const replicaId = options.replicaId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    if (typeof replicaId !== 'string' || replicaId.length === 0) throw new InvalidOptionError('replicaId', 'a non-empty string', options.replicaId);
    this.#replicaId = replicaId;
    this.#membershipTtl = durationOption('membershipTtl', options.membershipTtl, DEFAULTS.membershipTtl);
    this.#heartbeatInterval = durationOption('heartbeatInterval', options.heartbeatInterval, Math.max(1, Math.floor(this.#membershipTtl / 3)));
    if (this.#heartbeatInterval >= this.#membershipTtl) {
      throw new InvalidOptionError('heartbeatInterval', `less than membershipTtl (${this.#membershipTtl})`, options.heartbeatInterval);
    }
    if (options.onError !== undefined && typeof options.onError !== 'function') throw new InvalidOptionError('onError', 'a function', options.onError);
    this.#onError = options.onError;
    if (this.#partition) {
      this.#beat();
      this.#heartbeat = setInterval(() => this.#beat(), this.#heartbeatInterval);
      this.#heartbeat.unref();
    }
  }

  /** This replica's id in the membership set. */
  get replicaId(): string {
    return this.#replicaId;
  }

  /** Live replicas as last read from Redis (sorted), or undefined when unknown or stale. */
  get members(): readonly string[] | undefined {
    return this.#freshMembers();
  }

  /** Fabric ids this instance holds a lock for right now. */
  get heldCount(): number {
    return this.#held.size;
  }

  /** Resolves once the first heartbeat has been answered (or failed); handy for tests and demos. */
  async ready(): Promise<void> {
    await this.#beating;
  }

  /**
   * Rendezvous hashing over the live members: true when this replica has the highest weight
   * for `fabricId`. True when membership is unknown or stale (the lock then decides).
   */
  shouldRun(fabricId: string): boolean {
    const members = this.#freshMembers();
    if (!this.#partition || !members || members.length === 0) return true;
    return ownerOf(fabricId, members.includes(this.#replicaId) ? members : [...members, this.#replicaId]) === this.#replicaId;
  }

  async acquire(fabricId: string, options: AcquireOptions): Promise<RedlockLease | undefined> {
    if (this.#closed) throw new LockUnavailableError(fabricId, 'this RedlockSingleFlight is closed');
    const ttl = this.#lockTtl ?? options.ttl;
    if (!Number.isSafeInteger(ttl) || ttl <= 0) throw new InvalidOptionError('ttl', 'a positive integer number of ms', ttl);
    const drift = Math.round(ttl * this.#driftFactor) + 2;
    const validity = ttl - drift;
    const refreshInterval = this.#refreshInterval ?? Math.max(1, Math.floor(ttl / 3));
    const controller = new AbortController();
    let lost = false;
    let watchdog: NodeJS.Timeout | undefined;
    const lose = (how: 'refresh' | 'expired', cause?: unknown) => {
      if (lost || released) return;
      lost = true;
      if (watchdog) clearTimeout(watchdog);
      mutex.stopRefresh();
      this.#held.delete(fabricId);
      controller.abort(new LockLostError(fabricId, how, cause === undefined ? undefined : { cause }));
    };
    const lockOptions: LockOptions = {
      lockTimeout: ttl,
      acquireAttemptsLimit: 1,
      acquireTimeout: validity,
      retryInterval: 0,
      refreshInterval,
      onLockLost: (error) => lose('refresh', error),
    };
    const setErrors: unknown[] = [];
    const single = this.#clients.length === 1;
    const resource = this.#keys.lockResource(fabricId);
    const mutex: TrackedMutex | TrackedRedlockMutex = single
      ? new TrackedMutex(this.#clients[0]!, resource, lockOptions)
      : new TrackedRedlockMutex(this.#clients.map((c) => trackSetErrors(c, setErrors)), resource, lockOptions);
    let released = false;
    const sent = Date.now();
    const attempt = mutex.tryAcquire();
    let acquired: boolean;
    try {
      acquired = await withTimeout(attempt, validity, () => `no answer within ${validity} ms`);
    } catch (error) {
      // Too slow or failed: undo a success that lands later.
      attempt.then((ok) => (ok ? mutex.release() : undefined)).catch(() => undefined);
      throw new LockUnavailableError(fabricId, toError(error).message, { cause: error });
    }
    if (!acquired) {
      const quorum = Math.floor(this.#clients.length / 2) + 1;
      if (this.#clients.length - setErrors.length < quorum) {
        throw new LockUnavailableError(fabricId, `${setErrors.length} of ${this.#clients.length} Redis masters failed, no quorum of ${quorum}`, { cause: setErrors[0] });
      }
      return undefined;
    }
    const elapsed = Date.now() - sent;
    if (elapsed >= validity) {
      await withTimeout(mutex.release(), validity, () => 'release timed out').catch(() => undefined);
      throw new LockUnavailableError(fabricId, `acquiring took ${elapsed} ms, longer than the lock's validity (${validity} ms)`);
    }
    mutex.confirmedAt = sent;
    // Watchdog: abort when no acquire/extension has been confirmed for `validity` ms (Redis
    // unreachable or slow): past that point another replica may hold the lock.
    const arm = (): void => {
      watchdog = setTimeout(check, Math.max(1, mutex.confirmedAt + validity - Date.now()));
      watchdog.unref();
    };
    const check = (): void => {
      if (lost || released) return;
      if (Date.now() >= mutex.confirmedAt + validity) lose('expired', mutex.refreshError);
      else arm();
    };
    arm();
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      if (watchdog) clearTimeout(watchdog);
      this.#held.delete(fabricId);
      if (lost) return;
      await withTimeout(mutex.release(), validity, () => `release got no answer within ${validity} ms`).catch((error: unknown) => {
        mutex.stopRefresh();
        throw new LockUnavailableError(fabricId, `release failed (the lock expires on its own): ${toError(error).message}`, { cause: error });
      });
    };
    this.#held.set(fabricId, { release });
    return { signal: controller.signal, release };
  }

  /** Stops heartbeats, leaves the membership set and releases every lock still held. Never closes the clients. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    await Promise.allSettled([...this.#held.values()].map((h) => h.release()));
    await this.#beating?.catch(() => undefined);
    if (this.#partition) {
      await withTimeout(
        runScript(this.#clients[0] as unknown as ScriptClient, HEARTBEAT_SCRIPT, [this.#keys.members], [this.#replicaId, this.#membershipTtl, '1']),
        this.#heartbeatInterval,
        () => 'leave timed out',
      ).catch((error: unknown) => this.#report(error));
    }
    this.#members = undefined;
  }

  #freshMembers(): string[] | undefined {
    if (!this.#members || Date.now() - this.#membersAt > this.#membershipTtl) return undefined;
    return this.#members;
  }

  #beat(): void {
    if (this.#beating || this.#closed) return;
    const sent = Date.now();
    this.#beating = withTimeout(
      runScript(this.#clients[0] as unknown as ScriptClient, HEARTBEAT_SCRIPT, [this.#keys.members], [this.#replicaId, this.#membershipTtl, '0']),
      this.#heartbeatInterval,
      () => `heartbeat got no answer within ${this.#heartbeatInterval} ms`,
    )
      .then((reply) => {
        if (this.#closed) return;
        this.#members = (Array.isArray(reply) ? reply.map(String) : []).sort();
        this.#membersAt = sent;
      })
      .catch((error: unknown) => this.#report(error))
      .finally(() => {
        this.#beating = undefined;
      });
  }

  #report(error: unknown): void {
    try {
      this.#onError?.(toError(error));
    } catch {
      // a throwing onError must not become an unhandled rejection
    }
  }
}

/** The member with the highest rendezvous weight for `key` (ties broken by name). */
export function ownerOf(key: string, members: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestWeight = -1;
  for (const m of members) {
    const w = weight(m, key);
    if (w > bestWeight || (w === bestWeight && best !== undefined && m > best)) {
      best = m;
      bestWeight = w;
    }
  }
  return best;
}

/** cyrb53: a fast 53-bit string hash with good dispersion (public domain, bryc). */
function weight(member: string, key: string): number {
  const str = `${member}\u0000${key}`;
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < str.length; i++) {
    const ch = str.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
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

/** Races `p` against a timer (unref'ed); the timer never outlives the race. */
function withTimeout<T>(p: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), Math.max(1, ms));
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
