import { describe, expect, it } from 'vitest';
import { OpChains } from '../../src/scheduler/op-chains.js';

/** An operation that records when it starts and ends and settles when told to. */
function op(log: string[], name: string, fail = false) {
  let settle!: () => void;
  const gate = new Promise<void>((r) => (settle = r));
  const fn = async () => {
    log.push(`start ${name}`);
    await gate;
    log.push(`end ${name}`);
    if (fail) throw new Error(name);
    return name;
  };
  return { fn, settle };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('OpChains', () => {
  it('serializes single operations and batches on shared ids in call order, whatever their outcome', async () => {
    const chains = new OpChains();
    const log: string[] = [];
    const a1 = op(log, 'a1', true);
    const batch = op(log, 'batch{a,b}');
    const a2 = op(log, 'a2');
    const b1 = op(log, 'b1');
    const c1 = op(log, 'c1');
    const p1 = chains.run('a', a1.fn);
    const p2 = chains.runMany(new Set(['a', 'b']), batch.fn);
    const p3 = chains.run('a', a2.fn);
    const p4 = chains.run('b', b1.fn);
    const p5 = chains.run('c', c1.fn);
    await tick();
    // a1 and c1 run at once; the batch waits for a1, a2 and b1 for the batch.
    expect(log).toEqual(['start a1', 'start c1']);
    a1.settle();
    await expect(p1).rejects.toThrow('a1');
    await tick();
    expect(log).toContain('start batch{a,b}');
    expect(log).not.toContain('start a2');
    expect(log).not.toContain('start b1');
    batch.settle();
    await p2;
    await tick();
    expect(log.slice(-2).sort()).toEqual(['start a2', 'start b1']);
    a2.settle();
    b1.settle();
    c1.settle();
    await Promise.all([p3, p4, p5]);
  });

  it('runs batches one after another and forgets settled ones', async () => {
    const chains = new OpChains();
    const log: string[] = [];
    const first = op(log, 'first', true);
    const second = op(log, 'second');
    const p1 = chains.runMany(new Set(['x']), first.fn);
    const p2 = chains.runMany(new Set(['y']), second.fn);
    await tick();
    expect(log).toEqual(['start first']);
    first.settle();
    await expect(p1).rejects.toThrow('first');
    await tick();
    expect(log).toContain('start second');
    second.settle();
    await p2;
    await tick();
    // nothing pending: a new operation on x starts at once
    const later = op(log, 'x-later');
    const p3 = chains.run('x', later.fn);
    await tick();
    expect(log.at(-1)).toBe('start x-later');
    later.settle();
    await p3;
  });
});
