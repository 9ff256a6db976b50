import { describe, expect, it } from 'vitest';
import { normalizeFabric } from '../../src/definition.js';
import { InvalidFabricError } from '../../src/errors.js';
import { expectRefused } from './expect-refused.js';

const norm = (def: unknown) => normalizeFabric(def, { syncTimeout: 0 });

function throwingGetter<T extends object>(base: T, key: string): T {
  return Object.defineProperty(base, key, {
    enumerable: true,
    get() {
      throw new TypeError(`host getter ${key} exploded`);
    },
  });
}

describe('every read of a definition is guarded', () => {
  it.each(['id', 'syncInterval', 'enabled', 'syncTimeout', 'metadata', 'queue'])('a throwing getter on %s is refused naming that field, with the host error in the message', (key) => {
    const base: Record<string, unknown> = { id: 'f', syncInterval: 1000 };
    delete base[key];
    const e = expectRefused(() => norm(throwingGetter(base, key)), { field: key, expected: 'a readable value', got: `a getter or Proxy trap that threw: host getter ${key} exploded` });
    if (key !== 'id') expect(e.fabricId).toBe('f');
  });

  it('Proxy traps that throw (get, ownKeys, getPrototypeOf on metadata) become InvalidFabricError, never the host error', () => {
    const getBomb = new Proxy({}, { get: () => { throw new Error('get bomb'); } });
    expectRefused(() => norm(getBomb), { field: 'id', expected: 'a readable value', got: 'get bomb' });
    const keysBomb = new Proxy({ id: 'p', syncInterval: 1000 }, { ownKeys: () => { throw new Error('ownKeys bomb'); } });
    expectRefused(() => norm(keysBomb), { field: 'fabric definition', expected: 'an object that can be inspected', got: 'ownKeys bomb' });
    const protoBomb = new Proxy({ a: 1 }, { getPrototypeOf: () => { throw new Error('proto bomb'); } });
    expectRefused(() => norm({ id: 'p', syncInterval: 1000, metadata: { deep: protoBomb } }), { field: 'metadata.deep', expected: 'an object that can be inspected', got: 'proto bomb' });
    const valueBomb = throwingGetter({ ok: 1 }, 'bad');
    expectRefused(() => norm({ id: 'p', syncInterval: 1000, metadata: { list: [valueBomb] } }), { field: 'metadata.list[0].bad', expected: 'a readable value', got: 'host getter bad exploded' });
  });

  it('revoked Proxies (where even Array.isArray throws) are refused without a raw TypeError', () => {
    const r = Proxy.revocable({ id: 'x', syncInterval: 1000 }, {});
    r.revoke();
    const e = expectRefused(() => norm(r.proxy), { field: 'fabric definition', expected: 'an object that can be inspected', got: 'revoked' });
    expect(e.value).toBeUndefined();
    const m = Proxy.revocable({}, {});
    m.revoke();
    const e2 = expectRefused(() => norm({ id: 'x', syncInterval: 1000, metadata: { m: m.proxy } }), { field: 'metadata.m', expected: 'an object that can be inspected', got: 'revoked' });
    expect(e2.fabricId).toBe('x');
  });

  it('reads each field once: a getter answering differently each time cannot slip a bad value past the check', () => {
    let n = 0;
    const def = Object.defineProperty({ id: 'f' }, 'syncInterval', { enumerable: true, get: () => (n++ === 0 ? 1000 : -1) });
    expect(norm(def).syncInterval).toBe(1000);
    expect(n).toBe(1);
  });

  it('the result is frozen and normalizing it again returns it as it is', () => {
    const f = norm({ id: 'f', syncInterval: 'PT1M', metadata: { a: [1] } });
    expect(Object.isFrozen(f)).toBe(true);
    expect(norm(f)).toBe(f);
    expect(normalizeFabric(f, { syncTimeout: 5 })).toBe(f);
    // a look-alike copy is checked again (and passes)
    const copy = { ...f };
    expect(norm(copy)).not.toBe(copy);
    expect(norm(copy)).toEqual(f);
  });

  it('the existing refusals still say what was expected and what arrived', () => {
    expectRefused(() => norm('fab'), { field: 'fabric definition', expected: 'an object', got: 'string "fab"' });
    expectRefused(() => norm([]), { field: 'fabric definition', expected: 'an object', got: 'an array' });
    expectRefused(() => norm({ syncInterval: 1 }), { field: 'id', expected: 'a non-empty string', got: 'undefined' });
    expectRefused(() => norm({ id: 'x'.repeat(2000), syncInterval: 1 }), { field: 'id', expected: 'a string of at most 1024 characters', got: '(2000 chars)' });
    expectRefused(() => norm({ id: 'f', syncInterval: 1, enabled: 'yes' }), { field: 'enabled', expected: 'a boolean', got: 'string "yes"' });
    expectRefused(() => norm({ id: 'f', syncInterval: 1, queue: '' }), { field: 'queue', expected: 'a non-empty string', got: 'string ""' });
    expectRefused(() => norm({ id: 'f', syncInterval: 1, syncIntervall: 1 }), { field: 'syncIntervall', expected: 'absent (known fields', got: '1' });
    expect(() => norm(null)).toThrow(InvalidFabricError);
  });
});
