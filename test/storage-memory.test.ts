import { describe, expect, it } from 'vitest';
import { StorageError, initialState, normalizeFabric, type FabricState } from '../src/index.js';
import { MemoryStorage } from '../src/storage/memory.js';
import { storageContract } from './storage-contract.js';

storageContract('MemoryStorage', async () => ({ storage: new MemoryStorage(), cleanup: async () => undefined }));

describe('MemoryStorage beyond the contract', () => {
  const fabric = normalizeFabric({ id: 'a', syncInterval: 1000 }, { syncTimeout: 0 });

  it('a record re-created over a tombstone hands out tokens above every token of the deleted one (a stale claim never repeats one)', () => {
    const s = new MemoryStorage();
    const a = s.write('a', { definition: fabric, state: { ...initialState(), fencingToken: 7 } }, null);
    if (!a.ok) throw new Error('create failed');
    s.delete('a');
    // a replica that still had the fabric re-registers it from a stale view: token 0 + 1
    const c = s.write('a', { definition: fabric, state: { ...initialState(), fencingToken: 7 } }, null);
    expect(c.ok && c.record.state.fencingToken).toBe(8);
  });

  it('refuses to store a state out of range or a definition normalizeFabric refuses', () => {
    const s = new MemoryStorage();
    expect(() => s.write('a', { definition: fabric, state: { ...initialState(), anchorAt: -1e20 } }, null)).toThrow(StorageError);
    expect(() => s.write('a', { definition: fabric, state: { ...initialState(), fencingToken: -1 } }, null)).toThrow(StorageError);
    expect(() => s.write('b', { definition: fabric, state: initialState() }, null)).toThrow(StorageError);
    expect(() => s.write('a', { definition: { ...fabric, syncInterval: -5 }, state: initialState() }, null)).toThrow(/syncInterval/);
    expect(s.size).toBe(0);
  });
  it('hands out fresh deep-frozen snapshots of the stored columns, sharing the written definition', async () => {
    const s = new MemoryStorage();
    const w = s.write('a', { definition: fabric, state: initialState() }, null);
    if (!w.ok) throw new Error('create failed');
    const a = await s.get('a');
    const b = await s.get('a');
    expect(a).toEqual(w.record);
    expect(b).toEqual(a);
    // Not kept by the storage: every read is a new object (what a caller keeps is up to it).
    expect(b).not.toBe(a);
    for (const r of [w.record, a!, b!]) {
      expect(Object.isFrozen(r) && Object.isFrozen(r.state) && Object.isFrozen(r.definition)).toBe(true);
      expect(r.definition).toBe(fabric);
    }
    expect(() => {
      (a!.state as FabricState).fencingToken = 99;
    }).toThrow(TypeError);
    expect((await s.get('a'))!.state.fencingToken).toBe(0);
  });

  it('keeps null timestamps, zero, negative and -0 values, errors and an optional requestedAt exactly', async () => {
    const s = new MemoryStorage();
    const full: FabricState = {
      status: 'error',
      lastSyncAt: -86_400_000,
      lastAttemptAt: 0,
      lastError: 'boom',
      consecutiveFailures: 3,
      anchorAt: 1.8e12 + 0.5,
      lastSlotAt: -0,
      nextSyncAt: 8.64e15,
      fencingToken: Number.MAX_SAFE_INTEGER,
      requestedAt: 1.8e12,
    };
    const w = s.write('a', { definition: fabric, state: full }, null);
    expect(w.ok && w.record.state).toStrictEqual(full);
    expect(Object.is((await s.get('a'))!.state.lastSlotAt, -0)).toBe(true);
    // null and absent `requestedAt` both read back absent (as before: only a number is kept).
    const cleared = s.write('a', { definition: fabric, state: { ...initialState(), fencingToken: Number.MAX_SAFE_INTEGER, requestedAt: null as unknown as number } }, 1);
    expect(cleared.ok && cleared.record.state).toStrictEqual({ ...initialState(), fencingToken: Number.MAX_SAFE_INTEGER });
    expect('requestedAt' in (await s.get('a'))!.state).toBe(false);
    expect(Object.keys((await s.get('a'))!.state)).toEqual(Object.keys(initialState()));
  });

  it('refuses NaN and infinite numbers (NaN is the stored "null")', () => {
    const s = new MemoryStorage();
    for (const bad of [{ anchorAt: Number.NaN }, { lastSyncAt: Number.POSITIVE_INFINITY }, { requestedAt: Number.NaN }, { fencingToken: Number.NaN }, { consecutiveFailures: Number.NaN }]) {
      expect(() => s.write('a', { definition: fabric, state: { ...initialState(), ...bad } }, null)).toThrow(StorageError);
    }
    expect(s.size).toBe(0);
  });

  it('grows past its first columns and reuses deleted slots without disturbing other records', async () => {
    const s = new MemoryStorage();
    const n = 10_000; // past the first two chunks of 4,096 slots
    const defs = Array.from({ length: n }, (_, i) => normalizeFabric({ id: `f${i}`, syncInterval: 60_000 + i }, { syncTimeout: 0 }));
    const stateOf = (i: number, v: number): FabricState => ({ ...initialState(), status: 'in_sync', lastSyncAt: 1.8e12 + i * 7 + v, nextSyncAt: 1.8e12 + i, fencingToken: i + v, lastError: i % 3 === 0 ? `e${i}` : null });
    for (let i = 0; i < n; i++) expect(s.write(`f${i}`, { definition: defs[i]!, state: stateOf(i, 0) }, null).ok).toBe(true);
    for (let i = 0; i < n; i += 2) expect(await s.delete(`f${i}`)).toBe(true);
    expect(s.size).toBe(n / 2);
    // Re-created ids (over their tombstones) and new ids take the freed slots.
    for (let i = 0; i < n; i += 4) expect(s.write(`f${i}`, { definition: defs[i]!, state: stateOf(i, 1) }, null).ok).toBe(true);
    const extra = normalizeFabric({ id: 'extra', syncInterval: 5_000 }, { syncTimeout: 0 });
    expect(s.write('extra', { definition: extra, state: initialState() }, null).ok).toBe(true);
    for (let i = 0; i < n; i++) {
      const r = await s.get(`f${i}`);
      if (i % 2 === 1) expect(r).toEqual({ definition: defs[i], state: stateOf(i, 0), version: 1 });
      else if (i % 4 === 0) expect(r).toEqual({ definition: defs[i], state: stateOf(i, 1), version: 2 });
      else expect(r).toBeUndefined();
    }
    expect((await s.get('extra'))?.definition).toBe(extra);
    // an error written, then cleared by the next write
    const v = (await s.get('f3'))!.version;
    expect(s.write('f3', { definition: defs[3]!, state: { ...stateOf(3, 2), lastError: null } }, v).ok).toBe(true);
    expect((await s.get('f3'))!.state.lastError).toBeNull();
    const { records } = await s.list();
    expect(records.length).toBe(s.size);
    expect(new Set(records.map((r) => r.definition.id)).size).toBe(s.size);
    expect(s.size).toBe(n / 2 + n / 4 + 1);
  });


  it('a deleted id whose slot another id took is stored anew when written again (the last-written slot is not reused for it), and run history follows each record, not the slot', async () => {
    const s = new MemoryStorage();
    const def = (id: string) => normalizeFabric({ id, syncInterval: 1000 }, { syncTimeout: 0 });
    const entry = (k: number) => ({ scheduledAt: k, startedAt: k, finishedAt: k, trigger: 'schedule' as const, outcome: 'succeeded' as const, durationMs: 0, fencingToken: k });
    const w = (id: string, token: number, expected: number | null, k?: number) => s.write(id, { definition: def(id), state: { ...initialState(), fencingToken: token } }, expected, k === undefined ? undefined : { history: { entry: entry(k), keep: 5 } });
    expect(w('a', 1, null, 1).ok).toBe(true);
    expect(w('a', 2, 1, 2).ok).toBe(true); // the claim-then-outcome pair: same id twice in a row
    expect(await s.readHistory('a', 10)).toEqual([entry(2), entry(1)]);
    expect(await s.delete('a')).toBe(true);
    expect(await s.readHistory('a', 10)).toEqual([]);
    expect(w('b', 1, null, 9).ok).toBe(true); // takes a's freed slot
    expect(await s.readHistory('b', 10)).toEqual([entry(9)]); // none of a's entries
    const again = w('a', 1, null);
    expect(again.ok && again.record.state.fencingToken).toBe(3); // over a's tombstone, in a slot of its own
    expect((await s.get('b'))!.state.fencingToken).toBe(1);
    expect((await s.get('a'))!.state.fencingToken).toBe(3);
    expect(await s.readHistory('a', 10)).toEqual([]);
    expect(s.size).toBe(2);
    // a version check against the wrong record would pass here if a's write had gone to b's slot
    expect(w('b', 2, 1).ok).toBe(true);
    expect(again.ok && again.record.version).toBe(3); // versions go on over the tombstone too
    expect(w('a', 4, 3).ok).toBe(true);
    expect((await s.get('b'))!.version).toBe(2);
    expect((await s.get('a'))!.version).toBe(4);
  });
  it('refused writes change nothing and answer the current record', async () => {
    const s = new MemoryStorage();
    s.write('a', { definition: fabric, state: { ...initialState(), fencingToken: 5, requestedAt: 1.8e12 } }, null);
    const stale = s.write('a', { definition: fabric, state: { ...initialState(), fencingToken: 9 } }, 7);
    const superseded = s.write('a', { definition: fabric, state: { ...initialState(), fencingToken: 4 } }, 1);
    const current = { definition: fabric, state: { ...initialState(), fencingToken: 5, requestedAt: 1.8e12 }, version: 1 };
    expect(stale).toEqual({ ok: false, current });
    expect(superseded).toEqual({ ok: false, current });
    expect(await s.get('a')).toEqual(current);
  });
  it('reports a sync request in the change feed only when it is set, moved or cleared (absent and null are both none)', async () => {
    const s = new MemoryStorage();
    const write = (requestedAt: number | null | undefined, version: number | null) => {
      const state: FabricState = { ...initialState() };
      if (requestedAt !== undefined) state.requestedAt = requestedAt as number;
      const r = s.write('a', { definition: fabric, state }, version);
      if (!r.ok) throw new Error('write failed');
    };
    write(undefined, null); // created: reported
    const from = (await s.changes(null)).cursor;
    write(null, 1); // none -> none
    write(undefined, 2); // none -> none
    write(5, 3); // set: reported
    write(5, 4); // unchanged
    write(6, 5); // moved: reported
    write(null, 6); // cleared: reported
    const { changes } = await s.changes(from);
    expect(changes).toEqual([{ id: 'a', kind: 'defined' }, { id: 'a', kind: 'defined' }, { id: 'a', kind: 'defined' }]);
  });
});

describe('MemoryStorage.listPage', () => {
  const def = (id: string) => normalizeFabric({ id, syncInterval: 60_000 }, { syncTimeout: 0 });
  const pageIds = async (s: MemoryStorage, limit: number, between?: (page: number) => Promise<void>) => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let page = 0;
    do {
      const p = await s.listPage(cursor, limit);
      expect(p.corrupt).toEqual([]);
      expect(p.records.length).toBeLessThanOrEqual(limit);
      for (const r of p.records) {
        expect(Object.isFrozen(r) && Object.isFrozen(r.state)).toBe(true);
        expect(await s.get(r.definition.id)).toEqual(r);
      }
      seen.push(...p.records.map((r) => r.definition.id));
      if (p.cursor !== null) expect(p.cursor).not.toBe(cursor);
      cursor = p.cursor;
      await between?.(page++);
    } while (cursor !== null);
    return seen;
  };

  it('pages cover every record exactly once; one present for the whole listing is in exactly one page while others come and go', async () => {
    const s = new MemoryStorage();
    const ids = Array.from({ length: 53 }, (_, i) => `f${i}`);
    for (const id of ids) expect((await s.write(id, { definition: def(id), state: initialState() }, null)).ok).toBe(true);
    expect((await pageIds(s, 7)).sort()).toEqual([...ids].sort());
    expect(await pageIds(s, 1000)).toHaveLength(53);
    expect((await s.listPage(null, 1)).records).toHaveLength(1);

    // deletes and creates between pages: the ones never touched are listed exactly once
    const touched = new Set<string>();
    const seen = await pageIds(s, 5, async (page) => {
      const gone = `f${(page * 7) % 53}`;
      if (await s.delete(gone)) touched.add(gone);
      const added = `n${page}`;
      await s.write(added, { definition: def(added), state: initialState() }, null);
      touched.add(added);
    });
    const steady = ids.filter((id) => !touched.has(id));
    for (const id of steady) expect(seen.filter((x) => x === id)).toHaveLength(1);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('an empty storage is one empty last page; a cursor it did not hand out or a bad limit is refused with a typed error', async () => {
    const s = new MemoryStorage();
    expect(await s.listPage(null, 10)).toEqual({ records: [], corrupt: [], cursor: null });
    for (const bad of ['x', '-1', '1.5', '01', '']) await expect(s.listPage(bad, 10)).rejects.toBeInstanceOf(StorageError);
    for (const bad of [0, -1, 1.5, Number.NaN, Infinity]) await expect(s.listPage(null, bad)).rejects.toMatchObject({ name: 'InvalidOptionError', option: 'limit' });
  });
});
