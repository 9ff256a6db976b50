/**
 * Real time, real Redis: lock loss mid-sync, Redis going away and coming back. Tolerances are
 * wide; what is asserted is ordering and presence, not exact timings.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SyncAbortedError, createScheduler, type SchedulerEvents } from '../../src/index.js';
import { LockLostError, RedisStorage, RedlockSingleFlight } from '../../src/redis/index.js';
import { redisKeys } from '../../src/redis/keys.js';
import { cleanupPrefix, randomPrefix, realClient, startOwnRedis } from '../helpers/redis.js';
import { sleep, until } from '../helpers/wait.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
process.on('unhandledRejection', onUnhandled);
const real = realClient();
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  expect(unhandled).toEqual([]);
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await real.quit();
});

function record<E extends keyof SchedulerEvents>(s: { on: (e: E, l: SchedulerEvents[E]) => unknown }, name: E, into: Array<Parameters<SchedulerEvents[E]>[0]>): void {
  s.on(name, ((p: Parameters<SchedulerEvents[E]>[0]) => into.push(p)) as SchedulerEvents[E]);
}

describe('lock loss mid-sync', () => {
  it('aborts ctx.signal when the lock key disappears, fails the run as lock-lost, and keeps scheduling', async () => {
    const prefix = randomPrefix('lost');
    cleanups.push(() => cleanupPrefix(real, prefix));
    const singleFlight = new RedlockSingleFlight({ clients: [real], prefix, partition: false });
    cleanups.push(() => singleFlight.close());
    let abortedAt = 0;
    let reason: unknown;
    let calls = 0;
    const scheduler = createScheduler({
      storage: new RedisStorage({ client: real, prefix }),
      singleFlight,
      lockTtl: 900,
      executor: (_f, ctx) => {
        calls++;
        if (calls > 1) return undefined;
        return new Promise<void>((resolve, reject) => {
          const t = setTimeout(resolve, 5_000);
          ctx.signal.addEventListener('abort', () => {
            abortedAt = Date.now();
            reason = ctx.signal.reason;
            clearTimeout(t);
            reject(ctx.signal.reason);
          });
        });
      },
      retry: false,
    });
    cleanups.push(() => scheduler.stop({ inFlight: 'abort' }));
    const failed: Parameters<SchedulerEvents['sync:failed']>[0][] = [];
    record(scheduler, 'sync:failed', failed);
    await scheduler.upsertFabric({ id: 'slow', syncInterval: 1_000 });
    await scheduler.start();
    // Deleted once the executor runs (a lock deleted between acquire and claim makes the claim
    // refused instead: the claim checks the lock value, see claim-proof.test.ts).
    await until(async () => calls > 0 && (await real.exists(redisKeys(prefix).lock('slow'))) === 1, 3_000);
    const deletedAt = Date.now();
    await real.del(redisKeys(prefix).lock('slow'));
    await until(() => abortedAt > 0, 2_000);
    const latency = abortedAt - deletedAt;
    expect(latency).toBeLessThan(900); // noticed at the next extension (every 300 ms)
    expect(reason).toBeInstanceOf(LockLostError);
    await until(() => failed.length > 0, 2_000);
    expect(failed[0]).toMatchObject({ fabricId: 'slow', reason: 'lock-lost' });
    expect(failed[0]!.error).toBeInstanceOf(SyncAbortedError);
    const status = await scheduler.getFabricStatus('slow');
    expect(status!.status).not.toBe('syncing');
    await until(() => calls >= 2, 3_000); // the next slot runs
    console.log(`lock-loss abort latency: ${latency} ms (lockTtl 900, refresh every 300 ms)`);
  });
});

describe('Redis unreachable', () => {
  {
    const mode = 'stopped, restarted with its data';
    it('gives error events and skipped runs, never a crash or unhandled rejection, and resumes when Redis returns', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'swredis-'));
      const own = await startOwnRedis({ persistDir: dir });
      cleanups.push(async () => {
        await own.stop();
        rmSync(dir, { recursive: true, force: true });
      });
      const client = own.client();
      cleanups.push(async () => client.disconnect());
      const prefix = 'faults';
      const singleFlight = new RedlockSingleFlight({ clients: [client], prefix, membershipTtl: 1_000, heartbeatInterval: 200 });
      cleanups.push(() => singleFlight.close());
      const starts: number[] = [];
      const tokens: Array<[string, number]> = [];
      const scheduler = createScheduler({
        storage: new RedisStorage({ client, prefix }),
        singleFlight,
        lockTtl: 1_000,
        retry: false,
        executor: async (f, ctx) => {
          starts.push(Date.now());
          tokens.push([f.id, ctx.fencingToken]);
          await sleep(20);
        },
      });
      cleanups.push(() => scheduler.stop({ inFlight: 'abort', drainTimeout: 0 }));
      const errors: Parameters<SchedulerEvents['error']>[0][] = [];
      const skipped: Parameters<SchedulerEvents['sync:skipped']>[0][] = [];
      record(scheduler, 'error', errors);
      record(scheduler, 'sync:skipped', skipped);
      await scheduler.upsertFabric({ id: 'a', syncInterval: 250 });
      await scheduler.upsertFabric({ id: 'b', syncInterval: 250 });
      await scheduler.start();
      await sleep(1_000);
      expect(starts.length).toBeGreaterThanOrEqual(6);
      expect(errors).toEqual([]);

      const downAt = Date.now();
      await own.stop();
      await sleep(1_500);
      const upAt = Date.now();
      const duringOutage = starts.filter((t) => t > downAt + 50 && t < upAt);
      expect(duringOutage).toEqual([]);
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.every((e) => e.error instanceof Error && typeof e.operation === 'string')).toBe(true);
      expect(errors.some((e) => e.operation === 'lock')).toBe(true);
      expect(skipped.some((s) => s.reason === 'unavailable')).toBe(true);
      expect(scheduler.running).toBe(true);

      await own.start();
      const resumedAfter = await until(() => starts.some((t) => t > upAt), 5_000);
      await sleep(600);
      const after = starts.filter((t) => t > upAt).length;
      expect(after).toBeGreaterThanOrEqual(2);
      // tokens kept rising per fabric across the restart (each claim: above the last, floored by Redis time)
      for (const id of ['a', 'b']) {
        const t = tokens.filter(([f]) => f === id).map(([, tok]) => tok);
        expect(t.length).toBeGreaterThan(4);
        t.slice(1).forEach((tok, i) => expect(tok).toBeGreaterThan(t[i]!));
      }
      console.log(`${mode}: ${errors.length} error events and ${skipped.filter((s) => s.reason === 'unavailable').length} 'unavailable' skips during a 1.5 s outage; first run ${resumedAfter} ms after Redis returned`);
    });
  }
});

describe('Redis never reachable', () => {
  it('start() rejects with a StorageError; nothing crashes', async () => {
    const { StorageError } = await import('../../src/errors.js');
    const dead = new Redis({ port: 1, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
    dead.on('error', () => undefined);
    const singleFlight = new RedlockSingleFlight({ clients: [dead], prefix: 'dead' });
    const scheduler = createScheduler({ storage: new RedisStorage({ client: dead, prefix: 'dead' }), singleFlight, executor: () => undefined });
    await expect(scheduler.start()).rejects.toBeInstanceOf(StorageError);
    await expect(scheduler.upsertFabric({ id: 'a', syncInterval: 1_000 })).rejects.toBeInstanceOf(StorageError);
    await singleFlight.close();
    dead.disconnect();
  });
});
