/**
 * Issue 13, item 5: run history. The last `historySize` runs per fabric kept in the storage,
 * `getFabricHistory(id, { limit })` newest first, written with the outcome in one write.
 */
import { describe, expect, it } from 'vitest';
import { HistoryUnsupportedError, InProcessSingleFlight, InvalidOptionError, MemoryStorage, createScheduler, type Storage } from '../../src/index.js';
import { SECOND, T0, setup, settleOrAbandon, sleepOn, tickUntil } from '../regressions/helpers.js';

/** A storage that is not a MemoryStorage, passing every call to `inner`, with no readHistory. */
function wrap(inner: MemoryStorage): Storage {
  return { get: (id) => inner.get(id), list: () => inner.list(), write: (id, v, e, o) => inner.write(id, v, e, o), delete: (id, e) => inner.delete(id, e) };
}

describe('run history', () => {
  it('keeps the last historySize runs, newest first, with timing to the ms, trigger, outcome, reason, error and token', async () => {
    let n = 0;
    const s = setup({
      historySize: 3,
      retry: false,
      work: async (_f, _ctx, clock) => {
        n++;
        await sleepOn(clock, 25);
        if (n === 2) throw new Error('controller said 503');
      },
    });
    await s.scheduler.upsertFabric({ id: 'fab', syncInterval: 10 * SECOND });
    await s.scheduler.start();
    await tickUntil(s.clock, () => s.events.of('sync:succeeded').length + s.events.of('sync:failed').length >= 4, 60 * SECOND, 5);
    const history = await s.scheduler.getFabricHistory('fab');
    expect(history).toHaveLength(3);
    const finished = [...s.events.of('sync:succeeded'), ...s.events.of('sync:failed')].sort((a, b) => b.finishedAt - a.finishedAt);
    // newest first; runs 4, 3, 2 (the first one fell off)
    expect(history.map((h) => h.fencingToken)).toEqual(finished.slice(0, 3).map((e) => e.fencingToken));
    expect(history[0]).toEqual({ scheduledAt: T0 + 30 * SECOND, startedAt: T0 + 30 * SECOND, finishedAt: T0 + 30 * SECOND + 25, trigger: 'schedule', outcome: 'succeeded', durationMs: 25, fencingToken: finished[0]!.fencingToken });
    expect(history[2]).toEqual({ scheduledAt: T0 + 10 * SECOND, startedAt: T0 + 10 * SECOND, finishedAt: T0 + 10 * SECOND + 25, trigger: 'schedule', outcome: 'failed', reason: 'error', error: 'controller said 503', durationMs: 25, fencingToken: finished[2]!.fencingToken });
    expect(await s.scheduler.getFabricHistory('fab', { limit: 1 })).toEqual(history.slice(0, 1));
    expect(await s.scheduler.getFabricHistory('nobody')).toEqual([]);
    await settleOrAbandon(s.clock, s.scheduler.stop());
  });

  it('records a manual run and a timeout; names the replica when the single-flight has one', async () => {
    const flight = Object.assign(new InProcessSingleFlight(), { replicaId: 'replica-a' });
    const s = setup({ singleFlight: flight, retry: false, work: (f, _ctx, clock) => sleepOn(clock, f.id === 'slow' ? 5_000 : 7) });
    await s.scheduler.upsertFabric({ id: 'slow', syncInterval: 60 * SECOND, syncTimeout: 1_000 });
    await s.scheduler.start();
    await tickUntil(s.clock, () => s.events.of('sync:failed').length >= 1, 10 * SECOND, 50);
    const manual = s.scheduler.syncNow('slow');
    await tickUntil(s.clock, () => s.events.of('sync:failed').length >= 2, 10 * SECOND, 50);
    await manual;
    const [last, first] = await s.scheduler.getFabricHistory('slow');
    expect(first).toMatchObject({ trigger: 'schedule', outcome: 'failed', reason: 'timeout', durationMs: 1_000, replica: 'replica-a' });
    expect(first!.error).toMatch(/1000 ms/);
    expect(last).toMatchObject({ trigger: 'manual', outcome: 'failed', reason: 'timeout', replica: 'replica-a' });
    expect(last!.finishedAt - last!.startedAt).toBe(1_000);
    await settleOrAbandon(s.clock, s.scheduler.stop());
  });

  it('historySize 0 writes nothing (no history option reaches the storage)', async () => {
    const seen: unknown[] = [];
    const inner = new MemoryStorage();
    const storage: Storage = {
      ...wrap(inner),
      readHistory: (id, limit) => inner.readHistory(id, limit),
      write: (id, value, expected, options) => {
        seen.push(options?.history);
        return inner.write(id, value, expected, options);
      },
    };
    const s = setup({ storage, historySize: 0 });
    await s.scheduler.upsertFabric({ id: 'a', syncInterval: 10 * SECOND });
    await s.scheduler.start();
    await tickUntil(s.clock, () => s.events.of('sync:succeeded').length >= 3, 60 * SECOND, 5);
    expect(seen.length).toBeGreaterThanOrEqual(7);
    expect(seen.filter((h) => h !== undefined)).toEqual([]);
    expect(await inner.readHistory('a', 20)).toEqual([]);
    await settleOrAbandon(s.clock, s.scheduler.stop());
  });

  it('a custom storage without readHistory keeps working; getFabricHistory gives a typed error', async () => {
    const inner = new MemoryStorage();
    const storage = wrap(inner);
    const s = setup({ storage });
    await s.scheduler.upsertFabric({ id: 'a', syncInterval: 10 * SECOND });
    await s.scheduler.start();
    await tickUntil(s.clock, () => s.events.of('sync:succeeded').length >= 1, 20 * SECOND, 5);
    await expect(s.scheduler.getFabricHistory('a')).rejects.toBeInstanceOf(HistoryUnsupportedError);
    expect(await inner.readHistory('a', 20)).toEqual([]); // the scheduler never asked for history
    await settleOrAbandon(s.clock, s.scheduler.stop());
  });

  it('refuses bad options with typed errors naming the field', async () => {
    expect(() => createScheduler({ executor: () => undefined, historySize: -1 })).toThrow(InvalidOptionError);
    expect(() => createScheduler({ executor: () => undefined, historySize: 1.5 })).toThrow(/historySize/);
    expect(() => createScheduler({ executor: () => undefined, historySize: 1_001 })).toThrow(/historySize/);
    const s = createScheduler({ executor: () => undefined });
    await expect(s.getFabricHistory('a', { limit: 0 })).rejects.toThrow(/limit/);
    await expect(s.getFabricHistory('a', { limit: 1_001 })).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(s.getFabricHistory('')).rejects.toThrow(/id/);
    await expect(s.getFabricHistory('a', null as never)).rejects.toBeInstanceOf(InvalidOptionError);
  });

  it('a bad entry from a custom adapter is a StorageError naming the field, never a TypeError', async () => {
    const inner = new MemoryStorage();
    const storage: Storage = { ...wrap(inner), readHistory: async () => [{ scheduledAt: 'x' }] as never };
    const s = setup({ storage });
    await expect(s.scheduler.getFabricHistory('a')).rejects.toThrow(/scheduledAt/);
  });
});
