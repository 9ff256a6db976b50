/**
 * `upsertFabrics(definitions)`: validated all or nothing, counts instead of statuses, one
 * `writeMany` round trip where the storage has it (one `write` per item otherwise), and each
 * fabric then behaves exactly as if `upsertFabric` had added or updated it.
 */
import { describe, expect, it } from 'vitest';
import { InvalidFabricError, MemoryStorage, type BatchWrite, type FabricWrite, type Storage, type WriteResult } from '../../src/index.js';
import { T0, makeHarness } from '../helpers/harness.js';

/** A MemoryStorage that counts calls, optionally without `writeMany`. */
function countingStorage(withWriteMany: boolean): { storage: Storage; calls: { write: number; writeMany: number; items: number } } {
  const inner = new MemoryStorage();
  const calls = { write: 0, writeMany: 0, items: 0 };
  const storage: Storage = {
    get: (id) => inner.get(id),
    list: () => inner.list(),
    delete: (id, v) => inner.delete(id, v),
    write: (id: string, value: FabricWrite, expected: number | null) => {
      calls.write++;
      return inner.write(id, value, expected);
    },
  };
  if (withWriteMany) {
    storage.writeMany = (writes: ReadonlyArray<BatchWrite>): Promise<WriteResult[]> => {
      calls.writeMany++;
      calls.items += writes.length;
      return inner.writeMany(writes);
    };
  }
  return { storage, calls };
}

describe('upsertFabrics', () => {
  it('adds many fabrics in one writeMany round trip; each syncs at once, then on its grid', async () => {
    const { storage, calls } = countingStorage(true);
    const h = makeHarness({ storage });
    await h.scheduler.start();
    const defs = Array.from({ length: 50 }, (_, i) => ({ id: `f${i}`, syncInterval: 1_000 }));
    await expect(h.scheduler.upsertFabrics(defs)).resolves.toEqual({ added: 50, updated: 0, unchanged: 0 });
    expect(calls.writeMany).toBe(1);
    expect(calls.items).toBe(50);
    await h.clock.tickAsync(2_100);
    for (let i = 0; i < 50; i++) expect(h.runsOf(`f${i}`).map((r) => r.scheduledAt - T0)).toEqual([0, 1_000, 2_000]);
    await h.stop();
  });

  it('counts updated and unchanged definitions, and does not write the unchanged ones', async () => {
    const { storage, calls } = countingStorage(true);
    const h = makeHarness({ storage });
    await h.scheduler.start();
    await h.scheduler.upsertFabrics([
      { id: 'a', syncInterval: 1_000 },
      { id: 'b', syncInterval: 1_000, metadata: { site: 'x' } },
      { id: 'c', syncInterval: 1_000 },
    ]);
    const events: string[] = [];
    h.scheduler.on('fabric:added', (e) => events.push(`added ${e.fabricId}`));
    h.scheduler.on('fabric:updated', (e) => events.push(`updated ${e.fabricId}`));
    const before = calls.items;
    const counts = await h.scheduler.upsertFabrics([
      { id: 'a', syncInterval: 1_000 },
      { id: 'b', syncInterval: 1_000, metadata: { site: 'x' } },
      { id: 'c', syncInterval: 2_000 },
      { id: 'd', syncInterval: 1_000 },
    ]);
    expect(counts).toEqual({ added: 1, updated: 1, unchanged: 2 });
    expect(calls.items - before).toBe(2);
    expect(events).toEqual(['updated c', 'added d']);
    expect((await h.scheduler.getFabricStatus('c'))?.syncInterval).toBe(2_000);
    await h.stop();
  });

  it('refuses the whole batch when one definition is bad, naming its index and field; nothing changes', async () => {
    const { storage, calls } = countingStorage(true);
    const h = makeHarness({ storage });
    await h.scheduler.start();
    const error = await h.scheduler.upsertFabrics([{ id: 'ok', syncInterval: 1_000 }, { id: 'bad', syncInterval: -5 }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidFabricError);
    expect((error as InvalidFabricError).field).toBe('definitions[1].syncInterval');
    expect((error as InvalidFabricError).fabricId).toBe('bad');
    expect((error as Error).message).toMatch(/^Expected definitions\[1\]\.syncInterval to be a positive integer/);
    const duplicate = await h.scheduler.upsertFabrics([{ id: 'x', syncInterval: 1_000 }, { id: 'x', syncInterval: 2_000 }]).catch((e: unknown) => e);
    expect((duplicate as InvalidFabricError).field).toBe('definitions[1].id');
    const queue = await h.scheduler.upsertFabrics([{ id: 'q', syncInterval: 1_000, queue: 'nope' }]).catch((e: unknown) => e);
    expect((queue as InvalidFabricError).field).toBe('definitions[0].queue');
    expect(calls.write + calls.writeMany).toBe(0);
    expect(await h.scheduler.listFabrics()).toEqual([]);
    await h.clock.tickAsync(1_000);
    expect(h.runsOf('ok')).toEqual([]);
    await h.stop();
  });

  it('falls back to one write per item on a storage without writeMany', async () => {
    const { storage, calls } = countingStorage(false);
    const h = makeHarness({ storage });
    await expect(h.scheduler.upsertFabrics([{ id: 'a', syncInterval: 1_000 }, { id: 'b', syncInterval: 1_000 }])).resolves.toEqual({ added: 2, updated: 0, unchanged: 0 });
    expect(calls.write).toBe(2);
    await h.scheduler.start();
    await h.clock.tickAsync(10);
    expect(h.runsOf('a')).toHaveLength(1);
    expect(h.runsOf('b')).toHaveLength(1);
    await h.stop();
  });

  it('before start: stored fabrics found changed under the batch go through read-modify-write, and start() schedules them all', async () => {
    const storage = new MemoryStorage();
    const first = makeHarness({ storage });
    await first.scheduler.upsertFabrics([{ id: 'a', syncInterval: 1_000 }, { id: 'b', syncInterval: 1_000 }]);
    // A second scheduler on the same storage knows nothing cached: its writes expect no record.
    const h = makeHarness({ storage });
    await expect(h.scheduler.upsertFabrics([{ id: 'a', syncInterval: 1_000 }, { id: 'b', syncInterval: 5_000 }, { id: 'c', syncInterval: 1_000 }])).resolves.toEqual({ added: 1, updated: 1, unchanged: 1 });
    expect((await storage.get('b'))?.definition.syncInterval).toBe(5_000);
    await h.scheduler.start();
    await h.clock.tickAsync(10);
    for (const id of ['a', 'b', 'c']) expect(h.runsOf(id)).toHaveLength(1);
    await h.stop();
  });

  it('MemoryStorage.writeMany applies each item with compare-and-set semantics, not atomically', async () => {
    const storage = new MemoryStorage();
    const { records } = await storage.list();
    expect(records).toEqual([]);
    const scheduler = makeHarness({ storage });
    await scheduler.scheduler.upsertFabrics([{ id: 'a', syncInterval: 1_000 }]);
    const a = (await storage.get('a'))!;
    const results = await storage.writeMany([
      { id: 'a', value: { definition: a.definition, state: { ...a.state } }, expectedVersion: a.version + 7 },
      { id: 'a', value: { definition: a.definition, state: { ...a.state } }, expectedVersion: a.version },
    ]);
    expect(results[0]).toEqual({ ok: false, current: a });
    expect(results[1]!.ok).toBe(true);
    expect((await storage.get('a'))!.version).toBe(a.version + 1);
  });

  it('a removal issued while a batch is being written waits for it, and stays removed', async () => {
    const h = makeHarness();
    await h.scheduler.start();
    const batch = h.scheduler.upsertFabrics([{ id: 'a', syncInterval: 1_000 }, { id: 'b', syncInterval: 1_000 }]);
    const removal = h.scheduler.removeFabric('a');
    await batch;
    await expect(removal).resolves.toBe(true);
    await h.clock.tickAsync(3_000);
    expect(await h.scheduler.getFabricStatus('a')).toBeUndefined();
    expect(h.runsOf('b').length).toBeGreaterThan(1);
    await h.stop();
  });
});
