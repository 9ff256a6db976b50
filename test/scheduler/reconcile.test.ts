/**
 * Issue 13, item 1: `reconcile(definitions)` makes the stored set equal to the host's source of
 * truth — validated all or nothing, idempotent, converging after a storage failure, and removals
 * that reach every scheduler sharing the storage.
 */
import { describe, expect, it } from 'vitest';
import { InvalidFabricError, MemoryStorage, StorageError, type FabricDefinition } from '../../src/index.js';
import { FaultyStorage } from '../../src/testing.js';
import { SECOND, settleOrAbandon, setup } from '../regressions/helpers.js';

const defs = (ids: string[], interval = 60 * SECOND): FabricDefinition[] => ids.map((id) => ({ id, syncInterval: interval }));

describe('reconcile()', () => {
  it('adds, updates and removes to match the given set, and reports the ids', async () => {
    const s = setup();
    await s.scheduler.start();
    await s.scheduler.upsertFabrics(defs(['a', 'b', 'c']));
    const result = await s.scheduler.reconcile([...defs(['b', 'd']), { id: 'c', syncInterval: 30 * SECOND }]);
    expect(result).toEqual({ added: ['d'], updated: ['c'], removed: ['a'] });
    expect((await s.scheduler.listFabrics()).map((f) => [f.id, f.syncInterval])).toEqual([['b', 60_000], ['c', 30_000], ['d', 60_000]]);
    expect(s.events.of('fabric:removed').map((e) => e.fabricId)).toEqual(['a']);
    // idempotent
    expect(await s.scheduler.reconcile([...defs(['b', 'd']), { id: 'c', syncInterval: 30 * SECOND }])).toEqual({ added: [], updated: [], removed: [] });
    // the empty set removes everything
    expect(await s.scheduler.reconcile([])).toEqual({ added: [], updated: [], removed: ['b', 'c', 'd'] });
    expect(await s.scheduler.listFabrics()).toEqual([]);
    await settleOrAbandon(s.clock, s.scheduler.stop());
  });

  it('validates all or nothing: one bad definition refuses the call and changes nothing', async () => {
    const s = setup();
    await s.scheduler.upsertFabrics(defs(['a']));
    const error = await s.scheduler.reconcile([...defs(['b']), { id: 'c', syncInterval: -5 }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidFabricError);
    expect((error as InvalidFabricError).field).toBe('definitions[1].syncInterval');
    const dup = await s.scheduler.reconcile(defs(['b', 'b'])).catch((e: unknown) => e);
    expect(dup).toBeInstanceOf(InvalidFabricError);
    expect((await s.scheduler.listFabrics()).map((f) => f.id)).toEqual(['a']);
  });

  it('after a storage failure it rejects with StorageError, and a second call converges', async () => {
    const inner = new MemoryStorage();
    const storage = new FaultyStorage(inner, { seed: 7 });
    const s = setup({ storage, housekeepingInterval: 0 });
    await s.scheduler.upsertFabrics(defs(['a', 'b', 'c', 'd']));
    storage.inject('fail', 2, ['delete']);
    const error = await s.scheduler.reconcile(defs(['a', 'e'])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    const again = await s.scheduler.reconcile(defs(['a', 'e']));
    expect(again.added).toEqual([]);
    expect((await inner.list()).records.map((r) => r.definition.id).sort()).toEqual(['a', 'e']);
    expect(await s.scheduler.reconcile(defs(['a', 'e']))).toEqual({ added: [], updated: [], removed: [] });
  });

  it("removals reach another scheduler sharing the storage (its fabric stops there within a housekeeping pass)", async () => {
    const storage = new MemoryStorage();
    const a = setup({ storage, housekeepingInterval: SECOND });
    const b = setup({ storage, housekeepingInterval: SECOND, clock: a.clock });
    await a.scheduler.start();
    await b.scheduler.start();
    await a.scheduler.reconcile(defs(['x', 'y'], SECOND));
    await a.clock.tickAsync(3 * SECOND);
    await b.scheduler.reconcile(defs(['y'], SECOND)); // the last call wins
    await a.clock.tickAsync(2 * SECOND);
    expect(a.events.of('fabric:removed', 'x')).toMatchObject([{ remote: true }]);
    const runs = a.callsOf('x').length + b.callsOf('x').length;
    await a.clock.tickAsync(5 * SECOND);
    expect(a.callsOf('x').length + b.callsOf('x').length).toBe(runs);
    await settleOrAbandon(a.clock, a.scheduler.stop());
    await settleOrAbandon(a.clock, b.scheduler.stop());
  });
});
