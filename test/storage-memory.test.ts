import { describe, expect, it } from 'vitest';
import { StorageError, initialState, normalizeFabric } from '../src/index.js';
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
});
