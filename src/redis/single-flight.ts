import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../clock.js';
import { durationOption } from '../definition.js';
import { InvalidOptionError, toError } from '../errors.js';
import type { AcquireOptions, SingleFlight } from '../single-flight.js';
import { LockUnavailableError } from './errors.js';
import { redisKeys, type RedisKeys } from './keys.js';
import { acquireLease, type RedlockClient, type RedlockLease } from './lease.js';
import { DEFAULT_MEMBERSHIP_TTL, HEARTBEATS_PER_TTL, Membership } from './membership.js';
import type { ScriptClient } from './scripts.js';

export { ownerOf } from './membership.js';
export type { RedlockClient, RedlockLease } from './lease.js';

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
   * cut off). A replica that dies *mid-run* keeps that fabric locked at most this long; a fabric
   * that was not running moves after the membership delay (`membershipTtl + heartbeatInterval`).
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
   * `lockTtl - drift` after the last confirmed acquire or extension (monotonic time), and the
   * lease is aborted when that runs out without a new confirmation.
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
   * How long a replica stays a member without a heartbeat, ms. A killed replica's fabrics move
   * to the survivors after at most `membershipTtl + heartbeatInterval` (plus a round trip and
   * the wait for each fabric's next slot), whatever `lockTtl` is: 2.5 s with the defaults. It
   * is also how long this replica trusts its own view of the live set without a successful
   * heartbeat; past that it tries every slot and the lock decides. Shorter means faster
   * failover but more heartbeats; a live replica drops out only when its heartbeats fail for
   * this long (an event loop blocked or Redis unreachable for ~2 s), which costs contention for
   * the lock, never a duplicate run.
   * @default 2_000
   */
  membershipTtl?: number;
  /**
   * How often membership is refreshed (and the live set re-read), ms: one script call on
   * `clients[0]` per replica (6 Redis commands as `INFO` counts them), whatever the number of
   * fabrics or runs. 4 beats per `membershipTtl`, so three may fail in a row before a live replica
   * drops out.
   * @default membershipTtl / 4 (500)
   */
  heartbeatInterval?: number;
  /**
   * The clock leases and heartbeats are timed on. Only its monotonic side (`monotonic()`, else
   * `now()`) and its timers are used: lease validity and extension deadlines never read the
   * wall clock, so a wall step on the holder neither stretches nor shortens a lease.
   * @default systemClock (`performance.now()` and unref'ed Node timers)
   */
  clock?: Clock;
  /**
   * Called with background errors (a failed heartbeat). Lock errors reach the scheduler's
   * `error` event through `acquire()` instead.
   * @default undefined (ignored)
   */
  onError?: (error: Error) => void;
}

const DEFAULTS = Object.freeze({ driftFactor: 0.01, partition: true, membershipTtl: DEFAULT_MEMBERSHIP_TTL });

/**
 * Single-flight across processes: a Redis lock per fabric (Redlock over 1..N independent
 * masters, via redis-semaphore), extended while the run lasts; the lease's signal aborts when
 * an extension fails or cannot be confirmed in time (monotonic time). With one client the lease
 * carries a `proof` the storage checks in its claim. With `partition` (the default) live
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
  readonly #replicaId: string;
  readonly #clock: Clock;
  readonly #onError: ((error: Error) => void) | undefined;
  readonly #membership: Membership | undefined;
  /** Schedulers running on this instance ({@link start} minus {@link stop}). */
  #users = 0;
  readonly #held = new Map<string, { release(): Promise<void> }>();
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
    const replicaId = options.replicaId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    if (typeof replicaId !== 'string' || replicaId.length === 0) throw new InvalidOptionError('replicaId', 'a non-empty string', options.replicaId);
    this.#replicaId = replicaId;
    const clock = options.clock ?? systemClock;
    if (clock === null || typeof clock !== 'object' || typeof clock.setTimeout !== 'function' || typeof clock.clearTimeout !== 'function' || typeof clock.now !== 'function') {
      throw new InvalidOptionError('clock', 'a Clock (now, setTimeout, clearTimeout, optional monotonic)', options.clock);
    }
    this.#clock = clock;
    const membershipTtl = durationOption('membershipTtl', options.membershipTtl, DEFAULTS.membershipTtl);
    const heartbeatInterval = durationOption('heartbeatInterval', options.heartbeatInterval, Math.max(1, Math.floor(membershipTtl / HEARTBEATS_PER_TTL)));
    if (heartbeatInterval >= membershipTtl) {
      throw new InvalidOptionError('heartbeatInterval', `less than membershipTtl (${membershipTtl})`, options.heartbeatInterval);
    }
    if (options.onError !== undefined && typeof options.onError !== 'function') throw new InvalidOptionError('onError', 'a function', options.onError);
    this.#onError = options.onError;
    if (partition) {
      this.#membership = new Membership({
        client: this.#clients[0] as unknown as ScriptClient,
        key: this.#keys.members,
        replicaId,
        membershipTtl,
        heartbeatInterval,
        clock,
        report: (error) => this.#report(error),
      });
    }
  }

  /**
   * Joins the membership set (with `partition`): a scheduler calls it when it starts running on
   * this instance, so fabrics are handed to this replica only once it runs. Standalone users (no
   * scheduler) call it themselves. Counted: several schedulers may share the instance.
   */
  start(): void {
    if (this.#closed) return;
    if (this.#users++ === 0) this.#membership?.start();
  }

  /** Leaves the membership set when the last scheduler running on this instance stops. */
  async stop(): Promise<void> {
    if (this.#users === 0) return;
    if (--this.#users === 0) await this.#membership?.stop();
  }

  /** This replica's id in the membership set. */
  get replicaId(): string {
    return this.#replicaId;
  }

  /** Live replicas as last read from Redis (sorted), or undefined when unknown or stale. */
  get members(): readonly string[] | undefined {
    return this.#membership?.fresh();
  }

  /** Fabric ids this instance holds a lock for right now. */
  get heldCount(): number {
    return this.#held.size;
  }

  /** Resolves once the heartbeat in flight has been answered (or failed): after {@link start}, the first one; handy for tests and demos. */
  async ready(): Promise<void> {
    await this.#membership?.settled();
  }

  /**
   * Rendezvous hashing over the live members: true when this replica has the highest weight
   * for `fabricId`. True when membership is unknown or stale (the lock then decides). A pure
   * local computation: no Redis command.
   */
  shouldRun(fabricId: string): boolean {
    return this.#membership ? this.#membership.owns(fabricId) : true;
  }

  async acquire(fabricId: string, options: AcquireOptions): Promise<RedlockLease | undefined> {
    if (this.#closed) throw new LockUnavailableError(fabricId, 'this RedlockSingleFlight is closed');
    const ttl = this.#lockTtl ?? options.ttl;
    if (!Number.isSafeInteger(ttl) || ttl <= 0) throw new InvalidOptionError('ttl', 'a positive integer number of ms', ttl);
    let entry: { release(): Promise<void> } | undefined;
    const lease = await acquireLease({
      fabricId,
      clients: this.#clients,
      resource: this.#keys.lockResource(fabricId),
      lockKey: this.#keys.lock(fabricId),
      ttl,
      refreshInterval: this.#refreshInterval ?? Math.max(1, Math.floor(ttl / 3)),
      driftFactor: this.#driftFactor,
      clock: this.#clock,
      onEnd: () => {
        if (entry && this.#held.get(fabricId) === entry) this.#held.delete(fabricId);
      },
    });
    if (lease) {
      entry = { release: lease.release };
      this.#held.set(fabricId, entry);
    }
    return lease;
  }

  /** Stops heartbeats, leaves the membership set and releases every lock still held. Never closes the clients. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#held.values()].map((h) => h.release()));
    await this.#membership?.stop();
  }

  #report(error: unknown): void {
    try {
      this.#onError?.(toError(error));
    } catch {
      // a throwing onError must not become an unhandled rejection
    }
  }
}
