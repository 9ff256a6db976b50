import { describe, expect, it } from 'vitest';
import { normalizeFabric } from '../../src/definition.js';
import { CorruptStateError, StorageError } from '../../src/errors.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { MAX_TIMESTAMP_MS, checkListResult, checkRecord, checkWriteResult } from '../../src/storage/check-record.js';
import { initialState, type FabricRecord } from '../../src/storage/types.js';

const def = (id = 'f') => normalizeFabric({ id, syncInterval: 60_000, metadata: { site: 'par1', tags: ['a', 'b'] } }, { syncTimeout: 0 });
const plain = (patch: Record<string, unknown> = {}, statePatch: Record<string, unknown> = {}) => ({
  definition: { id: 'f', syncInterval: 60_000, enabled: true, syncTimeout: 0, queue: 'default' },
  state: { ...initialState(), status: 'in_sync', lastSyncAt: 1_700_000_000_000, anchorAt: 1_700_000_000_000, fencingToken: 3, ...statePatch },
  version: 2,
  ...patch,
});

function corruptReason(id: string, value: unknown): string {
  try {
    checkRecord(id, value);
  } catch (e) {
    expect(e).toBeInstanceOf(CorruptStateError);
    expect((e as CorruptStateError).fabricId).toBe(id);
    expect((e as CorruptStateError).raw).toBe(value);
    return (e as Error).message;
  }
  throw new Error('not refused');
}

describe('checkRecord', () => {
  it('accepts a valid record; returns frozen records with data properties as they are, copies the rest', () => {
    const frozen = Object.freeze({ definition: def(), state: Object.freeze({ ...initialState() }), version: 1 });
    expect(checkRecord('f', frozen)).toBe(frozen);
    const loose = plain();
    const out = checkRecord('f', loose);
    expect(out).not.toBe(loose);
    expect(out).toEqual({ ...loose, definition: { ...loose.definition } });
    expect(Object.isFrozen(out) && Object.isFrozen(out.state) && Object.isFrozen(out.definition)).toBe(true);
    expect(checkRecord('f', out)).toBe(out); // remembered
    // a frozen record with a getter is not trusted as it is
    const sly = Object.freeze(Object.defineProperty({ definition: def(), state: Object.freeze({ ...initialState() }) }, 'version', { get: () => 1, enumerable: true }));
    const copy = checkRecord('f', sly);
    expect(copy).not.toBe(sly);
    expect(copy.version).toBe(1);
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['null', null, /expected an object \{ definition, state, version \}, got null/],
    ['an array', [], /got an array/],
    ['state: null (a custom storage)', plain({ state: null }), /expected state to be an object, got null/],
    ['no version', plain({ version: undefined }), /expected version to be a positive safe integer, got undefined/],
    ['version 0', plain({ version: 0 }), /version .* got 0/],
    ['version 1.5', plain({ version: 1.5 }), /got 1.5/],
    ['version as a string', plain({ version: '2' }), /got "2"/],
    ['another fabric', plain({ definition: { ...plain().definition, id: 'g' } }), /definition.id "g" does not match the requested id/],
    ['a bad definition', plain({ definition: { id: 'f', syncInterval: 'P1M' } }), /bad definition: Expected syncInterval .* use days/],
    ['metadata Redis could not keep', plain({ definition: { id: 'f', syncInterval: 1, metadata: { d: new Date() } } }), /bad definition: Expected metadata.d .* got a Date/],
    ['an unknown status', plain({}, { status: 'done' }), /expected state.status to be one of SYNC_STATUSES, got "done"/],
    ['anchorAt -1e20', plain({}, { anchorAt: -1e20 }), /expected state.anchorAt to be null or a number of ms within ±8.64e15 \(the Date range\), got -100000000000000000000/],
    ['nextSyncAt NaN', plain({}, { nextSyncAt: Number.NaN }), /state.nextSyncAt .* got NaN/],
    ['lastSyncAt Infinity', plain({}, { lastSyncAt: Number.POSITIVE_INFINITY }), /state.lastSyncAt .* got Infinity/],
    ['lastSlotAt a string', plain({}, { lastSlotAt: '2026-01-01' }), /state.lastSlotAt .* got "2026-01-01"/],
    ['lastAttemptAt missing', plain({}, { lastAttemptAt: undefined }), /state.lastAttemptAt .* got undefined/],
    ['negative failures', plain({}, { consecutiveFailures: -1 }), /expected state.consecutiveFailures to be a non-negative safe integer, got -1/],
    ['fractional token', plain({}, { fencingToken: 1.5 }), /state.fencingToken .* got 1.5/],
    ['unsafe token', plain({}, { fencingToken: 2 ** 53 }), /state.fencingToken .* got 9007199254740992/],
    ['lastError a number', plain({}, { lastError: 5 }), /expected state.lastError to be a string or null, got 5/],
  ];
  it.each(bad)('refuses %s with CorruptStateError and a precise reason', (_name, value, reason) => {
    expect(corruptReason('f', value)).toMatch(reason);
  });

  it('accepts the edges of the Date range and refuses one past them', () => {
    expect(checkRecord('f', plain({}, { anchorAt: -MAX_TIMESTAMP_MS, nextSyncAt: MAX_TIMESTAMP_MS })).state.anchorAt).toBe(-MAX_TIMESTAMP_MS);
    expect(corruptReason('f', plain({}, { nextSyncAt: MAX_TIMESTAMP_MS + 1 }))).toMatch(/state.nextSyncAt/);
  });

  it('a record whose reads throw (getters, Proxies) is CorruptStateError, not the adapter error', () => {
    const bomb = new Proxy({}, { get: () => { throw new Error('adapter bomb'); } });
    expect(corruptReason('f', bomb)).toMatch(/reading it threw: adapter bomb/);
    const stateBomb = plain({ state: Object.defineProperty({}, 'status', { get: () => { throw new Error('state bomb'); } }) });
    expect(corruptReason('f', stateBomb)).toMatch(/state bomb/);
  });

  it('trusted records still answer for their id', () => {
    const r = checkRecord('f', plain());
    expect(corruptReason('g', r)).toMatch(/definition.id "f" does not match/);
  });

  it('is fast: records from MemoryStorage are checked once, then by one WeakSet lookup', async () => {
    const storage = new MemoryStorage();
    const w = storage.write('f', { definition: def(), state: { ...initialState(), status: 'in_sync', lastSyncAt: 1, anchorAt: 1 } }, null);
    if (!w.ok) throw new Error('write failed');
    const record = (await storage.get('f'))!;
    expect(checkRecord('f', record)).toBe(record);
    const measure = (fn: () => unknown, n: number) => {
      for (let i = 0; i < 10_000; i++) fn();
      const t = process.hrtime.bigint();
      for (let i = 0; i < n; i++) fn();
      return Number(process.hrtime.bigint() - t) / n;
    };
    const hit = measure(() => checkRecord('f', record), 1_000_000);
    // a first check of a new frozen record (what each write hands out), and of an unfrozen copy
    const fresh = () => Object.freeze({ definition: record.definition, state: Object.freeze({ ...record.state }), version: 1 });
    const first = measure(() => checkRecord('f', fresh()), 200_000) - measure(fresh, 200_000);
    const unfrozen = measure(() => checkRecord('f', { definition: record.definition, state: { ...record.state }, version: 1 }), 200_000);
    const writeResult = measure(() => checkWriteResult('f', { ok: true, record }), 1_000_000);
    console.log(`checkRecord: ${hit.toFixed(0)} ns (checked before), ${first.toFixed(0)} ns (first check of a frozen record), ${unfrozen.toFixed(0)} ns (unfrozen, copied); checkWriteResult: ${writeResult.toFixed(0)} ns`);
    expect(hit).toBeLessThan(1_000);
    expect(first).toBeLessThan(20_000);
  });
});

describe('checkWriteResult', () => {
  const good = checkRecord('f', plain());
  it('passes valid answers through', () => {
    expect(checkWriteResult('f', { ok: true, record: good })).toEqual({ ok: true, record: good });
    expect(checkWriteResult('f', { ok: false, current: good })).toEqual({ ok: false, current: good });
    expect(checkWriteResult('f', { ok: false, current: undefined })).toEqual({ ok: false, current: undefined });
    expect(checkWriteResult('f', { ok: false })).toEqual({ ok: false, current: undefined });
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['{ ok: true } without a record', { ok: true }, /answered \{ ok: true \} without a record/],
    ['undefined', undefined, /expected \{ ok: true, record \} or \{ ok: false, current \}, got undefined/],
    ['a boolean', true, /got true/],
    ['ok: "yes"', { ok: 'yes', record: good }, /expected ok to be true or false, got "yes"/],
    ['a record of another fabric', { ok: true, record: checkRecord('g', plain({ definition: { ...plain().definition, id: 'g' } })) }, /unreadable record: definition.id "g" does not match/],
    ['a corrupt record', { ok: true, record: plain({ state: null }) }, /unreadable record: expected state to be an object, got null/],
    ['a corrupt current record', { ok: false, current: plain({ version: -1 }) }, /unreadable current record: expected version/],
    ['a throwing answer', new Proxy({}, { get: () => { throw new Error('write bomb'); } }), /could not be read: write bomb/],
  ];
  it.each(bad)('refuses %s with StorageError(write) naming the fabric', (_name, value, reason) => {
    let error: unknown;
    try {
      checkWriteResult('f', value);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StorageError);
    expect(error).not.toBeInstanceOf(CorruptStateError);
    expect((error as StorageError).operation).toBe('write');
    expect((error as StorageError).fabricId).toBe('f');
    expect((error as Error).message).toMatch(reason);
  });
});

describe('checkListResult', () => {
  it('keeps valid records, moves invalid ones to corrupt with their reason, keeps the adapter corrupt entries', () => {
    const a = checkRecord('a', plain({ definition: { ...plain().definition, id: 'a' } }));
    const a2 = checkRecord('a', plain({ definition: { ...plain().definition, id: 'a' }, version: 5 }));
    const broken = plain({ definition: { ...plain().definition, id: 'b' }, state: null });
    const anonymous = { state: {} };
    const out = checkListResult({ records: [a, broken, anonymous, a2, a], corrupt: [{ id: 'c', raw: 'x', reason: 'garbage' }, { nope: 1 }] });
    expect(out.records).toEqual([a2]);
    expect(out.corrupt).toEqual([
      { id: 'c', raw: 'x', reason: 'garbage' },
      { id: '', raw: { nope: 1 }, reason: 'corrupt[1] is not { id, raw, reason }' },
      { id: 'b', raw: broken, reason: 'expected state to be an object, got null' },
      { id: '', raw: anonymous, reason: 'records[2] has no readable definition.id' },
    ]);
    expect(checkListResult({ records: [] })).toEqual({ records: [], corrupt: [] });
  });

  it('refuses an answer that is not a list with StorageError(list)', () => {
    for (const [value, reason] of [
      [undefined, /expected \{ records, corrupt \}, got undefined/],
      [{ records: 'x' }, /expected records to be an array, got "x"/],
      [{ records: [], corrupt: {} }, /expected corrupt to be an array or absent, got an object/],
      [new Proxy({}, { get: () => { throw new Error('list bomb'); } }), /could not be read: list bomb/],
    ] as const) {
      let error: unknown;
      try {
        checkListResult(value);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).operation).toBe('list');
      expect((error as Error).message).toMatch(reason);
    }
  });

  it('passes MemoryStorage answers through unchanged', async () => {
    const storage = new MemoryStorage();
    for (const id of ['x', 'y']) storage.write(id, { definition: def(id), state: initialState() }, null);
    const listed = await storage.list();
    const out = checkListResult(listed);
    expect(out.records).toHaveLength(2);
    out.records.forEach((r: FabricRecord) => expect(listed.records).toContain(r));
  });
});
