import { describe, expect, it } from 'vitest';
import { InProcessSingleFlight, MemoryStorage, createScheduler, initialState, normalizeFabric, type CorruptRecord, type FabricState, type Storage, type StateRepairedEvent, type StatusChangedEvent } from '../../src/index.js';
import { createFakeClock } from '../../src/testing.js';
import { T0 } from '../helpers/harness.js';

const MIN = 60_000;

async function put(storage: MemoryStorage, id: string, patch: Partial<FabricState>, def: Record<string, unknown> = {}) {
  const r = await storage.write(id, { definition: normalizeFabric({ id, syncInterval: MIN, ...def }, { syncTimeout: 0 }), state: { ...initialState(), ...patch } }, null);
  if (!r.ok) throw new Error('write failed');
}

/** A storage that also reports an unreadable record in list() and in the first page of listPage(). */
class DamagedStorage extends MemoryStorage {
  deleted: string[] = [];
  #corrupt(): CorruptRecord[] {
    return this.deleted.includes('garbled') ? [] : [{ id: 'garbled', raw: '{not json', reason: 'document is not JSON' }];
  }
  override async list() {
    const { records } = await super.list();
    return { records, corrupt: this.#corrupt() as [] };
  }
  override async listPage(cursor: string | null, limit: number) {
    const page = await super.listPage(cursor, limit);
    return cursor === null ? { ...page, corrupt: this.#corrupt() as [] } : page;
  }
  override async delete(id: string, v?: number) {
    this.deleted.push(id);
    return super.delete(id, v);
  }
}

describe('validate() and repair()', () => {
  it('reports stale syncing, off-grid next sync, undefined fabrics, unknown queues and unreadable records; repair fixes what it can', async () => {
    const clock = createFakeClock({ now: T0 + 10 * MIN });
    const storage = new DamagedStorage();
    await put(storage, 'dead-worker', { status: 'syncing', lastSyncAt: T0, lastAttemptAt: T0 + 9 * MIN, anchorAt: T0, lastSlotAt: T0 + 9 * MIN, fencingToken: 7 });
    await put(storage, 'off-grid', { status: 'in_sync', lastSyncAt: T0 + 9 * MIN, anchorAt: T0, lastSlotAt: T0 + 9 * MIN, nextSyncAt: T0 + 10 * MIN + 1_234 });
    await put(storage, 'orphan', { status: 'in_sync', lastSyncAt: T0 + 9 * MIN, anchorAt: T0, lastSlotAt: T0 + 9 * MIN, nextSyncAt: T0 + 10 * MIN });
    await put(storage, 'odd-queue', { status: 'in_sync', lastSyncAt: T0 + 9 * MIN, anchorAt: T0, lastSlotAt: T0 + 9 * MIN, nextSyncAt: T0 + 10 * MIN }, { queue: 'gone' });
    await put(storage, 'retrying', { status: 'error', consecutiveFailures: 2, anchorAt: T0, lastSlotAt: T0 + 9 * MIN, nextSyncAt: T0 + 9 * MIN + 4_000 });
    await put(storage, 'healthy', { status: 'in_sync', lastSyncAt: T0 + 9 * MIN, anchorAt: T0, lastSlotAt: T0 + 9 * MIN, nextSyncAt: T0 + 10 * MIN });
    const s = createScheduler({ clock, storage, executor: () => undefined });
    const definedIds = ['dead-worker', 'off-grid', 'odd-queue', 'retrying', 'healthy'];
    const report = await s.validate({ definedIds });
    expect(report.fabrics).toBe(6);
    expect(report.issues.map((i) => [i.fabricId, i.kind, i.repairable, i.repaired]).sort()).toEqual([
      ['dead-worker', 'stale-syncing', true, false],
      ['garbled', 'unreadable', true, false],
      ['odd-queue', 'unknown-queue', false, false],
      ['off-grid', 'off-grid', true, false],
      ['orphan', 'undefined-fabric', true, false],
    ]);
    expect(storage.deleted).toEqual([]); // validate changes nothing
    expect((await storage.get('dead-worker'))!.state.status).toBe('syncing');

    const repaired: StateRepairedEvent[] = [];
    s.on('state:repaired', (e) => repaired.push(e));
    const fixed = await s.repair({ definedIds });
    expect(fixed.issues.filter((i) => i.repaired).map((i) => i.fabricId).sort()).toEqual(['dead-worker', 'garbled', 'off-grid', 'orphan']);
    expect(repaired.map((e) => e.issue).sort()).toEqual(['off-grid', 'stale-syncing', 'undefined-fabric', 'unreadable']);
    expect((await storage.get('dead-worker'))!.state).toMatchObject({ status: 'out_of_sync', fencingToken: 7, nextSyncAt: T0 + 10 * MIN });
    expect((await storage.get('off-grid'))!.state.nextSyncAt).toBe(T0 + 10 * MIN);
    expect(await storage.get('orphan')).toBeUndefined();
    expect(storage.deleted).toContain('garbled');
    const again = await s.validate({ definedIds });
    expect(again.issues.map((i) => i.kind)).toEqual(['unknown-queue']);
  });

  it('a fabric syncing under a live lock (here or on another scheduler) is not stale', async () => {
    const clock = createFakeClock({ now: T0 });
    const storage = new MemoryStorage();
    const singleFlight = new InProcessSingleFlight();
    await put(storage, 'busy', { status: 'syncing', lastAttemptAt: T0 - 10 * MIN, anchorAt: T0 - 10 * MIN, lastSlotAt: T0 - 10 * MIN, fencingToken: 3 });
    const lease = await singleFlight.acquire('busy');
    const s = createScheduler({ clock, storage, singleFlight, executor: () => undefined });
    expect((await s.repair()).issues).toEqual([]);
    expect((await storage.get('busy'))!.state.status).toBe('syncing');
    await lease!.release();
    expect((await s.validate()).issues.map((i) => i.kind)).toEqual(['stale-syncing']);
    expect(singleFlight.isHeld('busy')).toBe(false); // the check let go of the lock
  });

  it.each([
    ['a storage without a change feed: one lease plus one housekeeping interval', false],
    ['a storage with a change feed: one lease plus one fullScanInterval', true],
  ])('a replica repairs a stale "syncing" on its own within %s', async (_name, feed) => {
    const clock = createFakeClock({ now: T0 });
    const memory = new MemoryStorage();
    // A replica claimed the slot at T0 and died: its lock (lockTtl 10 s) expired, its status stayed.
    await put(memory, 'f', { status: 'syncing', lastSyncAt: T0 - MIN, lastAttemptAt: T0, anchorAt: T0 - 2 * MIN, lastSlotAt: T0, fencingToken: 4 });
    const storage: Storage = feed
      ? memory
      : { get: (id) => memory.get(id), list: () => memory.list(), write: (id, v, e, o) => memory.write(id, v, e, o), delete: (id, e) => memory.delete(id, e) };
    const s = createScheduler({ clock, storage, executor: () => undefined, lockTtl: 10_000, housekeepingInterval: feed ? 1_000 : 2_000, fullScanInterval: 2_000, missedRunPolicy: 'skip' });
    const changes: StatusChangedEvent[] = [];
    s.on('status:changed', (e) => changes.push(e));
    await s.start();
    await clock.tickAsync(8_000);
    expect((await memory.get('f'))!.state.status).toBe('syncing'); // still within the lease: could be alive
    await clock.tickAsync(2_000);
    const fixed = await memory.get('f');
    expect(fixed!.state).toMatchObject({ status: 'in_sync', fencingToken: 4, nextSyncAt: T0 + MIN });
    expect(changes).toEqual([{ fabricId: 'f', from: 'syncing', to: 'in_sync', at: T0 + 10_000 }]);
    await s.stop();
    expect(clock.countTimers()).toBe(0);
  });

  it('housekeeping is off by default with MemoryStorage: an idle scheduler still arms no timer', async () => {
    const clock = createFakeClock({ now: T0 });
    const s = createScheduler({ clock, executor: () => undefined });
    await s.start();
    expect(clock.countTimers()).toBe(0);
    await s.stop();
  });
});
