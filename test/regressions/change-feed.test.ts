/**
 * Issue 10, items 4 and 5, scheduler side: schedulers sharing a storage learn of each other's
 * changes from the storage's change feed (idle cost grows with changes, not with fabrics), and a
 * fabric removed through one scheduler stops on all of them within one housekeeping interval,
 * told apart from a data loss by its tombstone. Also: claim refusals, storage warnings, the
 * reserved control id.
 */
import { describe, expect, it } from 'vitest';
import {
  ClockSkewError,
  InProcessSingleFlight,
  InvalidFabricError,
  MemoryStorage,
  RESERVED_ID_PREFIX,
  type ChangePage,
  type FabricRecord,
  type FabricWrite,
  type SingleFlight,
  type Storage,
  type WriteOptions,
  type WriteResult,
} from '../../src/index.js';
import { SECOND, settleOrAbandon, setup } from './helpers.js';

const HOUSEKEEPING = 1_000;

/** A shared storage (not a MemoryStorage, so housekeeping runs) with a change feed; counts calls. */
function feedStorage(inner = new MemoryStorage(), overrides: { write?: (id: string, value: FabricWrite, expected: number | null, options?: WriteOptions) => WriteResult | undefined; warnings?: () => Promise<readonly Error[]> } = {}) {
  const count = { get: 0, list: 0, write: 0, changes: 0, claims: 0 };
  const storage: Storage = {
    get: (id) => (count.get++, inner.get(id)),
    list: () => (count.list++, inner.list()),
    write: (id, value, expected, options) => {
      count.write++;
      if (options?.claim) count.claims++;
      return overrides.write?.(id, value, expected, options) ?? inner.write(id, value, expected, options);
    },
    delete: (id, expected) => inner.delete(id, expected),
    changes: (cursor): Promise<ChangePage> => (count.changes++, inner.changes(cursor)),
    ...(overrides.warnings ? { warnings: overrides.warnings } : {}),
  };
  return { storage, inner, count };
}

function twoReplicas() {
  const { storage, count } = feedStorage();
  const lock = new InProcessSingleFlight();
  const a = setup({ storage, singleFlight: lock, housekeepingInterval: HOUSEKEEPING });
  const b = setup({ storage, singleFlight: lock, housekeepingInterval: HOUSEKEEPING, clock: a.clock });
  return { a, b, count, clock: a.clock };
}

describe('change feed', () => {
  it('a fabric removed through one scheduler stops on the other within one housekeeping interval (fabric:removed, remote)', async () => {
    const { a, b, clock } = twoReplicas();
    await a.scheduler.start();
    await b.scheduler.start();
    await a.scheduler.upsertFabric({ id: 'f', syncInterval: SECOND });
    await clock.tickAsync(3 * HOUSEKEEPING); // b adopts f from the feed
    expect(b.events.of('fabric:added', 'f')).toHaveLength(1);
    await a.scheduler.removeFabric('f');
    await clock.tickAsync(HOUSEKEEPING + 100);
    expect(b.events.of('fabric:removed', 'f')).toMatchObject([{ fabricId: 'f', remote: true }]);
    const before = a.calls.length + b.calls.length;
    await clock.tickAsync(20 * SECOND);
    expect(a.calls.length + b.calls.length).toBe(before);
    expect(await a.storage.get('f')).toBeUndefined();
    await settleOrAbandon(clock, a.scheduler.stop());
    await settleOrAbandon(clock, b.scheduler.stop());
  });

  it('a fabric defined again after a removal elsewhere is followed again', async () => {
    const { a, b, clock } = twoReplicas();
    await a.scheduler.start();
    await b.scheduler.start();
    await a.scheduler.upsertFabric({ id: 'f', syncInterval: SECOND });
    await clock.tickAsync(2 * HOUSEKEEPING);
    await a.scheduler.removeFabric('f');
    await clock.tickAsync(2 * HOUSEKEEPING);
    await a.scheduler.upsertFabric({ id: 'f', syncInterval: 2 * SECOND });
    await clock.tickAsync(2 * HOUSEKEEPING);
    expect(b.events.of('fabric:removed', 'f')).toMatchObject([{ remote: true }]);
    expect(b.events.of('fabric:added', 'f')).toHaveLength(2);
    const runs = a.calls.length + b.calls.length;
    await clock.tickAsync(10 * SECOND);
    expect(a.calls.length + b.calls.length - runs).toBeGreaterThanOrEqual(4);
    await settleOrAbandon(clock, a.scheduler.stop());
    await settleOrAbandon(clock, b.scheduler.stop());
  });

  it('idle housekeeping reads the feed once per pass and lists nothing until fullScanInterval', async () => {
    const { storage, count } = feedStorage();
    const s = setup({ storage, housekeepingInterval: HOUSEKEEPING, fullScanInterval: 60 * SECOND });
    for (let i = 0; i < 50; i++) await s.scheduler.upsertFabric({ id: `f${i}`, syncInterval: 3_600_000 });
    await s.scheduler.start();
    await s.clock.tickAsync(5 * SECOND); // first syncs
    const at = { ...count };
    await s.clock.tickAsync(30 * SECOND); // 30 passes, nothing due
    expect(count.list - at.list).toBe(0);
    expect(count.get - at.get).toBe(0);
    expect(count.changes - at.changes).toBe(30);
    await s.clock.tickAsync(30 * SECOND); // the full scan comes due once
    expect(count.list - at.list).toBe(1);
    await settleOrAbandon(s.clock, s.scheduler.stop());
  });

  it('a feed reset (cursor fell off the log) makes the next pass list everything once', async () => {
    const inner = new MemoryStorage({ changeLogSize: 2 });
    const { storage, count } = feedStorage(inner);
    const a = setup({ storage, housekeepingInterval: HOUSEKEEPING });
    const b = setup({ storage, housekeepingInterval: HOUSEKEEPING, clock: a.clock });
    await a.scheduler.start();
    await b.scheduler.start();
    await a.clock.tickAsync(HOUSEKEEPING * 2);
    const lists = count.list;
    for (let i = 0; i < 10; i++) await a.scheduler.upsertFabric({ id: `g${i}`, syncInterval: 3_600_000 }); // overflows the log
    await a.clock.tickAsync(HOUSEKEEPING + 10);
    expect(count.list - lists).toBeGreaterThanOrEqual(1);
    expect(b.events.of('fabric:added', 'g9')).toHaveLength(1);
    await a.clock.tickAsync(HOUSEKEEPING * 2);
    expect(b.events.of('fabric:added', 'g9')).toHaveLength(1);
    await settleOrAbandon(a.clock, a.scheduler.stop());
    await settleOrAbandon(a.clock, b.scheduler.stop());
  });
});

/** A scheduler on a feed storage, housekeeping off (the claim path is what notices), after fabric f's first run. */
async function oneRunOnFeed() {
  const inner = new MemoryStorage();
  const { storage } = feedStorage(inner);
  const b = setup({ storage, housekeepingInterval: 0 });
  await b.scheduler.upsertFabric({ id: 'f', syncInterval: SECOND });
  await b.scheduler.start();
  await b.clock.tickAsync(50);
  return { inner, storage, b };
}

describe('claim refusals', () => {
  it("a claim refused with 'removed' (a tombstone) stops the fabric here without running it", async () => {
    const { inner, b } = await oneRunOnFeed();
    expect(b.callsOf('f')).toHaveLength(1);
    await inner.delete('f'); // another replica removed it
    await b.clock.tickAsync(3 * SECOND);
    expect(b.callsOf('f')).toHaveLength(1);
    expect(b.events.of('fabric:removed', 'f')).toMatchObject([{ fabricId: 'f', remote: true }]);
    expect(await inner.get('f')).toBeUndefined();
    await settleOrAbandon(b.clock, b.scheduler.stop());
  });

  it('a record lost without a tombstone (data loss) is re-registered by the claim, as before', async () => {
    const { storage, b } = await oneRunOnFeed();
    const lost = new MemoryStorage();
    // Swap the data away: the inner storage forgets everything (no tombstone).
    (storage as { get: Storage['get'] }).get = (id) => lost.get(id);
    (storage as { write: Storage['write'] }).write = (id, v, e, o) => lost.write(id, v, e, o);
    await b.clock.tickAsync(3 * SECOND);
    expect(b.callsOf('f').length).toBeGreaterThanOrEqual(3);
    expect(await lost.get('f')).toBeDefined();
    await settleOrAbandon(b.clock, b.scheduler.stop());
  });

  it("a claim refused with 'lease-lost' never starts the executor and hands out no token", async () => {
    const inner = new MemoryStorage();
    let refuse = false;
    const { storage } = feedStorage(inner, {
      write: (id, value, expected, options) => {
        if (!refuse || !options?.claim) return undefined;
        const current = inner.write(id, { definition: value.definition, state: value.state }, -1) as Extract<WriteResult, { ok: false }>;
        return { ok: false, current: current.current, refused: 'lease-lost' };
      },
    });
    const b = setup({ storage, housekeepingInterval: 0 });
    await b.scheduler.upsertFabric({ id: 'f', syncInterval: SECOND });
    await b.scheduler.start();
    await b.clock.tickAsync(50);
    const token = (await inner.get('f'))!.state.fencingToken;
    refuse = true;
    await b.clock.tickAsync(3 * SECOND);
    expect(b.callsOf('f')).toHaveLength(1);
    expect(b.events.of('sync:skipped', 'f').map((e) => e.reason)).toContain('locked');
    expect((await inner.get('f'))!.state.fencingToken).toBe(token);
    refuse = false;
    await b.clock.tickAsync(2 * SECOND);
    expect(b.callsOf('f').length).toBeGreaterThan(1);
    await settleOrAbandon(b.clock, b.scheduler.stop());
  });

  it('every claim carries the lease and the claimer time; other writes carry no claim', async () => {
    const inner = new MemoryStorage();
    const seen: Array<{ at: number; hasLease: boolean }> = [];
    const { storage, count } = feedStorage(inner, {
      write: (_id, _v, _e, options) => {
        if (options?.claim) seen.push({ at: options.claim.at, hasLease: typeof options.claim.lease.release === 'function' });
        return undefined;
      },
    });
    const b = setup({ storage, housekeepingInterval: 0 });
    await b.scheduler.upsertFabric({ id: 'f', syncInterval: SECOND });
    await b.scheduler.start();
    await b.clock.tickAsync(3_500);
    expect(seen.length).toBe(b.callsOf('f').length);
    expect(seen.every((c, i) => c.hasLease && c.at === b.callsOf('f')[i]!.at)).toBe(true);
    expect(count.write).toBeGreaterThan(count.claims);
    await settleOrAbandon(b.clock, b.scheduler.stop());
  });
});

describe('standing down on clock skew', () => {
  it('a claim refused with ClockSkewError: membership left, no locks but one probe per operationTimeout, back when the clocks agree', async () => {
    const inner = new MemoryStorage();
    let skewed = false;
    const { storage } = feedStorage(inner, {
      write: (id, _v, _e, options) => {
        if (skewed && options?.claim) throw new ClockSkewError(id, 5_000, 2_000);
        return undefined;
      },
    });
    const calls = { acquire: 0, start: 0, stop: 0 };
    const flight = new InProcessSingleFlight();
    const singleFlight: SingleFlight = {
      acquire: (id, o) => (calls.acquire++, flight.acquire(id)),
      start: () => void calls.start++,
      stop: () => void calls.stop++,
    };
    const s = setup({ storage, singleFlight, housekeepingInterval: 0, operationTimeout: 3_000 });
    await s.scheduler.upsertFabric({ id: 'f', syncInterval: SECOND });
    await s.scheduler.start();
    await s.clock.tickAsync(1_500);
    expect(calls.start).toBe(1);
    skewed = true;
    const runs = s.callsOf('f').length;
    const acquires = calls.acquire;
    await s.clock.tickAsync(10_000);
    expect(s.callsOf('f')).toHaveLength(runs);
    expect(calls.stop).toBe(1); // left the membership once
    // 10 slots came due; about one lock attempt per operationTimeout (3 s) was made.
    expect(calls.acquire - acquires).toBeGreaterThanOrEqual(3);
    expect(calls.acquire - acquires).toBeLessThanOrEqual(5);
    expect(s.events.of('error').filter((e) => e.error instanceof ClockSkewError).length).toBe(calls.acquire - acquires);
    skewed = false;
    await s.clock.tickAsync(5_000);
    expect(s.callsOf('f').length).toBeGreaterThan(runs + 1); // the next probe succeeded: back to every slot
    expect(calls.start).toBe(2); // joined again
    await settleOrAbandon(s.clock, s.scheduler.stop());
    expect(calls.stop).toBe(2);
  });
});

describe('storage warnings and the reserved id', () => {
  it("each of the storage's warnings() is an error event at start; a failing warnings() is one too", async () => {
    const warning = new Error('maxmemory-policy allkeys-lru may evict syncwheel keys');
    const { storage } = feedStorage(new MemoryStorage(), { warnings: async () => [warning] });
    const s = setup({ storage });
    await s.scheduler.start();
    await s.clock.tickAsync(10);
    expect(s.events.of('error').map((e) => e.error)).toContain(warning);
    await settleOrAbandon(s.clock, s.scheduler.stop());
    const failing = feedStorage(new MemoryStorage(), { warnings: () => Promise.reject(new Error('INFO refused')) });
    const t = setup({ storage: failing.storage });
    await t.scheduler.start();
    await t.clock.tickAsync(10);
    expect(t.events.of('error').map((e) => e.error.message)).toContain('INFO refused');
    await settleOrAbandon(t.clock, t.scheduler.stop());
  });

  it('ids starting with the reserved prefix are refused with InvalidFabricError naming id', async () => {
    const s = setup();
    const error = await s.scheduler.upsertFabric({ id: `${RESERVED_ID_PREFIX}:control`, syncInterval: SECOND }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidFabricError);
    expect((error as InvalidFabricError).field).toBe('id');
    const legacy = await s.scheduler.upsertFabric({ id: '\u0000syncwheel:control', syncInterval: SECOND }).catch((e: unknown) => e);
    expect(legacy).toBeInstanceOf(InvalidFabricError);
  });
});

export type { FabricRecord };
