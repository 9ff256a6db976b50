import { describe, expect, it } from 'vitest';
import { InvalidFabricError, InvalidOptionError, createScheduler } from '../../src/index.js';
import { createFakeClock } from '../../src/testing.js';
import { T0, makeHarness, sleepOn } from '../helpers/harness.js';

const MIN = 60_000;

/** Most runs of `ids` overlapping at any instant, from the harness run log. */
function peak(runs: Array<{ id: string; start: number; end: number | null }>, ids: Set<string>): number {
  const edges: Array<[number, number]> = [];
  for (const r of runs) if (ids.has(r.id)) edges.push([r.start, 1], [r.end ?? Number.POSITIVE_INFINITY, -1]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let n = 0;
  let max = 0;
  for (const [, d] of edges) max = Math.max(max, (n += d));
  return max;
}

describe('named queues', () => {
  it('bounds each queue by its own concurrency; slow git syncs never hold up fabric syncs', async () => {
    const h = makeHarness({
      queues: { git: { concurrency: 1 }, fabric: { concurrency: 4 } },
      behaviour: (f, _ctx, clock) => sleepOn(clock, f.queue === 'git' ? 20_000 : 100),
    });
    const git = ['repo-a', 'repo-b', 'repo-c'];
    const fab = ['f1', 'f2', 'f3', 'f4', 'f5', 'f6'];
    for (const id of git) await h.scheduler.upsertFabric({ id, syncInterval: MIN, queue: 'git' });
    for (const id of fab) await h.scheduler.upsertFabric({ id, syncInterval: 10_000, queue: 'fabric' });
    await h.scheduler.start();
    await h.clock.tickAsync(0);
    const m = h.scheduler.metrics();
    expect(m.queues['git']).toMatchObject({ inFlight: 1, backlog: 2, concurrency: 1 });
    expect(m.queues['fabric']).toMatchObject({ inFlight: 4, backlog: 2, concurrency: 4 });
    await h.clock.tickAsync(3 * MIN);
    expect(peak(h.runs, new Set(git))).toBe(1);
    expect(peak(h.runs, new Set(fab))).toBe(4);
    // every fabric sync started within 100 ms of its slot although git work was queued all along
    const late = h.runs.filter((r) => r.id.startsWith('f')).map((r) => r.start - r.scheduledAt);
    expect(Math.max(...late)).toBeLessThanOrEqual(100);
    // git repos took turns, 20 s each
    expect(h.runsOf('repo-a')[0]!.start).toBe(T0);
    expect(h.runsOf('repo-b')[0]!.start).toBe(T0 + 20_000);
    expect(h.runsOf('repo-c')[0]!.start).toBe(T0 + 40_000);
    expect(h.overlaps).toEqual([]);
    await h.stop();
  });

  it('gives free lanes to the higher-priority queue first, then the oldest due run', async () => {
    const h = makeHarness({
      maxConcurrentSyncs: 1,
      queues: { low: { priority: 0 }, high: { priority: 10 } },
      behaviour: (_f, _ctx, clock) => sleepOn(clock, 1_000),
    });
    await h.scheduler.upsertFabric({ id: 'blocker', syncInterval: MIN });
    await h.scheduler.start();
    await h.clock.tickAsync(0);
    for (const id of ['low-1', 'low-2']) await h.scheduler.upsertFabric({ id, syncInterval: MIN, queue: 'low' });
    await h.clock.tickAsync(10);
    for (const id of ['high-1', 'high-2']) await h.scheduler.upsertFabric({ id, syncInterval: MIN, queue: 'high' });
    await h.clock.tickAsync(10_000);
    expect(h.runs.slice(0, 5).map((r) => r.id)).toEqual(['blocker', 'high-1', 'high-2', 'low-1', 'low-2']);
    await h.stop();
  });

  it('refuses a fabric naming an unknown queue, and bad queue options, saying what was expected', async () => {
    const s = createScheduler({ clock: createFakeClock({ now: T0 }), executor: () => undefined, queues: { git: { concurrency: 1 } } });
    const err = await s.upsertFabric({ id: 'x', syncInterval: 1000, queue: 'gti' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidFabricError);
    expect((err as InvalidFabricError).field).toBe('queue');
    expect((err as Error).message).toBe('Expected queue to be one of the queues configured in createScheduler ({ queues }): "default", "git", got string "gti" (fabric "x")');
    await expect(s.upsertFabric({ id: 'x', syncInterval: 1000, queue: '' })).rejects.toThrow(/Expected queue to be a non-empty string/);
    expect(await s.listFabrics()).toEqual([]);
    expect(() => createScheduler({ executor: () => undefined, queues: { git: { concurrency: 0 } } })).toThrow(InvalidOptionError);
    expect(() => createScheduler({ executor: () => undefined, queues: { git: { concurrency: 0 } } })).toThrow('Expected queues.git.concurrency to be a positive integer or Infinity, got 0');
    expect(() => createScheduler({ executor: () => undefined, queues: { git: { priority: Number.NaN } } })).toThrow('Expected queues.git.priority to be a finite number, got NaN');
    expect(s.queueNames).toEqual(['default', 'git']);
    expect((await s.upsertFabric({ id: 'y', syncInterval: 1000 })).queue).toBe('default');
  });

  it('clearBacklog(queue) drops queued runs without touching the grid; other queues keep theirs', async () => {
    const h = makeHarness({
      maxConcurrentSyncs: 1,
      queues: { bulk: {}, ops: {} },
      behaviour: (f, _ctx, clock) => sleepOn(clock, f.id === 'long' ? 5_000 : 10),
    });
    await h.scheduler.upsertFabric({ id: 'long', syncInterval: MIN });
    await h.scheduler.start();
    await h.clock.tickAsync(0);
    for (const id of ['b1', 'b2', 'b3']) await h.scheduler.upsertFabric({ id, syncInterval: MIN, queue: 'bulk' });
    await h.scheduler.upsertFabric({ id: 'o1', syncInterval: MIN, queue: 'ops' });
    await h.clock.tickAsync(0);
    expect(h.scheduler.metrics().queues['bulk']!.backlog).toBe(3);
    const manual = h.scheduler.syncNow('o1'); // already queued: skipped in-flight
    expect(await manual).toMatchObject({ status: 'skipped', reason: 'in-flight' });
    const cleared: unknown[] = [];
    h.scheduler.on('backlog:cleared', (e) => cleared.push(e));
    expect(h.scheduler.clearBacklog('bulk')).toBe(3);
    expect(cleared).toEqual([{ queue: 'bulk', count: 3, at: T0 }]);
    expect(h.scheduler.backlogSize).toBe(1);
    expect(h.eventsOf('sync:skipped').filter((e) => e.reason === 'cancelled').map((e) => e.fabricId)).toEqual(['b1', 'b2', 'b3']);
    expect(h.eventsOf('sync:missed', 'b1')).toEqual([{ fabricId: 'b1', count: 1, firstSlotAt: T0, lastSlotAt: T0, reason: 'cleared' }]);
    await h.clock.tickAsync(MIN + 100);
    // o1 ran after long; the bulk fabrics next ran on their grid (anchored when added, at T0)
    expect(h.runsOf('o1')[0]!.start).toBe(T0 + 5_000);
    for (const id of ['b1', 'b2', 'b3']) expect(h.runsOf(id)[0]!.scheduledAt).toBe(T0 + MIN);
    expect(() => h.scheduler.clearBacklog('nope')).toThrow('Expected queue to be one of the configured queues: "default", "bulk", "ops", got string "nope"');
    const queued = h.scheduler.backlogSize;
    expect(queued).toBeGreaterThan(0);
    expect(h.scheduler.clearBacklog()).toBe(queued);
    expect(h.scheduler.backlogSize).toBe(0);
    await h.stop();
  });
});
