import { describe, expect, it } from 'vitest';
import { MAX_METADATA_DEPTH, MAX_METADATA_SIZE, normalizeFabric } from '../../src/definition.js';
import { createScheduler, InvalidFabricError, MemoryStorage } from '../../src/index.js';
import { createFakeClock } from '../../src/testing.js';
import { expectRefused } from './expect-refused.js';

const meta = (metadata: unknown) => normalizeFabric({ id: 'f', syncInterval: 1000, metadata }, { syncTimeout: 0 }).metadata;
const JSON_SAFE = 'a JSON value (plain object, array, string, finite number, boolean or null)';

describe('metadata: JSON values only, on every storage', () => {
  class Point {
    x = 1;
  }
  const cases: Array<[string, unknown, string, string]> = [
    ['undefined in an array', { tags: ['a', 'b', undefined] }, 'metadata.tags[2]', 'undefined'],
    ['undefined as a value', { a: undefined }, 'metadata.a', 'undefined'],
    ['a function', { fn: () => 1 }, 'metadata.fn', 'a function'],
    ['a symbol', { s: Symbol('x') }, 'metadata.s', 'a symbol (Symbol(x))'],
    ['a bigint', { b: 10n }, 'metadata.b', 'a bigint (10n)'],
    ['a Map', { m: new Map([[1, 2]]) }, 'metadata.m', 'a Map'],
    ['a Set', { s: new Set([1]) }, 'metadata.s', 'a Set'],
    ['a Date', { d: new Date(0) }, 'metadata.d', 'a Date'],
    ['a RegExp', { r: /x/ }, 'metadata.r', 'a RegExp'],
    ['a typed array', { u: new Uint8Array(2) }, 'metadata.u', 'a Uint8Array'],
    ['a class instance', { p: new Point() }, 'metadata.p', 'an instance of Point'],
    ['a boxed string', { s: Object('x') }, 'metadata.s', 'a String'],
    ['NaN', { n: Number.NaN }, 'metadata.n', 'NaN'],
    ['Infinity', { n: [1, Number.NEGATIVE_INFINITY] }, 'metadata.n[1]', '-Infinity'],
    ['a key that is not an identifier', { 'a b': [{ 'c-d': undefined }] }, 'metadata["a b"][0]["c-d"]', 'undefined'],
  ];
  it.each(cases)('refuses %s, naming the path', (_name, metadata, path, got) => {
    const e = expectRefused(() => meta(metadata), { field: path, expected: JSON_SAFE, got });
    expect(e.fabricId).toBe('f');
  });

  it('refuses a non-object root, sparse arrays, extra array properties, symbol keys and hidden properties', () => {
    expectRefused(() => meta([1]), { field: 'metadata', expected: 'a plain object', got: 'an array' });
    expectRefused(() => meta(null), { field: 'metadata', expected: 'a plain object', got: 'null' });
    expectRefused(() => meta('x'), { field: 'metadata', expected: 'a plain object', got: 'string "x"' });
    // eslint-disable-next-line no-sparse-arrays
    expectRefused(() => meta({ a: [1, , 3] }), { field: 'metadata.a[1]', expected: JSON_SAFE, got: 'a hole (sparse array)' });
    const tagged = Object.assign([1, 2], { extra: true });
    expectRefused(() => meta({ a: tagged }), { field: 'metadata.a', expected: 'an array holding only its elements', got: 'the extra property "extra"' });
    expectRefused(() => meta({ a: { [Symbol('k')]: 1 } }), { field: 'metadata.a', expected: 'with string keys only', got: 'the symbol key Symbol(k)' });
    const hidden = Object.defineProperty({}, 'secret', { value: 1, enumerable: false });
    expectRefused(() => meta({ a: hidden }), { field: 'metadata.a', expected: 'with enumerable properties only', got: 'the non-enumerable property "secret"' });
  });

  it('refuses cycles, naming where they close', () => {
    const c: Record<string, unknown> = { name: 'loop' };
    c['self'] = c;
    expectRefused(() => meta(c), { field: 'metadata.self', expected: 'without cycles', got: 'a reference back to metadata' });
    const d = { a: { list: [] as unknown[] } };
    d.a.list.push(d.a);
    expectRefused(() => meta(d), { field: 'metadata.a.list[0]', expected: 'without cycles', got: 'a reference back to metadata.a' });
  });

  it(`bounds depth (${MAX_METADATA_DEPTH}) and size (${MAX_METADATA_SIZE} characters of JSON), counting exactly as JSON.stringify`, () => {
    const nest = (levels: number) => {
      const root: Record<string, unknown> = {};
      let at = root;
      for (let i = 1; i < levels; i++) at = (at['x'] = {}) as Record<string, unknown>;
      return root;
    };
    expect(() => meta(nest(MAX_METADATA_DEPTH))).not.toThrow();
    expectRefused(() => meta(nest(MAX_METADATA_DEPTH + 1)), { field: `metadata${'.x'.repeat(MAX_METADATA_DEPTH)}`, expected: `nested at most ${MAX_METADATA_DEPTH} levels deep`, got: `level ${MAX_METADATA_DEPTH + 1}` });
    // exactly at the limit, with characters JSON escapes, nested containers and every kind of value
    const body = { s: 'é"\\\n\u0001\ud800', n: [-1.5e-7, 0, true, false, null], o: { k: {} }, e: [] };
    const used = JSON.stringify({ ...body, pad: '' }).length;
    const exact = { ...body, pad: 'p'.repeat(MAX_METADATA_SIZE - used) };
    expect(JSON.stringify(exact).length).toBe(MAX_METADATA_SIZE);
    expect(meta(exact)).toEqual(exact);
    expectRefused(() => meta({ ...exact, pad: `${exact.pad}p` }), { field: 'metadata', expected: `at most ${MAX_METADATA_SIZE} characters as JSON`, got: `more than ${MAX_METADATA_SIZE} (the limit was passed at metadata)` });
    // a DAG that would serialize to 2^40 characters is stopped early, not walked to the end
    let dag: unknown = 'x'.repeat(100);
    for (let i = 0; i < 30; i++) dag = [dag, dag];
    const t = performance.now();
    expectRefused(() => meta({ dag }), { field: 'metadata', expected: 'characters as JSON', got: 'the limit was passed at metadata.dag' });
    expect(performance.now() - t).toBeLessThan(2_000); // walking it whole would take hours; wide for loaded CI machines
  });

  it('accepts plain JSON, null-prototype objects and objects from JSON.parse (with a "__proto__" key) and snapshots them deep-frozen', () => {
    const parsed = JSON.parse('{"__proto__":{"x":1},"constructor":"c","list":[1,"two",{"three":null}],"n":-0}') as Record<string, unknown>;
    const copy = meta(parsed)!;
    expect(copy).not.toBe(parsed);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.hasOwn(copy, '__proto__')).toBe(true);
    expect(copy['__proto__']).toEqual({ x: 1 });
    expect(JSON.stringify(copy)).toBe('{"__proto__":{"x":1},"constructor":"c","list":[1,"two",{"three":null}],"n":0}');
    expect(Object.is(copy['n'], 0)).toBe(true); // -0 is stored as 0, as JSON would
    const isDeepFrozen = (v: unknown): boolean => v === null || typeof v !== 'object' || (Object.isFrozen(v) && Object.values(v).every(isDeepFrozen));
    expect(isDeepFrozen(copy)).toBe(true);
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 });
    expect(meta(bare)).toEqual({ a: 1 });
    expect(meta({})).toEqual({});
  });

  it('a host mutating its object after upsertFabric changes nothing stored (memory storage)', async () => {
    const storage = new MemoryStorage();
    const clock = createFakeClock({ now: 0 });
    const seen: unknown[] = [];
    const scheduler = createScheduler({ storage, clock, executor: (fabric) => void seen.push(JSON.parse(JSON.stringify(fabric.metadata))) });
    const hostMeta = { site: 'par1', tags: ['a'], nested: { n: 1 } };
    await scheduler.upsertFabric({ id: 'f', syncInterval: 1000, metadata: hostMeta });
    hostMeta.site = 'changed';
    hostMeta.tags.push('b');
    hostMeta.nested.n = 2;
    const stored = (await storage.get('f'))!.definition.metadata!;
    expect(stored).toEqual({ site: 'par1', tags: ['a'], nested: { n: 1 } });
    expect(() => {
      (stored['tags'] as string[]).push('c');
    }).toThrow(TypeError);
    await scheduler.start();
    await clock.tickAsync(0);
    expect(seen).toEqual([{ site: 'par1', tags: ['a'], nested: { n: 1 } }]);
    await scheduler.stop();
  });

  it('memory storage refuses what Redis cannot keep (breaking change in 0.x): a Map is InvalidFabricError at upsert, nothing stored', async () => {
    const storage = new MemoryStorage();
    const scheduler = createScheduler({ storage, clock: createFakeClock({ now: 0 }), executor: () => undefined });
    const error = await scheduler.upsertFabric({ id: 'm', syncInterval: 1000, metadata: { byHost: new Map([['a', 1]]) } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidFabricError);
    expect((error as InvalidFabricError).field).toBe('metadata.byHost');
    expect(storage.size).toBe(0);
  });
});
