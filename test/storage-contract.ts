/**
 * The Storage contract: every adapter (memory, Redis on ioredis-mock, Redis on a real server)
 * must pass this same suite. Call {@link storageContract} from an adapter's test file.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CorruptStateError, StorageError } from '../src/errors.js';
import { normalizeFabric, type Fabric } from '../src/definition.js';
import { cadenceOf } from '../src/scheduler/cadence.js';
import type { Lease } from '../src/single-flight.js';
import type { RunHistoryEntry } from '../src/storage/history.js';
import { initialState, type FabricRecord, type FabricState, type Storage, type StorageChange, type WriteOptions, type WriteResult } from '../src/storage/types.js';

export interface StorageFixture {
  storage: Storage;
  /** Releases whatever the fixture created (keys, clients). */
  cleanup(): Promise<void>;
  /**
   * Makes the stored record of `id` unreadable, when the adapter can have unreadable records.
   * `kind` names the kind of damage; adapters support the kinds they can produce.
   */
  corrupt?(id: string, kind: 'garbage' | 'wrong-type'): Promise<void>;
  /** Kinds of damage {@link StorageFixture.corrupt} supports. */
  corruptKinds?: ReadonlyArray<'garbage' | 'wrong-type'>;
  /** Why the change feed tests cannot run on this fixture (e.g. a mock without the commands), when they cannot. */
  changesUnsupported?: string;
}

export function fabric(id: string, syncInterval = 60_000, extra: Partial<Fabric> = {}): Fabric {
  return normalizeFabric({ id, syncInterval, ...extra }, { syncTimeout: 0 });
}

export function state(patch: Partial<FabricState> = {}): FabricState {
  return { ...initialState(), ...patch };
}

/** The client calls {@link redisCorrupt} needs (ioredis `Redis` or `Cluster`). */
interface CorruptingClient {
  hset(key: string, field: string, value: string): Promise<unknown>;
  del(key: string): Promise<unknown>;
  set(key: string, value: string): Promise<unknown>;
}

/** Damages a Redis record key the way {@link StorageFixture.corrupt} asks (for the Redis fixtures). */
export async function redisCorrupt(client: CorruptingClient, key: string, kind: 'garbage' | 'wrong-type'): Promise<void> {
  if (kind === 'garbage') await client.hset(key, 'd', '{"schema":1,"definition":');
  else {
    await client.del(key);
    await client.set(key, 'not a hash');
  }
}

/** A lease for claim writes in the contract (no proof: every storage accepts it). */
export function testLease(): Lease {
  return { signal: new AbortController().signal, release: () => undefined } as unknown as Lease;
}

/** Claim options as the scheduler passes them. */
export function claimOptions(at = Date.now(), lease: Lease = testLease()): WriteOptions {
  return { claim: { lease, at } };
}

/** Claims a run of `record` the way the scheduler does: token + 1, with claim options. */
export async function claimRun(s: Storage, record: FabricRecord, options: WriteOptions = claimOptions()): Promise<FabricRecord> {
  const r = await s.write(record.definition.id, { definition: record.definition, state: { ...record.state, status: 'syncing', fencingToken: record.state.fencingToken + 1 } }, record.version, options);
  if (!r.ok) throw new Error(`claim of ${record.definition.id} refused: ${JSON.stringify(r.refused ?? 'version')}`);
  return r.record;
}

/** Reads the change feed from `cursor` to its end (every page). */
export async function drainChanges(s: Storage, cursor: string): Promise<{ cursor: string; changes: StorageChange[]; reset: boolean }> {
  const changes: StorageChange[] = [];
  let reset = false;
  for (let i = 0; i < 1_000; i++) {
    const page = await s.changes!(cursor);
    cursor = page.cursor;
    reset ||= page.reset;
    changes.push(...page.changes);
    if (!page.more) return { cursor, changes, reset };
  }
  throw new Error('the change feed never ended');
}

export function storageContract(name: string, make: () => Promise<StorageFixture>): void {
  describe(`Storage contract: ${name}`, () => {
    let fx: StorageFixture;
    let s: Storage;
    beforeEach(async () => {
      fx = await make();
      s = fx.storage;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('reads nothing from an empty store', async () => {
      expect(await s.get('a')).toBeUndefined();
      expect(await s.list()).toEqual({ records: [], corrupt: [] });
    });

    it('creates only when absent (expectedVersion null) and returns the current record otherwise', async () => {
      const first = await s.write('a', { definition: fabric('a'), state: state({ lastError: 'x' }) }, null);
      expect(first.ok).toBe(true);
      if (!first.ok) return;
      expect(first.record.version).toBeGreaterThanOrEqual(1);
      expect(first.record.definition).toEqual(fabric('a'));
      expect(first.record.state).toEqual(state({ lastError: 'x' }));
      const again = await s.write('a', { definition: fabric('a', 5_000), state: state() }, null);
      expect(again.ok).toBe(false);
      if (again.ok) return;
      expect(again.current).toEqual(first.record);
      expect(await s.get('a')).toEqual(first.record);
    });

    it('updates only at the expected version, and bumps the version on every write', async () => {
      const a = await s.write('a', { definition: fabric('a'), state: state() }, null);
      if (!a.ok) throw new Error('create failed');
      const v1 = a.record.version;
      const b = await s.write('a', { definition: fabric('a'), state: state({ status: 'syncing', fencingToken: 1 }) }, v1);
      expect(b.ok).toBe(true);
      if (!b.ok) return;
      expect(b.record.version).toBeGreaterThan(v1);
      // Adapters may raise a token, never lower it (RedisStorage seeds an id's first token from Redis time).
      expect(b.record.state.fencingToken).toBeGreaterThanOrEqual(1);
      const stale = await s.write('a', { definition: fabric('a'), state: state({ status: 'error', fencingToken: 1 }) }, v1);
      expect(stale.ok).toBe(false);
      if (stale.ok) return;
      expect(stale.current).toEqual(b.record);
      expect(await s.get('a')).toEqual(b.record);
      const same = await s.write('a', { definition: fabric('a'), state: b.record.state as FabricState }, b.record.version);
      expect(same.ok && same.record.version).toBeGreaterThan(b.record.version);
    });

    it('refuses an update of an absent record', async () => {
      const r = await s.write('ghost', { definition: fabric('ghost'), state: state() }, 1);
      expect(r).toEqual({ ok: false, current: undefined });
      expect(await s.get('ghost')).toBeUndefined();
    });

    it('lets exactly one of many concurrent writers at the same version win', async () => {
      const a = await s.write('a', { definition: fabric('a'), state: state() }, null);
      if (!a.ok) throw new Error('create failed');
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) => s.write('a', { definition: fabric('a'), state: state({ fencingToken: 1, lastError: `w${i}` }) }, a.record.version)),
      );
      const winners = results.filter((r) => r.ok);
      expect(winners).toHaveLength(1);
      const stored = await s.get('a');
      expect(winners[0]!.ok && winners[0]!.record).toEqual(stored);
      const creators = await Promise.all(Array.from({ length: 8 }, () => s.write('b', { definition: fabric('b'), state: state() }, null)));
      expect(creators.filter((r) => r.ok)).toHaveLength(1);
    });

    it('deletes with and without an expected version', async () => {
      expect(await s.delete('nope')).toBe(false);
      expect(await s.delete('nope', 3)).toBe(false);
      const a = await s.write('a', { definition: fabric('a'), state: state() }, null);
      if (!a.ok) throw new Error('create failed');
      expect(await s.delete('a', a.record.version + 1)).toBe(false);
      expect(await s.get('a')).toEqual(a.record);
      expect(await s.delete('a', a.record.version)).toBe(true);
      expect(await s.get('a')).toBeUndefined();
      expect(await s.delete('a')).toBe(false);
      const b = await s.write('b', { definition: fabric('b'), state: state() }, null);
      expect(b.ok).toBe(true);
      expect(await s.delete('b')).toBe(true);
      expect((await s.list()).records).toEqual([]);
    });

    it('never lets version or fencing token go backwards for an id, even after delete and re-create', async () => {
      const a = await s.write('a', { definition: fabric('a'), state: state() }, null);
      if (!a.ok) throw new Error('create failed');
      const b = await s.write('a', { definition: fabric('a'), state: state({ fencingToken: 7 }) }, a.record.version);
      if (!b.ok) throw new Error('update failed');
      expect(await s.delete('a')).toBe(true);
      const c = await s.write('a', { definition: fabric('a'), state: state() }, null);
      expect(c.ok).toBe(true);
      if (!c.ok) return;
      expect(c.record.version).toBeGreaterThan(b.record.version);
      expect(c.record.state.fencingToken).toBeGreaterThanOrEqual(7);
      expect(await s.get('a')).toEqual(c.record);
      // the old version does not match the re-created record
      const stale = await s.write('a', { definition: fabric('a'), state: state({ fencingToken: 8 }) }, b.record.version);
      expect(stale.ok).toBe(false);
    });

    it('lists every record, whatever characters the ids hold', async () => {
      const ids = ['a', 'b:c', 'with space', 'ünï©ødé', 'glob*?[x]', 'x'.repeat(1024), ...Array.from({ length: 30 }, (_, i) => `f${i}`)];
      for (const id of ids) {
        const r = await s.write(id, { definition: fabric(id, 1_000 + ids.indexOf(id)), state: state({ lastSyncAt: ids.indexOf(id) }) }, null);
        expect(r.ok).toBe(true);
      }
      const { records, corrupt } = await s.list();
      expect(corrupt).toEqual([]);
      expect(records.map((r) => r.definition.id).sort()).toEqual([...ids].sort());
      for (const r of records) {
        const i = ids.indexOf(r.definition.id);
        expect(r.definition.syncInterval).toBe(1_000 + i);
        expect(r.state.lastSyncAt).toBe(i);
        expect(await s.get(r.definition.id)).toEqual(r);
      }
    });

    it('lists a page at a time (listPage): every record in a page, nothing else; a cursor it did not hand out or a bad limit is a typed error', async () => {
      expect(typeof s.listPage).toBe('function');
      const listPage = s.listPage!.bind(s);
      expect(await listPage(null, 5)).toEqual({ records: [], corrupt: [], cursor: null });
      const ids = Array.from({ length: 40 }, (_, i) => `p${i}`);
      for (const id of ids) expect((await s.write(id, { definition: fabric(id), state: state({ lastSyncAt: ids.indexOf(id) }) }, null)).ok).toBe(true);
      const seen = new Map<string, FabricRecord>();
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: Awaited<ReturnType<typeof listPage>> = await listPage(cursor, 6);
        expect(page.corrupt).toEqual([]);
        if (page.cursor !== null) expect(page.cursor).not.toBe(cursor);
        for (const r of page.records) if (!seen.has(r.definition.id)) seen.set(r.definition.id, r);
        cursor = page.cursor;
        expect(++pages).toBeLessThan(100);
      } while (cursor !== null);
      expect([...seen.keys()].sort()).toEqual([...ids].sort());
      for (const [id, r] of seen) expect(r).toEqual(await s.get(id));
      await expect(listPage('not-a-cursor', 5)).rejects.toBeInstanceOf(StorageError);
      await expect(listPage(null, 0)).rejects.toMatchObject({ name: 'InvalidOptionError', option: 'limit' });
    });

    it('keeps definitions with metadata and every state field', async () => {
      const def = fabric('m', 90_000, { enabled: false, syncTimeout: 5_000, metadata: { site: 'par1', tags: ['a', 'b'], n: 3 } });
      const st = state({ status: 'disabled', lastSyncAt: 1, lastAttemptAt: 2, lastError: 'boom', consecutiveFailures: 3, anchorAt: 4, lastSlotAt: 5, nextSyncAt: null, fencingToken: 9 });
      const r = await s.write('m', { definition: def, state: st }, null);
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect((await s.get('m'))!.definition).toEqual(def);
      expect(r.record.state.fencingToken).toBeGreaterThanOrEqual(9); // raised, never lowered
      expect((await s.get('m'))!.state).toEqual({ ...st, fencingToken: r.record.state.fencingToken });
    });

    it('keeps calendar and spread definitions with every cadence field as written (and reads back to the same cadence)', async () => {
      const cal = normalizeFabric({ id: 'cal', schedule: { cron: '0 2 * * 1-5', timeZone: 'Europe/Berlin' }, missedRunPolicy: 'all', catchUpWindow: 'PT6H', maxStaleness: 'P3D' }, { syncTimeout: 0 });
      const spread = normalizeFabric({ id: 'spr', syncInterval: 60_000, phase: 'spread', jitter: 500 }, { syncTimeout: 0 });
      for (const def of [cal, spread]) {
        const r = await s.write(def.id, { definition: def, state: state({ anchorAt: 4, lastSlotAt: 5, nextSyncAt: 6 }) }, null);
        expect(r.ok).toBe(true);
        const back = (await s.get(def.id))!.definition;
        expect(back).toEqual(def);
        expect(cadenceOf(back).label).toBe(cadenceOf(def).label);
      }
      expect((await s.get('cal'))!.definition).toMatchObject({ syncInterval: null, schedule: { cron: '0 2 * * 1-5', timeZone: 'Europe/Berlin' }, missedRunPolicy: 'all', catchUpWindow: 6 * 3_600_000, maxStaleness: 3 * 86_400_000 });
      expect((await s.list()).records.map((r) => r.definition.id).sort()).toEqual(['cal', 'spr']);
    });

    it('hands out frozen snapshots that later writes and caller mutations do not change', async () => {
      const st = state({ lastError: 'one' });
      const a = await s.write('a', { definition: fabric('a'), state: st }, null);
      if (!a.ok) throw new Error('create failed');
      st.lastError = 'mutated by the caller';
      const read = await s.get('a');
      expect(read!.state.lastError).toBe('one');
      expect(Object.isFrozen(read)).toBe(true);
      expect(Object.isFrozen(read!.state)).toBe(true);
      expect(Object.isFrozen(read!.definition)).toBe(true);
      expect(Object.isFrozen(a.record.state)).toBe(true);
      expect(() => {
        (read!.state as FabricState).lastError = 'x';
      }).toThrow(TypeError);
      const b = await s.write('a', { definition: fabric('a'), state: state({ lastError: 'two' }) }, a.record.version);
      expect(b.ok).toBe(true);
      expect(read!.state.lastError).toBe('one');
      expect(a.record.state.lastError).toBe('one');
    });

    it('writeMany, where the adapter has it: each item exactly as write (compare-and-set, in order, not atomic across items)', async (ctx) => {
      if (typeof s.writeMany !== 'function') return ctx.skip();
      const a = await s.write('a', { definition: fabric('a'), state: state() }, null);
      if (!a.ok) throw new Error('create failed');
      const results = await s.writeMany([
        { id: 'a', value: { definition: fabric('a', 5_000), state: state({ fencingToken: 1 }) }, expectedVersion: a.record.version + 1 },
        { id: 'b', value: { definition: fabric('b'), state: state() }, expectedVersion: null },
        { id: 'a', value: { definition: fabric('a', 7_000), state: state({ fencingToken: 2 }) }, expectedVersion: a.record.version },
        { id: 'b', value: { definition: fabric('b', 9_000), state: state() }, expectedVersion: null },
      ]);
      expect(results.map((r) => r.ok)).toEqual([false, true, true, false]);
      const [staleA, newB, newA, dupB] = results as [WriteResult, WriteResult, WriteResult, WriteResult];
      if (staleA.ok || !newB.ok || !newA.ok || dupB.ok) return;
      expect(staleA.current).toEqual(a.record);
      expect(dupB.current).toEqual(newB.record);
      expect(newA.record.version).toBeGreaterThan(a.record.version);
      expect(await s.get('a')).toEqual(newA.record);
      expect((await s.get('b'))?.definition).toEqual(fabric('b'));
      expect(await s.writeMany([])).toEqual([]);
    });

    it('reports unreadable records where the adapter can have them', async (ctx) => {
      const kinds = fx.corruptKinds ?? [];
      if (!fx.corrupt || kinds.length === 0) return ctx.skip();
      for (const kind of kinds) {
        const id = `bad-${kind}`;
        const w = await s.write(id, { definition: fabric(id), state: state({ fencingToken: 4 }) }, null);
        expect(w.ok).toBe(true);
        await fx.corrupt(id, kind);
      }
      const good = await s.write('good', { definition: fabric('good'), state: state() }, null);
      if (!good.ok) throw new Error('create failed');
      const { records, corrupt } = await s.list();
      expect(records).toEqual([good.record]);
      expect(corrupt.map((c) => c.id).sort()).toEqual(kinds.map((k) => `bad-${k}`).sort());
      for (const c of corrupt) expect(c.reason).toMatch(/\w/);
      for (const kind of kinds) {
        const id = `bad-${kind}`;
        await expect(s.get(id)).rejects.toBeInstanceOf(CorruptStateError);
        // an update cannot match an unreadable record; a create starts the fabric over
        const upd = await s.write(id, { definition: fabric(id), state: state() }, 1);
        expect(upd.ok).toBe(false);
        const re = await s.write(id, { definition: fabric(id), state: state() }, null);
        expect(re.ok).toBe(true);
        if (!re.ok) continue;
        expect(re.record.state.status).toBe('never_synced');
        expect(await s.get(id)).toEqual(re.record);
      }
      expect((await s.list()).corrupt).toEqual([]);
      // delete without a version removes an unreadable record too
      await fx.corrupt('good', kinds[0]!);
      expect(await s.delete('good')).toBe(true);
      expect(await s.get('good')).toBeUndefined();
      expect(await s.get('good')).toBeUndefined();
    });

    it('claims hand out unique, rising tokens, across delete and re-create', async () => {
      const a = await s.write('c{1}', { definition: fabric('c{1}'), state: state() }, null);
      if (!a.ok) throw new Error('create failed');
      const tokens = [a.record.state.fencingToken];
      let rec = a.record;
      for (let i = 0; i < 5; i++) {
        rec = await claimRun(s, rec);
        tokens.push(rec.state.fencingToken);
        // the run's own outcome carries its token: accepted, token unchanged
        const out = await s.write('c{1}', { definition: rec.definition, state: { ...rec.state, status: 'in_sync', lastSyncAt: i } }, rec.version);
        if (!out.ok) throw new Error('outcome refused');
        expect(out.record.state.fencingToken).toBe(rec.state.fencingToken);
        rec = out.record;
      }
      expect(await s.delete('c{1}')).toBe(true);
      const again = await s.write('c{1}', { definition: fabric('c{1}'), state: state() }, null);
      if (!again.ok) throw new Error('re-create failed');
      tokens.push((await claimRun(s, again.record)).state.fencingToken);
      for (let i = 1; i < tokens.length; i++) expect(tokens[i]!, `token ${i}`).toBeGreaterThan(tokens[i - 1]!);
    });

    it('refuses an outcome carrying a lower token than the stored one (a superseded run)', async () => {
      const a = await s.write('o', { definition: fabric('o'), state: state() }, null);
      if (!a.ok) throw new Error('create failed');
      const first = await claimRun(s, a.record);
      const second = await claimRun(s, first);
      const stale = await s.write('o', { definition: fabric('o'), state: { ...first.state, status: 'in_sync' } }, second.version);
      expect(stale.ok).toBe(false);
      expect(await s.get('o')).toEqual(second);
    });

    it('feeds changes: creates, definition changes and removals, not state-only writes', async (ctx) => {
      if (!s.changes) return ctx.skip('no change feed');
      if (fx.changesUnsupported) return ctx.skip(fx.changesUnsupported);
      const start = await s.changes(null);
      expect(start.reset).toBe(true);
      expect(start.changes).toEqual([]);
      const idle = await s.changes(start.cursor);
      expect(idle).toMatchObject({ reset: false, changes: [] });
      const a = await s.write('{a}', { definition: fabric('{a}'), state: state() }, null);
      const b = await s.write('b%7D', { definition: fabric('b%7D'), state: state() }, null);
      if (!a.ok || !b.ok) throw new Error('create failed');
      const claimed = await claimRun(s, a.record); // state only
      const redefined = await s.write('{a}', { definition: fabric('{a}', 5_000), state: claimed.state as FabricState }, claimed.version);
      expect(redefined.ok).toBe(true);
      expect(await s.delete('b%7D')).toBe(true);
      const read = await drainChanges(s, start.cursor);
      expect(read.reset).toBe(false);
      expect(read.changes).toEqual([
        { id: '{a}', kind: 'defined' },
        { id: 'b%7D', kind: 'defined' },
        { id: '{a}', kind: 'defined' },
        { id: 'b%7D', kind: 'removed' },
      ]);
      const after = await s.changes(read.cursor);
      expect(after).toMatchObject({ reset: false, changes: [] });
      expect((await s.changes('not a cursor this storage handed out')).reset).toBe(true);
    });

    it('keeps a sync request (optional state.requestedAt) and reports setting or clearing it in the change feed', async (ctx) => {
      const r = await s.write('req', { definition: fabric('req'), state: state() }, null);
      if (!r.ok) throw new Error('create failed');
      expect(r.record.state).not.toHaveProperty('requestedAt');
      const start = s.changes && !fx.changesUnsupported ? (await drainChanges(s, (await s.changes(null)).cursor)).cursor : undefined;
      const requested = await s.write('req', { definition: r.record.definition, state: { ...r.record.state, requestedAt: 1_234 } }, r.record.version);
      if (!requested.ok) throw new Error('request write failed');
      expect(requested.record.state.requestedAt).toBe(1_234);
      expect((await s.get('req'))!.state.requestedAt).toBe(1_234);
      const { requestedAt: _served, ...cleared } = requested.record.state;
      const served = await s.write('req', { definition: requested.record.definition, state: cleared }, requested.record.version);
      if (!served.ok) throw new Error('clear failed');
      expect((await s.get('req'))!.state).not.toHaveProperty('requestedAt');
      if (start === undefined) return ctx.skip('no change feed');
      expect((await drainChanges(s, start)).changes).toEqual([{ id: 'req', kind: 'defined' }, { id: 'req', kind: 'defined' }]);
    });

    it('pages the change feed in order, more: true while more wait', async (ctx) => {
      if (!s.changes) return ctx.skip('no change feed');
      if (fx.changesUnsupported) return ctx.skip(fx.changesUnsupported);
      const start = await s.changes(null);
      const ids = Array.from({ length: 45 }, (_, i) => `p{${i}}`);
      for (const id of ids) expect((await s.write(id, { definition: fabric(id), state: state() }, null)).ok).toBe(true);
      let cursor = start.cursor;
      let pages = 0;
      const seen: string[] = [];
      for (;;) {
        const page = await s.changes(cursor);
        expect(page.reset).toBe(false);
        pages++;
        seen.push(...page.changes.map((c) => c.id));
        cursor = page.cursor;
        if (!page.more) break;
      }
      expect(seen).toEqual(ids);
      expect(pages).toBeGreaterThanOrEqual(1);
    });

    it('leaves a tombstone: a claim re-creating a removed record is refused, the host adding it again is not', async (ctx) => {
      if (!s.changes) return ctx.skip('no change feed, so no tombstones');
      const a = await s.write('t{x}', { definition: fabric('t{x}'), state: state() }, null);
      if (!a.ok) throw new Error('create failed');
      const run = await claimRun(s, a.record);
      expect(await s.delete('t{x}')).toBe(true);
      // a replica with a stale cached record claims: create with its next token
      const stale = await s.write('t{x}', { definition: run.definition, state: { ...run.state, fencingToken: run.state.fencingToken + 1 } }, null, claimOptions());
      expect(stale).toEqual({ ok: false, current: undefined, refused: 'removed' });
      expect(await s.get('t{x}')).toBeUndefined();
      // the host defines it again (a fresh state): accepted, tokens go on above every earlier one
      const host = await s.write('t{x}', { definition: fabric('t{x}'), state: state() }, null);
      if (!host.ok) throw new Error('host create refused');
      expect(host.record.version).toBeGreaterThan(run.version);
      const next = await claimRun(s, host.record);
      expect(next.state.fencingToken).toBeGreaterThan(run.state.fencingToken);
    });

    it('run history: appended only with a successful write, newest first, capped at keep, deleted with the record', async (ctx) => {
      if (!s.readHistory) return ctx.skip('no run history');
      const id = 'h:{1}';
      const a = await s.write(id, { definition: fabric(id), state: state() }, null);
      if (!a.ok) throw new Error('create failed');
      expect(await s.readHistory(id, 20)).toEqual([]);
      let rec = a.record;
      const entries: RunHistoryEntry[] = [];
      const t0 = 1_750_000_000_000;
      for (let i = 0; i < 5; i++) {
        rec = await claimRun(s, rec);
        const failed = i % 2 === 1;
        const entry: RunHistoryEntry = failed
          ? { scheduledAt: t0 + i * 60_000, startedAt: t0 + i * 60_000 + 3, finishedAt: t0 + i * 60_000 + 250, trigger: 'retry', outcome: 'failed', reason: 'timeout', error: `boom ${i}, with: commas | and 🙂`, durationMs: 247, fencingToken: rec.state.fencingToken, replica: 'host-1:42' }
          : { scheduledAt: t0 + i * 60_000, startedAt: t0 + i * 60_000 - 2, finishedAt: t0 + i * 60_000 + 10, trigger: 'schedule', outcome: 'succeeded', durationMs: 12, fencingToken: rec.state.fencingToken };
        entries.push(entry);
        const out = await s.write(id, { definition: rec.definition, state: { ...rec.state, status: failed ? 'error' : 'in_sync' } }, rec.version, { history: { entry, keep: 3 } });
        if (!out.ok) throw new Error('outcome write refused');
        rec = out.record;
      }
      expect(await s.readHistory(id, 20)).toEqual(entries.slice(2).reverse());
      expect(await s.readHistory(id, 2)).toEqual(entries.slice(3).reverse());
      // a refused write (stale version) appends nothing
      const extra: RunHistoryEntry = { ...entries[0]!, scheduledAt: t0 + 999 };
      const stale = await s.write(id, { definition: rec.definition, state: rec.state as FabricState }, rec.version - 1, { history: { entry: extra, keep: 3 } });
      expect(stale.ok).toBe(false);
      expect((await s.readHistory(id, 20))[0]).toEqual(entries[4]);
      // other fabrics have their own
      expect(await s.readHistory('other', 20)).toEqual([]);
      // deleting the record deletes its history; a fabric defined again starts with none
      expect(await s.delete(id)).toBe(true);
      expect(await s.readHistory(id, 20)).toEqual([]);
      const again = await s.write(id, { definition: fabric(id), state: state() }, null);
      expect(again.ok).toBe(true);
      expect(await s.readHistory(id, 20)).toEqual([]);
    });
  });
}
