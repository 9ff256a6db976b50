/**
 * Issue 9, row 9 and the smaller cases: every input is checked at the door with the typed
 * errors that exist, and bad input loses nothing.
 */
import { describe, expect, it } from 'vitest';
import { InvalidOptionError, createScheduler, type FabricDefinition, type SchedulerOptions } from '../../src/index.js';
import { SECOND, setup, settleOrAbandon } from './helpers.js';

/** A started scheduler holding fab-a and fab-b. */
async function twoFabrics() {
  const h = setup();
  await h.scheduler.upsertFabric({ id: 'fab-a', syncInterval: 60 * SECOND });
  await h.scheduler.upsertFabric({ id: 'fab-b', syncInterval: 60 * SECOND });
  await h.scheduler.start();
  await h.clock.tickAsync(100);
  return h;
}

/** What a call rejected with, as `{ type, option, message }` (or `'resolved'`). */
async function refusal(call: () => Promise<unknown>) {
  try {
    await call();
    return 'resolved';
  } catch (error) {
    return { type: (error as Error).constructor.name, option: (error as InvalidOptionError).option, message: (error as Error).message };
  }
}

/** What an upsert of `definition` threw (constructor name and message), or `'accepted'`. */
async function upsertOutcome(definition: unknown) {
  const h = setup();
  try {
    await h.scheduler.upsertFabric(definition as FabricDefinition);
    return 'accepted';
  } catch (error) {
    return { type: (error as Error).constructor.name, message: (error as Error).message };
  }
}

describe('bad options to validate, repair and stop: a clear error, nothing lost', () => {
  it("repair({ definedIds: 'fab-a' }) is refused and deletes nothing", async () => {
    const h = await twoFabrics();
    expect(await refusal(() => h.scheduler.repair({ definedIds: 'fab-a' }))).toMatchObject({ type: 'InvalidOptionError', option: 'definedIds' });
    expect((await h.scheduler.listFabrics()).map((f) => f.id)).toEqual(['fab-a', 'fab-b']);
    await settleOrAbandon(h.clock, h.scheduler.stop());
  });

  it.each([
    ['validate', { definedIds: 'fab-a' }],
    ['validate', { definedIds: 42 }],
    ['validate', { definedIdz: ['fab-a'] }],
    ['validate', 'fab-a'],
    ['repair', { definedIds: [1, 2] }],
    ['repair', { definedIdz: ['fab-a'] }],
    ['stop', { inflight: 'abort' }],
    ['stop', { inFlight: 'never' }],
    ['stop', { drainTimeout: 'soon' }],
    ['stop', 'now'],
  ] as const)('%s(%j) is refused with InvalidOptionError', async (method, options) => {
    const h = await twoFabrics();
    const call = h.scheduler[method].bind(h.scheduler) as (o: unknown) => Promise<unknown>;
    const outcome = await refusal(() => call(options));
    expect(outcome).toMatchObject({ type: 'InvalidOptionError' });
    expect((await h.scheduler.listFabrics()).map((f) => f.id)).toEqual(['fab-a', 'fab-b']);
    await settleOrAbandon(h.clock, h.scheduler.stop());
  });
});

describe('fabric definitions are checked at the door', () => {
  it.each(['P1M', 'P1Y'])('a variable-length syncInterval %s is refused with a hint to use days', async (interval) => {
    const outcome = await upsertOutcome({ id: 'f', syncInterval: interval });
    expect(outcome).toMatchObject({ type: 'InvalidFabricError', message: expect.stringMatching(/P30D|days/) });
  });

  it("a mixed-sign ISO duration 'PT1M-59S' is refused", async () => {
    expect(await upsertOutcome({ id: 'f', syncInterval: 'PT1M-59S' })).toMatchObject({ type: 'InvalidFabricError' });
  });

  it('an interval whose slots pass Number.MAX_SAFE_INTEGER is refused', async () => {
    expect(await upsertOutcome({ id: 'f', syncInterval: Number.MAX_SAFE_INTEGER })).toMatchObject({ type: 'InvalidFabricError' });
  });

  it('a definition with a throwing getter is refused with InvalidFabricError, not a raw error', async () => {
    const definition = { id: 'f', syncInterval: 60 * SECOND };
    Object.defineProperty(definition, 'enabled', {
      get() {
        throw new Error('boom');
      },
      enumerable: true,
    });
    expect(await upsertOutcome(definition)).toMatchObject({ type: 'InvalidFabricError' });
  });

  it.each([
    ['a Map', () => ({ devices: new Map([['a', 1]]) })],
    ['a Date', () => ({ since: new Date(0) })],
    ['a function', () => ({ onSync: () => undefined })],
    ['an undefined value', () => ({ site: undefined })],
    ['a cycle', () => {
      const cycle: Record<string, unknown> = { name: 'loop' };
      cycle.self = cycle;
      return cycle;
    }],
  ])('metadata holding %s is refused with InvalidFabricError on the memory storage', async (_what, metadata) => {
    expect(await upsertOutcome({ id: 'f', syncInterval: 60 * SECOND, metadata: metadata() })).toMatchObject({ type: 'InvalidFabricError' });
  });

  it('metadata is snapshotted at upsert: mutating the caller’s object changes nothing the executor sees', async () => {
    const h = setup();
    const metadata = { site: 'par1', tags: ['core'] };
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: SECOND, metadata });
    metadata.site = 'changed';
    metadata.tags.push('changed');
    await h.scheduler.start();
    await h.clock.tickAsync(100);
    expect(h.callsOf('f').map((c) => c.fabric.metadata)).toEqual([{ site: 'par1', tags: ['core'] }]);
    await settleOrAbandon(h.clock, h.scheduler.stop());
  });
});

describe('host calls and scheduler options are checked at the door', () => {
  it('syncNow(undefined) is refused with InvalidOptionError', async () => {
    const h = await twoFabrics();
    expect(await refusal(() => h.scheduler.syncNow(undefined as unknown as string))).toMatchObject({ type: 'InvalidOptionError' });
    await settleOrAbandon(h.clock, h.scheduler.stop());
  });

  /** What createScheduler threw for these options, or `'accepted'`. */
  function createOutcome(options: Record<string, unknown>) {
    try {
      createScheduler({ executor: () => undefined, ...options } as SchedulerOptions);
      return 'accepted';
    } catch (error) {
      return { type: (error as Error).constructor.name, option: (error as InvalidOptionError).option, message: (error as Error).message };
    }
  }

  it('a typo in a scheduler option is refused with InvalidOptionError naming the key', () => {
    expect(createOutcome({ maxConcurrentSync: 3 })).toMatchObject({ type: 'InvalidOptionError', message: expect.stringContaining('maxConcurrentSync') });
  });

  it.each(['clock', 'storage', 'singleFlight'])('%s: {} is refused with InvalidOptionError at createScheduler', (port) => {
    expect(createOutcome({ [port]: {} })).toMatchObject({ type: 'InvalidOptionError', option: expect.stringContaining(port) });
  });
});
