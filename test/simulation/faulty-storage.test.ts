import { describe, expect, it } from 'vitest';
import { InvalidOptionError, MemoryStorage, initialState, normalizeFabric, type FabricWrite } from '../../src/index.js';
import { FaultyStorage, InjectedFaultError, createFakeClock } from '../../src/testing.js';

const value = (id: string): FabricWrite => ({ definition: normalizeFabric({ id, syncInterval: 1000 }, { syncTimeout: 0 }), state: initialState() });

function setup(faults: ConstructorParameters<typeof FaultyStorage>[1] = {}) {
  const clock = createFakeClock({ now: 1_000_000 });
  const inner = new MemoryStorage();
  const storage = new FaultyStorage(inner, { clock, ...faults });
  return { clock, inner, storage };
}

describe('FaultyStorage', () => {
  it('passes calls through untouched when no fault applies (a synchronous write stays synchronous)', async () => {
    const { storage, inner } = setup();
    const result = storage.write('a', value('a'), null);
    expect(result).not.toBeInstanceOf(Promise);
    expect(result).toMatchObject({ ok: true, record: { version: 1 } });
    expect((await storage.get('a'))?.version).toBe(1);
    expect((await storage.list()).records).toHaveLength(1);
    expect(await storage.delete('a', 7)).toBe(false);
    expect(await storage.delete('a')).toBe(true);
    expect(inner.size).toBe(0);
    expect(storage.counters).toEqual({ calls: 5, delayed: 0, hung: 0, failed: 0, lostWrites: 0 });
  });

  it('fails calls with InjectedFaultError, without reaching the inner storage', async () => {
    const { storage, inner } = setup({ faults: { failRate: 1 } });
    await expect(Promise.resolve(storage.write('a', value('a'), null))).rejects.toBeInstanceOf(InjectedFaultError);
    await expect(storage.get('a')).rejects.toThrow(/Injected storage fault: get "a"/);
    expect(inner.size).toBe(0);
    expect(storage.counters.failed).toBe(2);
  });

  it('delays calls on the given clock', async () => {
    const { storage, clock } = setup({ faults: { latencyRate: 1, minLatency: 50, maxLatency: 50 } });
    let done = false;
    const p = Promise.resolve(storage.write('a', value('a'), null)).then((r) => ((done = true), r));
    await clock.tickAsync(49);
    expect(done).toBe(false);
    await clock.tickAsync(1);
    expect(done).toBe(true);
    expect((await p).ok).toBe(true);
    expect(storage.counters.delayed).toBe(1);
  });

  it('hangs calls until released (proceed or fail), and heal() releases them', async () => {
    const { storage, clock, inner } = setup();
    storage.inject('hang', 2, ['write']);
    let settled = 0;
    const a = Promise.resolve(storage.write('a', value('a'), null)).finally(() => settled++);
    const b = Promise.resolve(storage.write('b', value('b'), null)).finally(() => settled++);
    await clock.tickAsync(1_000_000);
    expect(settled).toBe(0);
    expect(storage.hungCount).toBe(2);
    expect(storage.releaseHung('proceed')).toBe(2);
    expect((await a).ok).toBe(true);
    expect((await b).ok).toBe(true);
    expect(inner.size).toBe(2);
    storage.setFaults({ hangRate: 1 });
    const c = storage.get('a');
    await clock.flush();
    expect(storage.hungCount).toBe(1);
    storage.heal();
    expect((await c)?.version).toBe(1);
    expect(storage.faults.hangRate).toBe(0);
    storage.inject('hang', 1, ['get']);
    const d = storage.get('a');
    storage.releaseHung('fail');
    await expect(d).rejects.toBeInstanceOf(InjectedFaultError);
  });

  it('loses writes: acknowledged with a bumped version, not applied, compare-and-set still checked', async () => {
    const { storage, inner } = setup();
    storage.write('a', value('a'), null);
    storage.inject('lose', 2);
    const lost = await storage.write('a', value('a'), 1);
    expect(lost).toMatchObject({ ok: true, record: { version: 2 } });
    expect((await inner.get('a'))?.version).toBe(1);
    const refused = await storage.write('a', value('a'), 5);
    expect(refused).toMatchObject({ ok: false, current: { version: 1 } });
    expect(storage.counters.lostWrites).toBe(1);
  });

  it('draws the same fault pattern for the same seed', async () => {
    const pattern = async (seed: number) => {
      const { storage } = setup({ seed, faults: { failRate: 0.5 } });
      const out: boolean[] = [];
      for (let i = 0; i < 32; i++) out.push(await storage.get('x').then(() => true, () => false));
      return out.join('');
    };
    expect(await pattern(7)).toBe(await pattern(7));
    expect(await pattern(7)).not.toBe(await pattern(8));
  });

  it('applies rates only to the operations named', async () => {
    const { storage } = setup({ faults: { failRate: 1, operations: ['delete'] } });
    expect(await storage.get('a')).toBeUndefined();
    await expect(storage.delete('a')).rejects.toBeInstanceOf(InjectedFaultError);
  });

  it('refuses bad options with InvalidOptionError and keeps its settings', () => {
    const inner = new MemoryStorage();
    expect(() => new FaultyStorage(inner, { faults: { failRate: 2 } })).toThrow(InvalidOptionError);
    expect(() => new FaultyStorage(inner, { seed: 1.5 })).toThrow(InvalidOptionError);
    expect(() => new FaultyStorage(inner, { nope: 1 } as never)).toThrow(InvalidOptionError);
    expect(() => new FaultyStorage(inner, { faults: { minLatency: 5, maxLatency: 1 } })).toThrow(InvalidOptionError);
    expect(() => new FaultyStorage(inner, { faults: { operations: ['put'] as never } })).toThrow(InvalidOptionError);
    const storage = new FaultyStorage(inner, { faults: { failRate: 0.25 } });
    expect(() => storage.setFaults({ hangRate: -1 })).toThrow(InvalidOptionError);
    expect(() => storage.setFaults({ typo: 1 } as never)).toThrow(InvalidOptionError);
    expect(() => storage.inject('explode' as never)).toThrow(InvalidOptionError);
    expect(storage.faults).toMatchObject({ failRate: 0.25, hangRate: 0 });
  });
});
