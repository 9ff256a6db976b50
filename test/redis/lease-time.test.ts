/**
 * Lease validity runs on monotonic time: a wall-clock step on the holder (NTP, VM resume) neither
 * keeps a lease alive past the point where another replica can take the lock, nor ends a healthy
 * one early. Real Redis; the holder reaches it through a TCP proxy so it can be cut off alone.
 *
 * The step is applied twice: to the holder's `clock` option and to `Date.now` itself (a spy), so
 * nothing in the lease path may read wall time from either.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock, type Clock } from '../../src/clock.js';
import { LockLostError, RedlockSingleFlight } from '../../src/redis/index.js';
import { cleanupPrefix, randomPrefix, realClient, REDIS_URL } from '../helpers/redis.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { sleep } from '../helpers/wait.js';

const real = realClient();
const redisPort = Number(new URL(REDIS_URL).port || 6379);
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  await real.quit();
});

/** A clock whose wall side can be stepped; its monotonic side is the real one. */
function steppedClock(): Clock & { step(ms: number): void } {
  let offset = 0;
  const realNow = Date.now.bind(Date);
  return {
    now: () => realNow() + offset,
    monotonic: () => performance.now(),
    setTimeout: systemClock.setTimeout,
    clearTimeout: systemClock.clearTimeout,
    step(ms: number) {
      offset += ms;
    },
  };
}

/** Steps `Date.now` itself by `ms` (on top of the real time) until the test ends. */
function stepDateNow(ms: number): void {
  const realNow = Date.now.bind(Date);
  vi.spyOn(Date, 'now').mockImplementation(() => realNow() + ms);
}

async function setup(): Promise<{ prefix: string; proxy: TcpProxy; viaProxy: Redis; clock: ReturnType<typeof steppedClock> }> {
  const prefix = randomPrefix('lease-time');
  cleanups.push(() => cleanupPrefix(real, prefix));
  const proxy = await startTcpProxy({ targetPort: redisPort });
  cleanups.push(() => proxy.close());
  const viaProxy = new Redis(proxy.port, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  viaProxy.on('error', () => undefined);
  cleanups.push(() => viaProxy.disconnect());
  return { prefix, proxy, viaProxy, clock: steppedClock() };
}

function singleFlight(options: ConstructorParameters<typeof RedlockSingleFlight>[0]): RedlockSingleFlight {
  const s = new RedlockSingleFlight(options);
  cleanups.push(() => s.close());
  return s;
}

describe('lease validity on monotonic time (real Redis, holder behind a TCP proxy)', () => {
  it('a holder stepped 5 s back and cut off from Redis aborts within validity, before anyone else can take the lock', { timeout: 20_000 }, async () => {
    const lockTtl = 1_500;
    const validity = lockTtl - (Math.round(lockTtl * 0.01) + 2);
    const { prefix, proxy, viaProxy, clock } = await setup();
    const holder = singleFlight({ clients: [viaProxy], prefix, partition: false, lockTtl, clock });
    const other = singleFlight({ clients: [real], prefix, partition: false, lockTtl });

    const sent = performance.now();
    const lease = await holder.acquire('f', { ttl: lockTtl });
    expect(lease).toBeDefined();
    let abortedAt: number | undefined;
    lease!.signal.addEventListener('abort', () => (abortedAt = performance.now()));

    await sleep(100);
    proxy.blackhole(); // Redis unreachable for the holder only: its extensions hang
    clock.step(-5_000); // and its wall clock goes back 5 s
    stepDateNow(-5_000);
    const cutAt = performance.now();

    // the other replica tries every 20 ms until the lock expires in Redis and it gets it
    let takenAt: number | undefined;
    while (takenAt === undefined && performance.now() - cutAt < 10_000) {
      const l = await other.acquire('f', { ttl: lockTtl });
      if (l) {
        takenAt = performance.now();
        cleanups.push(() => l.release());
      } else await sleep(20);
    }
    proxy.heal();
    expect(takenAt, 'the other replica took the lock once it expired').toBeDefined();
    expect(abortedAt, 'the holder aborted').toBeDefined();
    const abortAfter = abortedAt! - sent;
    const takenAfter = takenAt! - sent;
    console.log(`lease-time: holder aborted ${Math.round(abortAfter)} ms after acquiring (validity ${validity} ms); another replica took the lock at ${Math.round(takenAfter)} ms`);
    expect(abortedAt!).toBeLessThan(takenAt!); // never two holders that both believe it
    expect(abortAfter).toBeGreaterThanOrEqual(validity - 50); // not early: nothing was confirmed, the lease lasted its validity
    expect(abortAfter).toBeLessThan(validity + 1_000); // wide bound: a busy machine delays timers, never by the 5 s step
    expect(takenAfter).toBeGreaterThanOrEqual(lockTtl - 50);
    expect(lease!.signal.reason).toBeInstanceOf(LockLostError);
    expect((lease!.signal.reason as LockLostError).how).toBe('expired');
    expect(lease!.remaining()).toBe(0);
    await lease!.release(); // lost already: resolves without touching Redis
  });

  it('a holder stepped 5 s forward keeps a healthy lease (extensions confirmed, no early abort)', { timeout: 20_000 }, async () => {
    const lockTtl = 900;
    const { prefix, viaProxy, clock } = await setup();
    const holder = singleFlight({ clients: [viaProxy], prefix, partition: false, lockTtl, clock });
    const other = singleFlight({ clients: [real], prefix, partition: false, lockTtl });
    const lease = await holder.acquire('f', { ttl: lockTtl });
    expect(lease).toBeDefined();
    await sleep(100);
    clock.step(5_000);
    stepDateNow(5_000);
    for (let i = 0; i < 8; i++) {
      await sleep(300); // 2.4 s: well past lockTtl, extended throughout
      expect(await other.acquire('f', { ttl: lockTtl })).toBeUndefined();
      expect(lease!.signal.aborted).toBe(false);
    }
    expect(lease!.remaining()).toBeGreaterThan(0);
    expect(lease!.remaining()).toBeLessThanOrEqual(lockTtl);
    await lease!.release();
  });
});
