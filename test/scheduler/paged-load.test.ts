/**
 * `start()` loads the fabrics a page at a time from a storage with `listPage` (LIST_PAGE_SIZE
 * records per page), keeps no listed record object afterwards, falls back to `list()` without
 * it, and refuses a listing that would never end with a StorageError.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { MemoryStorage, StorageError, initialState, normalizeFabric, type FabricRecord, type ListPage } from '../../src/index.js';
import { LIST_PAGE_SIZE } from '../../src/scheduler/cas.js';
import { makeHarness, T0 } from '../helpers/harness.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const MINUTE = 60_000;

/** A MemoryStorage holding `n` fabrics at 60 s, anchored one ms apart from T0 + 1 s; counts its listings. */
class CountingStorage extends MemoryStorage {
  pages = 0;
  lists = 0;
  readonly listed: Array<WeakRef<FabricRecord>> = [];
  override async list() {
    this.lists++;
    return super.list();
  }
  override async listPage(cursor: string | null, limit: number): Promise<ListPage> {
    this.pages++;
    const page = await super.listPage(cursor, limit);
    for (const r of page.records) this.listed.push(new WeakRef(r));
    return page;
  }
}

async function filled<S extends MemoryStorage>(s: S, n: number): Promise<S> {
  for (let i = 0; i < n; i++) {
    const at = T0 + 1_000 + i;
    const definition = normalizeFabric({ id: `f${i}`, syncInterval: MINUTE }, { syncTimeout: 0 });
    await s.write(`f${i}`, { definition, state: { ...initialState(), anchorAt: at, nextSyncAt: at } }, null);
  }
  return s;
}

describe('start() loads the fabrics a page at a time', () => {
  it(`in pages of ${LIST_PAGE_SIZE}; every fabric runs on its grid; no listed record object is kept`, async () => {
    const n = 2 * LIST_PAGE_SIZE + 500;
    const storage = await filled(new CountingStorage(), n);
    const h = makeHarness({ storage, behaviour: () => undefined });
    await h.scheduler.start();
    expect(storage.pages).toBe(3);
    expect(storage.lists).toBe(0);
    expect(storage.listed).toHaveLength(n);
    await new Promise((r) => setTimeout(r, 0));
    gc();
    await new Promise((r) => setTimeout(r, 0));
    gc();
    expect(storage.listed.filter((w) => w.deref() !== undefined)).toHaveLength(0);
    await h.clock.tickAsync(1_000 + n);
    expect(h.runs).toHaveLength(n);
    expect(h.runs.every((r) => r.scheduledAt === T0 + 1_000 + Number(r.id.slice(1)))).toBe(true);
    expect(new Set(h.runs.map((r) => r.id)).size).toBe(n);
    await h.scheduler.stop();
  });

  it('a storage without listPage is listed once with list()', async () => {
    const storage = await filled(new CountingStorage(), 30);
    Object.defineProperty(storage, 'listPage', { value: undefined });
    const h = makeHarness({ storage, behaviour: () => undefined });
    await h.scheduler.start();
    expect(storage.lists).toBe(1);
    expect(storage.pages).toBe(0);
    await h.clock.tickAsync(1_100);
    expect(h.runs).toHaveLength(30);
    await h.scheduler.stop();
  });

  it('a listPage whose cursor does not move, or is not a string, fails start() with a StorageError (operation list), never a hang', async () => {
    for (const cursor of ['same', 42] as const) {
      const storage = await filled(new MemoryStorage(), 3);
      let calls = 0;
      Object.defineProperty(storage, 'listPage', {
        value: async (at: string | null) => {
          calls++;
          if (calls > 10) throw new Error('asked for more than 10 pages');
          return { records: [], corrupt: [], cursor: cursor === 'same' ? (at ?? 'same') : cursor };
        },
      });
      const h = makeHarness({ storage, behaviour: () => undefined });
      const started = h.scheduler.start();
      await expect(started).rejects.toBeInstanceOf(StorageError);
      await expect(started).rejects.toMatchObject({ operation: 'list' });
      expect(calls).toBe(cursor === 'same' ? 2 : 1);
      await h.scheduler.stop();
    }
  });

  it("the housekeeper's full pass lists a page at a time too, and adopts fabrics another writer stored", async () => {
    const storage = new CountingStorage();
    Object.defineProperty(storage, 'changes', { value: undefined }); // no feed: every pass is a full listing
    const h = makeHarness({ storage, behaviour: () => undefined, housekeepingInterval: 1_000 });
    await h.scheduler.start();
    const n = 2 * LIST_PAGE_SIZE + 10;
    await filled(storage, n); // written behind the scheduler's back
    const pagesBefore = storage.pages;
    await h.clock.tickAsync(1_100);
    expect(storage.pages - pagesBefore).toBeGreaterThanOrEqual(3);
    expect(storage.lists).toBe(0);
    expect(Object.values(h.scheduler.metrics().fabrics).reduce((a, b) => a + b, 0)).toBe(n);
    await h.scheduler.stop();
  });
});

/** Pages that repeat the last record of the page before (what an at-least-once `listPage` may do). */
class RepeatingStorage extends CountingStorage {
  #last: FabricRecord | undefined;
  override async listPage(cursor: string | null, limit: number): Promise<ListPage> {
    const page = await super.listPage(cursor, limit);
    const records = this.#last && cursor !== null ? [this.#last, ...page.records] : page.records;
    this.#last = page.records.at(-1);
    return { ...page, records };
  }
}

describe('listFabrics(), reconcile(), validate() and repair() list a page at a time', () => {
  const n = 2 * LIST_PAGE_SIZE + 500;

  it('listFabrics answers each stored fabric once, sorted by id, from the pages, and never calls list()', async () => {
    const storage = await filled(new RepeatingStorage(), n);
    const h = makeHarness({ storage, behaviour: () => undefined });
    const listed = await h.scheduler.listFabrics();
    expect(listed.map((f) => f.id)).toEqual(Array.from({ length: n }, (_, i) => `f${i}`).sort());
    expect(storage.pages).toBeGreaterThanOrEqual(3);
    expect(storage.lists).toBe(0);
  });

  it('reconcile plans from the pages (a record listed twice counts once) and never calls list()', async () => {
    const storage = await filled(new RepeatingStorage(), n);
    const h = makeHarness({ storage, behaviour: () => undefined });
    // keep f0..f1999 (f5 with a new interval), drop the other 500, add one
    const wanted = Array.from({ length: 2 * LIST_PAGE_SIZE }, (_, i) => ({ id: `f${i}`, syncInterval: i === 5 ? 2 * MINUTE : MINUTE }));
    const result = await h.scheduler.reconcile([...wanted, { id: 'new', syncInterval: MINUTE }]);
    expect(result.added).toEqual(['new']);
    expect(result.updated).toEqual(['f5']);
    expect(result.removed).toEqual(Array.from({ length: 500 }, (_, i) => `f${2 * LIST_PAGE_SIZE + i}`).sort());
    expect(storage.pages).toBeGreaterThanOrEqual(3);
    expect(storage.lists).toBe(0);
    expect(storage.size).toBe(2 * LIST_PAGE_SIZE + 1);
  });

  it('validate and repair check each record once from the pages and never call list()', async () => {
    const storage = await filled(new RepeatingStorage(), n);
    // one record off its grid, in the last page
    const last = `f${n - 1}`;
    const r = (await storage.get(last))!;
    storage.write(last, { definition: r.definition, state: { ...r.state, nextSyncAt: r.state.anchorAt! + 7 } }, r.version);
    const h = makeHarness({ storage, behaviour: () => undefined });
    const report = await h.scheduler.validate();
    expect(report.fabrics).toBe(n);
    expect(report.issues).toEqual([expect.objectContaining({ fabricId: last, kind: 'off-grid', repaired: false })]);
    const repaired = await h.scheduler.repair({ definedIds: Array.from({ length: n - 1 }, (_, i) => `f${i}`) });
    expect(repaired.fabrics).toBe(n);
    expect(repaired.issues).toEqual([expect.objectContaining({ fabricId: last, kind: 'undefined-fabric', repaired: true })]);
    expect(await storage.get(last)).toBeUndefined();
    expect(storage.lists).toBe(0);
  });
});
