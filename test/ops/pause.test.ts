import { describe, expect, it } from 'vitest';
import { InProcessSingleFlight, InvalidOptionError, MemoryStorage, UnknownFabricError, createScheduler, type PauseChangedEvent } from '../../src/index.js';
import { RedisStorage } from '../../src/redis/index.js';
import { createFakeClock } from '../../src/testing.js';
import { T0, makeHarness } from '../helpers/harness.js';
import { cleanupPrefix, randomPrefix, realClient } from '../helpers/redis.js';

const MIN = 60_000;

describe('pause and resume', () => {
  it('a paused fabric keeps its grid, runs nothing, and on resume follows missedRunPolicy once', async () => {
    const h = makeHarness({ behaviour: () => undefined });
    await h.scheduler.upsertFabric({ id: 'a', syncInterval: MIN });
    await h.scheduler.upsertFabric({ id: 'b', syncInterval: MIN });
    await h.scheduler.start();
    await h.clock.tickAsync(0);
    const paused: PauseChangedEvent[] = [];
    h.scheduler.on('paused', (e) => paused.push(e));
    await h.scheduler.pause({ fabric: 'a' });
    expect(paused).toEqual([{ scope: 'fabric', target: 'a', remote: false, at: T0 }]);
    expect(await h.scheduler.getFabricStatus('a')).toMatchObject({ paused: true });
    expect(await h.scheduler.getFabricStatus('b')).toMatchObject({ paused: false });
    await h.clock.tickAsync(5 * MIN + 30_000);
    expect(h.runsOf('a')).toHaveLength(1);
    expect(h.runsOf('b')).toHaveLength(6);
    await h.scheduler.resume({ fabric: 'a' });
    await h.clock.tickAsync(0);
    // policy 'once': one catch-up at once for the latest missed slot, the 4 before it missed as 'paused'
    expect(h.runsOf('a')[1]).toMatchObject({ start: T0 + 5 * MIN + 30_000, scheduledAt: T0 + 5 * MIN, trigger: 'catch-up' });
    expect(h.eventsOf('sync:missed', 'a')).toEqual([{ fabricId: 'a', count: 4, firstSlotAt: T0 + MIN, lastSlotAt: T0 + 4 * MIN, reason: 'paused' }]);
    await h.clock.tickAsync(MIN);
    expect(h.runsOf('a')[2]).toMatchObject({ start: T0 + 6 * MIN, scheduledAt: T0 + 6 * MIN, trigger: 'schedule' });
    await h.stop();
  });

  it("with missedRunPolicy 'skip' a resumed fabric waits for its next slot", async () => {
    const h = makeHarness({ behaviour: () => undefined, missedRunPolicy: 'skip' });
    await h.scheduler.upsertFabric({ id: 'a', syncInterval: MIN });
    await h.scheduler.start();
    await h.clock.tickAsync(0);
    await h.scheduler.pause({ fabric: 'a' });
    await h.clock.tickAsync(2 * MIN + 1_000);
    await h.scheduler.resume({ fabric: 'a' });
    await h.clock.tickAsync(MIN - 1_000);
    expect(h.runsOf('a').map((r) => r.start - T0)).toEqual([0, 3 * MIN]);
    expect(h.eventsOf('sync:missed', 'a')[0]).toMatchObject({ count: 2, reason: 'paused' });
    await h.stop();
  });

  it('pausing a queue stops its fabrics only; pausing the scheduler stops all, yet syncNow still runs', async () => {
    const h = makeHarness({ behaviour: () => undefined, queues: { git: {} } });
    await h.scheduler.upsertFabric({ id: 'repo', syncInterval: MIN, queue: 'git' });
    await h.scheduler.upsertFabric({ id: 'fab', syncInterval: MIN });
    await h.scheduler.start();
    await h.clock.tickAsync(0);
    await h.scheduler.pause({ queue: 'git' });
    expect(h.scheduler.pauses()).toEqual({ scheduler: false, queues: ['git'], fabrics: [] });
    expect(h.scheduler.metrics().queues['git']!.paused).toBe(true);
    await h.clock.tickAsync(2 * MIN);
    expect(h.runsOf('repo')).toHaveLength(1);
    expect(h.runsOf('fab')).toHaveLength(3);
    await h.scheduler.pause();
    expect(h.scheduler.metrics().paused).toBe(true);
    await h.clock.tickAsync(2 * MIN);
    expect(h.runsOf('fab')).toHaveLength(3);
    expect(await h.scheduler.syncNow('fab')).toMatchObject({ status: 'succeeded', trigger: 'manual' });
    await h.clock.tickAsync(2 * MIN);
    expect(h.runsOf('fab')).toHaveLength(4);
    await h.scheduler.resume();
    await h.clock.tickAsync(0);
    expect(h.runsOf('fab')).toHaveLength(5); // catch-up
    expect(h.runsOf('repo')).toHaveLength(1); // its queue is still paused
    await h.scheduler.resume({ queue: 'git' });
    await h.clock.tickAsync(0);
    expect(h.runsOf('repo')).toHaveLength(2);
    await expect(h.scheduler.pause({ queue: 'nope' })).rejects.toThrow(InvalidOptionError);
    await expect(h.scheduler.pause({ fabric: 'nope' })).rejects.toThrow(UnknownFabricError);
    await h.stop();
  });

  it('pausing drops runs waiting for a lane (skipped "paused") and leaves a running one to finish', async () => {
    const h = makeHarness({ maxConcurrentSyncs: 1, behaviour: (_f, _c, clock) => new Promise<void>((r) => clock.setTimeout(() => r(), 1_000)) });
    await h.scheduler.upsertFabric({ id: 'a', syncInterval: MIN });
    await h.scheduler.upsertFabric({ id: 'b', syncInterval: MIN });
    await h.scheduler.start();
    await h.clock.tickAsync(0);
    expect(h.scheduler.backlogSize).toBe(1);
    await h.scheduler.pause();
    expect(h.scheduler.backlogSize).toBe(0);
    expect(h.eventsOf('sync:skipped', 'b')).toMatchObject([{ reason: 'paused' }]);
    await h.clock.tickAsync(1_000);
    expect(h.eventsOf('sync:succeeded', 'a')).toHaveLength(1);
    expect(h.scheduler.metrics().skippedByReason.paused).toBe(1);
    await h.stop();
  });

  it('a pause made by one scheduler reaches another sharing the storage within housekeepingInterval, and survives a restart', async () => {
    const clock = createFakeClock({ now: T0 });
    const storage = new MemoryStorage();
    const singleFlight = new InProcessSingleFlight();
    const runs: string[] = [];
    const make = (name: string) => createScheduler({ clock, storage, singleFlight, housekeepingInterval: 1_000, retry: false, executor: (f) => void runs.push(`${name}:${f.id}@${clock.now() - T0}`) });
    const a = make('A');
    const b = make('B');
    await a.upsertFabric({ id: 'f', syncInterval: 10_000 });
    await a.start();
    await b.start();
    await clock.tickAsync(0);
    const seen: PauseChangedEvent[] = [];
    b.on('paused', (e) => seen.push(e));
    await a.pause({ fabric: 'f' });
    await clock.tickAsync(1_000);
    expect(seen).toEqual([{ scope: 'fabric', target: 'f', remote: true, at: T0 + 1_000 }]);
    const before = runs.length;
    await clock.tickAsync(60_000);
    expect(runs.length).toBe(before);
    expect((await b.getFabricStatus('f'))!.paused).toBe(true);
    // a third scheduler started later loads the pause
    const c = make('C');
    await c.start();
    expect(c.pauses().fabrics).toEqual(['f']);
    await b.resume({ fabric: 'f' });
    await clock.tickAsync(1_000);
    expect(runs.length).toBe(before + 1); // one catch-up, by whichever got the lock
    await Promise.all([a.stop(), b.stop(), c.stop()]);
    expect(clock.countTimers()).toBe(0);
  });

  it('the pause travels through RedisStorage (its change feed) like any record', async () => {
    const clock = createFakeClock({ now: T0 });
    const client = realClient();
    const prefix = randomPrefix('pause');
    // A fake clock far from Redis' TIME: the claimer clock check is off (pauses are not claims).
    const mk = () => createScheduler({ clock, storage: new RedisStorage({ client, prefix, maxClockSkew: Infinity }), housekeepingInterval: 1_000, executor: () => undefined });
    const a = mk();
    const b = mk();
    await a.upsertFabric({ id: 'f', syncInterval: 10_000 });
    await a.start();
    await b.start();
    await a.pause();
    // Fake time for the housekeeping timer, real time for Redis to answer (bounded: 10 s).
    const deadline = Date.now() + 10_000;
    while (!b.pauses().scheduler && Date.now() < deadline) {
      await clock.tickAsync(100);
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(b.pauses().scheduler).toBe(true);
    expect((await b.listFabrics()).map((f) => f.id)).toEqual(['f']); // the control record is not a fabric
    await a.stop();
    await b.stop();
    await cleanupPrefix(client, prefix);
    client.disconnect();
  });
});
