/**
 * The README's "Testing your integration" example, as a host would run it: a real executor
 * through storage latency, failures, a hung write and a wall-clock step, checked by the
 * invariant checker, then `await scheduler.stop()` on the fake clock without ticking.
 */
import { expect, it } from 'vitest';
import { createScheduler, MemoryStorage, type SyncContext } from '../src/index.js';
import { createFakeClock, createInvariantChecker, FaultyStorage } from '../src/testing.js';

it('the README example runs: faults, a hung write and a step back break no promise, and stop() settles', async () => {
  const clock = createFakeClock({ now: Date.parse('2026-03-01T00:00:00Z') });
  const calls: number[] = [];
  const mySync = async (_f: unknown, ctx: SyncContext) => {
    calls.push(ctx.fencingToken);
    await new Promise<void>((resolve) => clock.setTimeout(resolve, 200));
  };
  const storage = new FaultyStorage(new MemoryStorage(), { clock, seed: 42 });
  const checker = createInvariantChecker({ livenessClock: () => clock.monotonic() });
  const scheduler = createScheduler({ clock, storage, executor: mySync });
  checker.attach(scheduler);
  const errors: string[] = [];
  scheduler.on('error', (e) => errors.push(e.error.name));

  await scheduler.upsertFabric({ id: 'fab-a', syncInterval: 60_000 });
  await scheduler.start();
  storage.setFaults({ latencyRate: 0.3, maxLatency: 500, failRate: 0.2 });
  storage.inject('hang', 1, ['write']);
  clock.setSystemTime(clock.now() - 3_600_000);
  await clock.tickAsync(60_000);
  storage.heal();
  await clock.tickAsync(120_000);
  expect(checker.checkLiveness(['fab-a'], 65_000, clock.monotonic())).toEqual([]);
  checker.assertNone();
  expect(calls.length).toBeGreaterThanOrEqual(3);
  expect(errors.every((name) => name === 'StorageError' || name === 'InjectedFaultError')).toBe(true);
  const stopped = await Promise.race([scheduler.stop().then(() => 'settled'), new Promise((r) => setTimeout(() => r('deadlock'), 5_000))]);
  expect(stopped).toBe('settled');
});
