import { afterAll, describe, expect, it } from 'vitest';
import { normalizeFabric } from '../../src/definition.js';
import { StorageError } from '../../src/errors.js';
import { RedisStorage } from '../../src/redis/storage.js';
import { checkRecord } from '../../src/storage/check-record.js';
import { initialState, type FabricWrite } from '../../src/storage/types.js';
import { cleanupPrefix, countKeys, randomPrefix, realClient } from '../helpers/redis.js';

const real = realClient();
afterAll(async () => {
  await real.quit();
});

/** Every kind of value the metadata rule accepts, with the edges JSON and Redis could bend. */
const ACCEPTED = JSON.parse(
  JSON.stringify({
    string: 'par1',
    empty: '',
    unicode: 'é ü 中文 🚀',
    escapes: '"quoted" \\ back \n new \t tab \u0000 nul \u001f',
    loneSurrogates: '\ud800 and \udfff',
    integers: [0, 1, -1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER],
    floats: [0.1, -1.5e-7, 1e300, 5e-324, Number.MAX_VALUE, 2 ** 53 + 2],
    booleans: [true, false],
    nothing: null,
    emptyObject: {},
    emptyArray: [],
    nested: { a: [{ b: [[{ c: null }]] }] },
    'key with spaces': 1,
    '': 'empty key',
    '123': 'integer-like key',
    constructor: 'c',
    hasOwnProperty: 'h',
  }),
) as Record<string, unknown>;
Object.defineProperty(ACCEPTED, '__proto__', { value: { polluted: false }, enumerable: true, writable: true, configurable: true });

describe('RedisStorage keeps every accepted metadata value exactly (real Redis)', () => {
  it('write then get, list and a second storage instance: equal to what was accepted, deep-frozen, normalized', async () => {
    const prefix = randomPrefix('input-meta');
    const a = new RedisStorage({ client: real, prefix });
    const b = new RedisStorage({ client: real, prefix });
    try {
      const definition = normalizeFabric({ id: 'f', syncInterval: 'PT1M', metadata: ACCEPTED }, { syncTimeout: 0 });
      const w = await a.write('f', { definition, state: initialState() }, null);
      if (!w.ok) throw new Error('write failed');
      const got = (await b.get('f'))!;
      const listed = (await b.list()).records.find((r) => r.definition.id === 'f')!;
      for (const record of [w.record, got, listed]) {
        expect(record.definition).toStrictEqual(definition);
        expect(record.definition.metadata).toStrictEqual(ACCEPTED);
        expect(JSON.stringify(record.definition.metadata)).toBe(JSON.stringify(ACCEPTED));
        expect(Object.hasOwn(record.definition.metadata!, '__proto__')).toBe(true);
        expect(Object.getPrototypeOf(record.definition.metadata)).toBe(Object.prototype);
        expect(Object.isFrozen((record.definition.metadata!['nested'] as { a: unknown[] }).a[0])).toBe(true);
        expect(checkRecord('f', record)).toBe(record); // frozen, data only: passes as it is
      }
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
      expect(w.record.definition).toBe(definition); // the normalized definition, not a lossy round trip
    } finally {
      await cleanupPrefix(real, prefix);
      expect(await countKeys(real, prefix)).toBe(0);
    }
  });

  it('a definition that did not go through normalizeFabric is checked at write: a Map is refused, never stored as {}', async () => {
    const prefix = randomPrefix('input-meta');
    const s = new RedisStorage({ client: real, prefix });
    try {
      const raw = { id: 'm', syncInterval: 1000, enabled: true, syncTimeout: 0, queue: 'default', metadata: { byHost: new Map([['a', 1]]), at: new Date(0) } };
      const error = await s.write('m', { definition: raw, state: initialState() } as unknown as FabricWrite, null).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).operation).toBe('write');
      expect((error as StorageError).fabricId).toBe('m');
      expect((error as Error).message).toMatch(/Expected metadata.byHost to be a JSON value .* got a Map/);
      expect(await s.get('m')).toBeUndefined();
      // the same definition without the Map and Date is accepted as it is and read back equal
      const ok = await s.write('m', { definition: { ...raw, metadata: { byHost: { a: 1 }, at: new Date(0).toISOString() } }, state: initialState() } as unknown as FabricWrite, null);
      expect(ok.ok).toBe(true);
      expect((await s.get('m'))!.definition.metadata).toStrictEqual({ byHost: { a: 1 }, at: '1970-01-01T00:00:00.000Z' });
    } finally {
      await cleanupPrefix(real, prefix);
      expect(await countKeys(real, prefix)).toBe(0);
    }
  });
});

describe('metadata and the change log (real Redis)', () => {
  it('a metadata-only change is a definition change (one log entry, a new digest); state-only writes add nothing', async () => {
    const prefix = randomPrefix('input-meta-log');
    const s = new RedisStorage({ client: real, prefix });
    try {
      const { cursor } = await s.changes(null);
      const def = normalizeFabric({ id: 'm', syncInterval: 1000, metadata: ACCEPTED }, { syncTimeout: 0 });
      const a = await s.write('m', { definition: def, state: initialState() }, null);
      if (!a.ok) throw new Error('create failed');
      const h1 = await real.hget(s.keys.record('m'), 'h');
      // the same definition again, through a second normalization: same digest, no entry
      const same = await s.write('m', { definition: normalizeFabric({ id: 'm', syncInterval: 1000, metadata: ACCEPTED }, { syncTimeout: 0 }), state: { ...initialState(), lastError: 'x' } }, a.record.version);
      if (!same.ok) throw new Error('update failed');
      expect(await real.hget(s.keys.record('m'), 'h')).toBe(h1);
      const changed = await s.write('m', { definition: normalizeFabric({ id: 'm', syncInterval: 1000, metadata: { ...ACCEPTED, string: 'par2' } }, { syncTimeout: 0 }), state: initialState() }, same.record.version);
      expect(changed.ok).toBe(true);
      expect(await real.hget(s.keys.record('m'), 'h')).not.toBe(h1);
      const page = await s.changes(cursor);
      expect(page.changes).toEqual([{ id: 'm', kind: 'defined' }, { id: 'm', kind: 'defined' }]);
    } finally {
      await cleanupPrefix(real, prefix);
      expect(await countKeys(real, prefix)).toBe(0);
    }
  });
});
