/**
 * Scheduler-level behaviour on RedisStorage: persistence across a stop/start, status shared
 * between schedulers, corrupt records. Fake clock on ioredis-mock where real time is not the point.
 */
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createScheduler, type MissedRunPolicy, type Scheduler, type SchedulerEvents, type SyncContext } from '../../src/index.js';
import { RedisStorage } from '../../src/redis/index.js';
import { createFakeClock, type FakeClock } from '../../src/testing.js';
import { mockClient, randomPrefix } from '../helpers/redis.js';

const MIN = 60_000;
const T0 = Date.parse('2026-03-01T00:00:00Z');

const mock = mockClient();
afterAll(() => mock.disconnect());

interface Run {
  fabricId: string;
  scheduledAt: number;
  start: number;
  trigger: SyncContext['trigger'];
  token: number;
}

function harness(clock: FakeClock, prefix: string, options: { missedRunPolicy?: MissedRunPolicy; client?: Redis } = {}) {
  const runs: Run[] = [];
  const events: Array<{ name: keyof SchedulerEvents; payload: Record<string, unknown> }> = [];
  const storage = new RedisStorage({ client: options.client ?? mock, prefix, maxClockSkew: Infinity });
  const scheduler = createScheduler({
    clock,
    storage,
    ...(options.missedRunPolicy ? { missedRunPolicy: options.missedRunPolicy } : {}),
    executor: (fabric, ctx) => {
      runs.push({ fabricId: fabric.id, scheduledAt: ctx.scheduledAt, start: clock.now(), trigger: ctx.trigger, token: ctx.fencingToken });
    },
  });
  for (const name of ['sync:missed', 'sync:skipped', 'sync:failed', 'error', 'sync:succeeded'] as const) {
    scheduler.on(name, (payload: unknown) => events.push({ name, payload: payload as Record<string, unknown> }));
  }
  return { runs, events, storage, scheduler, of: (name: keyof SchedulerEvents) => events.filter((e) => e.name === name).map((e) => e.payload) };
}

/** Lets ioredis-mock's (real) async work finish: ticks 0 ms on the fake clock until the scheduler is idle. */
async function settle(clock: FakeClock, s: Scheduler): Promise<void> {
  for (let i = 0; i < 50; i++) {
    await clock.tickAsync(0);
    await new Promise((r) => setImmediate(r));
    if (s.inFlightCount === 0 && i > 3) break;
  }
}

async function advance(clock: FakeClock, s: Scheduler, ms: number, step = 1_000): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    await clock.tickAsync(Math.min(step, ms - t));
    await settle(clock, s);
  }
}

describe('RedisStorage persistence across a scheduler stop/start (fake clock, ioredis-mock)', () => {
  it('a calendar fabric and a spread fabric round-trip through Redis: a new scheduler resumes them on their occurrences and offsets', async () => {
    const prefix = randomPrefix('persist-cal');
    const clock = createFakeClock({ now: T0 + 10_000 });
    const first = harness(clock, prefix);
    await first.scheduler.upsertFabric({ id: 'cal', schedule: { cron: '0 */2 * * * *', timeZone: 'America/New_York' } });
    await first.scheduler.upsertFabric({ id: 'spr', syncInterval: MIN, phase: 'spread' });
    await first.scheduler.start();
    await settle(clock, first.scheduler);
    await advance(clock, first.scheduler, 5 * MIN);
    expect(first.runs.filter((r) => r.fabricId === 'cal').map((r) => r.scheduledAt - T0)).toEqual([10_000, 2 * MIN, 4 * MIN]);
    await first.scheduler.stop();
    await clock.tickAsync(5 * MIN); // down from 5:10 to 10:10: 6 and 8 and 10 min were missed
    const second = harness(clock, prefix, { missedRunPolicy: 'once' });
    await second.scheduler.start();
    await settle(clock, second.scheduler);
    expect(second.runs.filter((r) => r.fabricId === 'cal').map((r) => [r.scheduledAt - T0, r.trigger])).toEqual([[10 * MIN, 'catch-up']]);
    expect(second.of('sync:missed').filter((m) => m['fabricId'] === 'cal')).toEqual([{ fabricId: 'cal', count: 2, firstSlotAt: T0 + 6 * MIN, lastSlotAt: T0 + 8 * MIN, reason: 'downtime' }]);
    const status = await second.scheduler.getFabricStatus('cal');
    expect(status).toMatchObject({ syncInterval: null, schedule: { cron: '0 */2 * * * *', timeZone: 'America/New_York' }, nextSyncAt: T0 + 12 * MIN });
    await advance(clock, second.scheduler, 4 * MIN);
    expect(second.runs.filter((r) => r.fabricId === 'cal').map((r) => r.scheduledAt - T0)).toEqual([10 * MIN, 12 * MIN, 14 * MIN]);
    const spr = [...first.runs, ...second.runs].filter((r) => r.fabricId === 'spr').slice(1);
    const offset = spr[0]!.scheduledAt % MIN;
    expect(spr.every((r) => r.scheduledAt % MIN === offset)).toBe(true);
    expect((await second.storage.get('spr'))!.definition.phase).toBe('spread');
    await second.scheduler.stop();
  });

  for (const policy of ['once', 'skip', 'all'] as const) {
    it(`a new scheduler on the same prefix resumes every fabric on its grid, missedRunPolicy '${policy}'`, async () => {
      const prefix = randomPrefix('persist');
      const clock = createFakeClock({ now: T0 });
      const first = harness(clock, prefix);
      await first.scheduler.upsertFabric({ id: 'a', syncInterval: MIN });
      await first.scheduler.upsertFabric({ id: 'b', syncInterval: 5 * MIN });
      await first.scheduler.start();
      await settle(clock, first.scheduler);
      await advance(clock, first.scheduler, 2 * MIN + 30_000);
      expect(first.runs.filter((r) => r.fabricId === 'a').map((r) => r.scheduledAt - T0)).toEqual([0, MIN, 2 * MIN]);
      expect(first.runs.filter((r) => r.fabricId === 'b').map((r) => r.scheduledAt - T0)).toEqual([0]);
      await first.scheduler.stop();

      // downtime: 5 minutes more, nothing running
      await clock.tickAsync(5 * MIN);
      const now = clock.now(); // T0 + 7.5 min
      const second = harness(clock, prefix, { missedRunPolicy: policy });
      await second.scheduler.start(); // no upserts: everything comes from Redis
      await settle(clock, second.scheduler);
      const aNow = second.runs.filter((r) => r.fabricId === 'a');
      const missedA = second.of('sync:missed').filter((m) => m['fabricId'] === 'a');
      // a's slots 3..7 min were missed (5 slots); the latest due is 7 min
      if (policy === 'once') {
        expect(aNow.map((r) => [r.scheduledAt - T0, r.trigger, r.start])).toEqual([[7 * MIN, 'catch-up', now]]);
        expect(missedA).toEqual([{ fabricId: 'a', count: 4, firstSlotAt: T0 + 3 * MIN, lastSlotAt: T0 + 6 * MIN, reason: 'downtime' }]);
      } else if (policy === 'skip') {
        expect(aNow).toEqual([]);
        expect(missedA).toEqual([{ fabricId: 'a', count: 5, firstSlotAt: T0 + 3 * MIN, lastSlotAt: T0 + 7 * MIN, reason: 'downtime' }]);
      } else {
        expect(aNow.map((r) => r.scheduledAt - T0)).toEqual([3, 4, 5, 6, 7].map((k) => k * MIN));
        expect(missedA).toEqual([]);
      }
      // b (5 min grid) has one slot due (5 min): late, but nothing was missed, so every policy serves it
      const bNow = second.runs.filter((r) => r.fabricId === 'b');
      expect(bNow.map((r) => [r.scheduledAt - T0, r.start])).toEqual([[5 * MIN, now]]);
      // back on the original grid afterwards
      await advance(clock, second.scheduler, 3 * MIN);
      const later = second.runs.filter((r) => r.fabricId === 'a' && r.start > now);
      expect(later.map((r) => r.scheduledAt - T0)).toEqual([8 * MIN, 9 * MIN, 10 * MIN]);
      expect(later.map((r) => r.start - T0)).toEqual([8 * MIN, 9 * MIN, 10 * MIN]);
      expect(second.runs.filter((r) => r.fabricId === 'b' && r.start > now).map((r) => r.scheduledAt - T0)).toEqual([10 * MIN]);
      // fencing tokens kept climbing across the restart
      const tokens = [...first.runs, ...second.runs].filter((r) => r.fabricId === 'a').map((r) => r.token);
      expect(tokens).toEqual([...tokens].sort((x, y) => x - y));
      expect(new Set(tokens).size).toBe(tokens.length);
      expect(second.of('error')).toEqual([]);
      await second.scheduler.stop();
    });
  }
});

describe('status shared through Redis', () => {
  it('what one scheduler writes, another reads with getFabricStatus and listFabrics', async () => {
    const prefix = randomPrefix('status');
    const clock = createFakeClock({ now: T0 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const storage = new RedisStorage({ client: mock, prefix, maxClockSkew: Infinity });
    const writer = createScheduler({ clock, storage, executor: () => gate });
    const reader = createScheduler({ clock, storage: new RedisStorage({ client: mock, prefix, maxClockSkew: Infinity }), executor: () => undefined });
    await writer.upsertFabric({ id: 'x', syncInterval: MIN, metadata: { site: 'par1' } });
    expect(await reader.getFabricStatus('x')).toMatchObject({ id: 'x', status: 'never_synced', syncInterval: MIN, enabled: true });
    await writer.start();
    await settle(clock, writer);
    expect(await reader.getFabricStatus('x')).toMatchObject({ status: 'syncing', lastAttemptAt: T0 });
    release();
    await settle(clock, writer);
    await new Promise((r) => setTimeout(r, 20));
    expect(await reader.getFabricStatus('x')).toMatchObject({ status: 'in_sync', lastSyncAt: T0, nextSyncAt: T0 + MIN, lastError: null });
    expect((await reader.listFabrics()).map((f) => [f.id, f.status])).toEqual([['x', 'in_sync']]);
    // out_of_sync is derived by the reader from lastSyncAt
    await writer.stop();
    await clock.tickAsync(3 * MIN);
    expect(await reader.getFabricStatus('x')).toMatchObject({ status: 'out_of_sync' });
  });
});

describe('corrupt records', () => {
  it('are reported on start; only that fabric is affected, and it starts over when its host defines it again', async () => {
    const prefix = randomPrefix('corrupt');
    const clock = createFakeClock({ now: T0 });
    const first = harness(clock, prefix);
    for (const id of ['a', 'b', 'c']) await first.scheduler.upsertFabric({ id, syncInterval: MIN });
    await first.scheduler.start();
    await settle(clock, first.scheduler);
    expect(first.runs).toHaveLength(3);
    await first.scheduler.stop();
    await mock.hset(first.storage.keys.record('b'), 'd', '{not json');

    const second = harness(clock, prefix);
    await second.scheduler.start();
    await settle(clock, second.scheduler);
    const errors = second.of('error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ operation: 'load', fabricId: 'b' });
    expect(String((errors[0]!['error'] as Error).message)).toMatch(/unreadable record for fabric "b"/);
    await advance(clock, second.scheduler, 2 * MIN);
    expect(second.runs.filter((r) => r.fabricId === 'a')).toHaveLength(2);
    expect(second.runs.filter((r) => r.fabricId === 'c')).toHaveLength(2);
    expect(second.runs.filter((r) => r.fabricId === 'b')).toHaveLength(0);
    expect((await second.scheduler.listFabrics()).map((f) => f.id)).toEqual(['a', 'c']);
    // the host defines it again: it starts over as never synced and syncs at once
    const status = await second.scheduler.upsertFabric({ id: 'b', syncInterval: MIN });
    expect(status.status).toBe('never_synced');
    await settle(clock, second.scheduler);
    const bRuns = second.runs.filter((r) => r.fabricId === 'b');
    expect(bRuns).toHaveLength(1);
    expect(bRuns[0]!.token).toBeGreaterThan(first.runs.find((r) => r.fabricId === 'b')!.token); // fencing survived the corruption
    await second.scheduler.stop();
  });
});
