/**
 * Issue 10, item 2, end to end on a real Redis with real schedulers:
 * - a replica cut off right after taking the lock (its claim queued behind a black hole) never
 *   gets a token and never runs once another holder has the lock: the claim script checks the
 *   lock value (`lease.proof`), and the scheduler starts no executor on a lease it knows lost;
 * - a replica whose wall clock disagrees with Redis' `TIME` stands down (an `error` event with a
 *   `ClockSkewError`, no claims), while a replica with a sane clock runs the fabric.
 * Real time is the point here (leases, TTLs): bounds are wide.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { systemClock, type Clock } from '../../src/clock.js';
import { createScheduler, type Lease, type SchedulerEvents, type SingleFlight } from '../../src/index.js';
import { ClockSkewError, RedisStorage, RedlockSingleFlight } from '../../src/redis/index.js';
import { cleanupPrefix, randomPrefix, realClient, REDIS_URL } from '../helpers/redis.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { sleep, until } from '../helpers/wait.js';

const real = realClient();
const redisPort = Number(new URL(REDIS_URL).port || 6379);
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  await real.quit();
});

function record<E extends keyof SchedulerEvents>(on: (e: E, l: SchedulerEvents[E]) => unknown, name: E): Array<Parameters<SchedulerEvents[E]>[0]> {
  const seen: Array<Parameters<SchedulerEvents[E]>[0]> = [];
  on(name, ((e: Parameters<SchedulerEvents[E]>[0]) => seen.push(e)) as SchedulerEvents[E]);
  return seen;
}

describe('a replica without the lock never gets a token (claim checks the lock value)', () => {
  it('cut off right after taking the lock: its queued claim lands after another took the lock and is refused', { timeout: 20_000 }, async () => {
    const prefix = randomPrefix('proof');
    cleanups.push(() => cleanupPrefix(real, prefix));
    const proxy = await startTcpProxy({ targetPort: redisPort });
    cleanups.push(() => proxy.close());
    const viaProxy = new Redis(proxy.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
    viaProxy.on('error', () => undefined);
    cleanups.push(() => viaProxy.disconnect());

    const lockTtl = 1_000;
    const inner = new RedlockSingleFlight({ clients: [viaProxy], prefix, partition: false });
    cleanups.push(() => inner.close());
    // Replica A: its connection to Redis goes into a black hole right after its lock is granted.
    let cut = false;
    let leaseA: Lease | undefined;
    const cutAfterLock: SingleFlight = {
      async acquire(id, options) {
        const lease = await inner.acquire(id, options);
        if (lease && !cut) {
          cut = true;
          leaseA = lease;
          proxy.blackhole();
        }
        return lease;
      },
    };
    const storageA = new RedisStorage({ client: viaProxy, prefix });
    const runsA: number[] = [];
    const a = createScheduler({ storage: storageA, singleFlight: cutAfterLock, lockTtl, housekeepingInterval: 0, executor: (_f, ctx) => void runsA.push(ctx.fencingToken) });
    const skippedA = record(a.on.bind(a) as never, 'sync:skipped');
    const startedA = record(a.on.bind(a) as never, 'sync:started');
    cleanups.push(() => a.stop({ inFlight: 'abort', drainTimeout: 0 }));

    const direct = new RedisStorage({ client: real, prefix });
    await a.upsertFabric({ id: 'f', syncInterval: 'PT1H' });
    const before = (await direct.get('f'))!;
    await a.start(); // the first run takes the lock; its claim is held in the black hole
    await until(() => cut, 5_000);
    expect(leaseA?.proof).toBeDefined();

    // Replica B takes the lock once A's has expired (A cannot extend it from the black hole).
    await sleep(lockTtl + 300);
    expect(leaseA!.signal!.aborted).toBe(true);
    const b = new RedlockSingleFlight({ clients: [real], prefix, partition: false });
    cleanups.push(() => b.close());
    const leaseB = await b.acquire('f', { ttl: 5_000 });
    expect(leaseB).toBeDefined();

    proxy.heal(); // A's queued claim lands now, while B holds the lock
    await until(() => skippedA.length > 0, 5_000);
    expect(skippedA.map((e) => e.reason)).toEqual(['locked']);
    expect(startedA).toEqual([]);
    expect(runsA).toEqual([]);
    const after = (await direct.get('f'))!;
    // No token was handed out to the replica without the lock, and the record is as it was.
    expect(after.state.fencingToken).toBe(before.state.fencingToken);
    expect(after.state.status).toBe(before.state.status);
    await leaseB!.release();
  });
});

describe('a replica whose wall clock disagrees with Redis stands down', () => {
  it('5 s ahead: its claims are refused with ClockSkewError, it leaves the membership and takes no locks; a sane replica runs every fabric', { timeout: 30_000 }, async () => {
    const prefix = randomPrefix('skew');
    cleanups.push(() => cleanupPrefix(real, prefix));
    const ids = Array.from({ length: 20 }, (_, i) => `f${i}`);
    const ahead: Clock = { ...systemClock, now: () => Date.now() + 5_000, monotonic: () => performance.now() };
    const runsSkewed: string[] = [];
    const skewedFlight = new RedlockSingleFlight({ clients: [real], prefix, replicaId: 'skewed' });
    cleanups.push(() => skewedFlight.close());
    let skewedLocks = 0;
    const countingFlight: SingleFlight = {
      acquire: (id, o) => (skewedLocks++, skewedFlight.acquire(id, o)),
      shouldRun: (id) => skewedFlight.shouldRun(id),
      start: () => skewedFlight.start(),
      stop: () => skewedFlight.stop(),
    };
    const skewed = createScheduler({ clock: ahead, storage: new RedisStorage({ client: real, prefix }), singleFlight: countingFlight, executor: (f) => void runsSkewed.push(f.id) });
    const errors = record(skewed.on.bind(skewed) as never, 'error');
    cleanups.push(() => skewed.stop({ inFlight: 'abort', drainTimeout: 0 }));

    const runsSane: string[] = [];
    const saneFlight = new RedlockSingleFlight({ clients: [real], prefix, replicaId: 'sane' });
    cleanups.push(() => saneFlight.close());
    const sane = createScheduler({ storage: new RedisStorage({ client: real, prefix }), singleFlight: saneFlight, executor: (f) => void runsSane.push(f.id) });
    cleanups.push(() => sane.stop({ inFlight: 'abort', drainTimeout: 0 }));
    for (const id of ids) await sane.upsertFabric({ id, syncInterval: 1_000 });
    await sane.start();
    await skewed.start();
    await until(() => errors.some((e) => e.error instanceof ClockSkewError), 10_000);
    const skew = errors.map((e) => e.error).find((e) => e instanceof ClockSkewError) as ClockSkewError;
    expect(skew.skewMs).toBeGreaterThan(4_000);
    expect(skew.skewMs).toBeLessThan(6_000);
    // Standing down: out of the membership, so the sane replica owns every fabric.
    await until(() => saneFlight.members?.length === 1, 5_000, 'the skewed replica left the membership');
    await sleep(1_500);
    const locksBefore = skewedLocks;
    const saneBefore = runsSane.length;
    await sleep(3_000);
    expect(runsSkewed).toEqual([]);
    // Every fabric ran on the sane replica about once a second (wide bound: shared machine).
    expect(runsSane.length - saneBefore).toBeGreaterThanOrEqual(ids.length * 2);
    // No locks taken while standing down, but the odd probe (one per operationTimeout, 10 s).
    expect(skewedLocks - locksBefore).toBeLessThanOrEqual(1);
  });
});
