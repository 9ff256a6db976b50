/**
 * Issue 9, smaller cases: records and answers from any storage are validated before use. A bad
 * record is reported through `error` and handled as unreadable; it never crashes the host,
 * never silences the schedule and never makes the scheduler spin.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStorage, StorageError, initialState, normalizeFabric, type FabricRecord } from '../../src/index.js';
import { createFakeClock } from '../../src/testing.js';
import { SECOND, T0, collectUnhandled, passThroughStorage, setup, settleOrAbandon, spinBreaker, tickUntil } from './helpers.js';

const INTERVAL = SECOND;
const definition = (id: string) => normalizeFabric({ id, syncInterval: INTERVAL }, { syncTimeout: 0 });

describe('a record with state: null is reported, not a crash', () => {
  it('a custom storage returning state: null gives an error event, no unhandled rejection, and other fabrics keep running', async () => {
    const bad = { definition: definition('bad'), state: null, version: 1 } as unknown as FabricRecord;
    const custom = passThroughStorage(new MemoryStorage(), {
      get: async (inner, id) => (id === 'bad' ? bad : inner.get(id)),
      list: async (inner) => ({ records: [...(await inner.list()).records, bad], corrupt: [] }),
    });
    const h = setup({ storage: custom.storage, housekeepingInterval: 0 });
    await h.scheduler.upsertFabric({ id: 'good', syncInterval: INTERVAL });
    const unhandled = await collectUnhandled(async () => {
      await h.scheduler.start();
      await h.clock.tickAsync(5 * INTERVAL);
      await h.clock.flush();
    });
    expect(unhandled.map((r) => String(r))).toEqual([]);
    expect(h.events.of('error').map((e) => e.fabricId)).toContain('bad');
    expect(h.scheduler.running).toBe(true);
    expect(h.callsOf('good').length).toBeGreaterThanOrEqual(5);
    expect(h.callsOf('bad')).toEqual([]);
    await settleOrAbandon(h.clock, h.scheduler.stop());
  });
});

describe('a write answered without its record is an error, not silence', () => {
  it('a write() answering { ok: true } with no record is reported as StorageError, not endless cancelled skips', async () => {
    let dropRecord = false;
    const custom = passThroughStorage(new MemoryStorage(), {
      write: (inner, id, value, expected) => {
        const result = inner.write(id, value, expected);
        return dropRecord && result.ok ? ({ ok: true } as never) : result;
      },
    });
    const h = setup({ storage: custom.storage, housekeepingInterval: 0 });
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: INTERVAL });
    await h.scheduler.start();
    await h.clock.tickAsync(100);
    dropRecord = true;
    await h.clock.tickAsync(10 * INTERVAL);
    const cancelled = h.events.of('sync:skipped', 'f').filter((e) => e.reason === 'cancelled').length;
    const storageErrors = h.events.of('error').filter((e) => e.error instanceof StorageError).length;
    expect({ cancelled: cancelled <= 2 ? 'few' : cancelled, storageErrors: storageErrors > 0 }).toEqual({ cancelled: 'few', storageErrors: true });
    await settleOrAbandon(h.clock, h.scheduler.stop());
  });
});

describe('an absurd stored anchor never makes the scheduler spin', () => {
  const absurd = { ...initialState(), status: 'in_sync' as const, lastSyncAt: T0 - INTERVAL, lastAttemptAt: T0 - INTERVAL, anchorAt: -1e20, lastSlotAt: -1e20, nextSyncAt: T0 };

  it('the memory storage refuses to store an anchorAt of -1e20', () => {
    expect(() => new MemoryStorage().write('f', { definition: definition('f'), state: absurd }, null)).toThrow(StorageError);
  });

  it('a stored anchorAt of -1e20 (from a custom storage) runs at most once per interval', async () => {
    const record = Object.freeze({ definition: definition('f'), state: Object.freeze(absurd), version: 1 }) as FabricRecord;
    const custom = passThroughStorage(new MemoryStorage(), {
      get: async (inner, id) => (id === 'f' ? ((await inner.get(id)) ?? record) : inner.get(id)),
      list: async (inner) => {
        const { records } = await inner.list();
        return { records: records.some((r) => r.definition.id === 'f') ? records : [...records, record], corrupt: [] };
      },
    });
    // a scheduler spinning in microtasks is stopped by the clock after 100,000 reads
    const clock = spinBreaker(createFakeClock({ now: T0, loopLimit: 10_000 }), 100_000);
    const h = setup({ clock, storage: custom.storage });
    await collectUnhandled(async () => {
      await h.scheduler.start();
      await tickUntil(h.clock, () => clock.tripped() || h.calls.length > 11, 10 * INTERVAL, INTERVAL).catch(() => undefined);
    });
    expect({ spun: clock.tripped(), calls: h.calls.length <= 11 ? 'at most 11' : h.calls.length }).toEqual({ spun: false, calls: 'at most 11' });
    await settleOrAbandon(h.clock, h.scheduler.stop({ inFlight: 'abort' })).catch(() => undefined);
  });
});
