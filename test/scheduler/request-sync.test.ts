/**
 * scheduler.requestSync (issue 13 item 2): a request on an idle fabric runs now, a request while
 * it runs gives exactly one follow-up run, further requests coalesce, any run that starts after
 * the request satisfies it; paused fabrics keep it; requests reach the scheduler that runs the
 * fabric through the storage (another scheduler, the CLI's path, the old control record).
 */
import { describe, expect, it } from 'vitest';
import { FabricDisabledError, InProcessSingleFlight, InvalidOptionError, MemoryStorage, SchedulerNotRunningError, UnknownFabricError, checkRecord, updateControl } from '../../src/index.js';
import { storeRequest } from '../../src/scheduler/requests.js';
import { claimState, outcomeState } from '../../src/scheduler/transitions.js';
import { normalizeFabric } from '../../src/definition.js';
import { initialState } from '../../src/storage/types.js';
import { parseRecord, encodeWrite, definitionDigest } from '../../src/redis/record-codec.js';
import { T0, makeHarness, sleepOn } from '../helpers/harness.js';
import { createInvariantChecker } from '../../src/testing.js';

const MIN = 60_000;

describe('requestSync on one scheduler', () => {
  it("idle: 'started', a manual run at once; the grid is kept", async () => {
    const h = makeHarness();
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: MIN });
    await h.scheduler.start();
    await h.clock.tickAsync(1_000);
    expect(h.runs).toHaveLength(1);
    expect(await h.scheduler.requestSync('f')).toBe('started');
    await h.clock.tickAsync(0);
    expect(h.runs.map((r) => [r.trigger, r.start - T0])).toEqual([['schedule', 0], ['manual', 1_000]]);
    expect((await h.storage.get('f'))!.state.requestedAt).toBeUndefined();
    await h.clock.tickAsync(MIN - 1_000);
    expect(h.runs.map((r) => [r.trigger, r.start - T0])).toEqual([['schedule', 0], ['manual', 1_000], ['schedule', MIN]]);
    await h.stop();
  });

  it("running: 'queued', then 'coalesced'; exactly one follow-up run starts when the running one ends", async () => {
    const h = makeHarness({ behaviour: (_f, _c, clock) => sleepOn(clock, 5_000) });
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: MIN });
    await h.scheduler.start();
    await h.clock.tickAsync(1_000);
    expect(await h.scheduler.requestSync('f')).toBe('queued');
    await h.clock.tickAsync(1_000);
    expect(await h.scheduler.requestSync('f')).toBe('coalesced');
    expect(await h.scheduler.requestSync('f')).toBe('coalesced');
    expect((await h.storage.get('f'))!.state.requestedAt).toBe(T0 + 1_000);
    expect(await h.scheduler.getFabricStatus('f')).toMatchObject({ status: 'syncing', requestedAt: T0 + 1_000 });
    await h.clock.tickAsync(3_000); // the first run ends at 5 s
    expect(h.runs.map((r) => [r.trigger, r.start - T0])).toEqual([['schedule', 0], ['manual', 5_000]]);
    expect((await h.storage.get('f'))!.state.requestedAt).toBeUndefined();
    expect(await h.scheduler.getFabricStatus('f')).not.toHaveProperty('requestedAt');
    await h.clock.tickAsync(MIN);
    expect(h.runs.map((r) => [r.trigger, r.start - T0])).toEqual([['schedule', 0], ['manual', 5_000], ['schedule', MIN]]);
    expect(h.overlaps).toEqual([]);
    await h.stop();
  });

  it("a request made during the follow-up run gives one more; syncNow keeps answering 'skipped: in-flight'", async () => {
    const h = makeHarness({ behaviour: (_f, _c, clock) => sleepOn(clock, 5_000) });
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: MIN });
    await h.scheduler.start();
    await h.clock.tickAsync(1_000);
    expect(await h.scheduler.syncNow('f')).toMatchObject({ status: 'skipped', reason: 'in-flight' });
    expect(await h.scheduler.requestSync('f')).toBe('queued');
    await h.clock.tickAsync(5_000); // follow-up from 5 s to 10 s
    expect(await h.scheduler.requestSync('f')).toBe('queued');
    await h.clock.tickAsync(20_000);
    expect(h.runs.map((r) => [r.trigger, r.start - T0])).toEqual([['schedule', 0], ['manual', 5_000], ['manual', 10_000]]);
    await h.stop();
  });

  it('a scheduled slot that starts after the request satisfies it (no extra run)', async () => {
    const h = makeHarness({ behaviour: (_f, _c, clock) => sleepOn(clock, 10) });
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: MIN });
    await h.scheduler.start();
    await h.clock.tickAsync(1_000);
    // A request stored while nothing serves it at once (as the CLI writes it): the next run takes it.
    await storeRequest(h.storage, 'f', T0 + 1_000);
    await h.clock.tickAsync(MIN);
    expect(h.runs.map((r) => [r.trigger, r.start - T0])).toEqual([['schedule', 0], ['schedule', MIN]]);
    expect((await h.storage.get('f'))!.state.requestedAt).toBeUndefined();
    await h.stop();
  });

  it("a paused fabric keeps the request ('queued') until it is resumed", async () => {
    const h = makeHarness();
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: MIN });
    await h.scheduler.start();
    await h.clock.tickAsync(1_000);
    await h.scheduler.pause({ fabric: 'f' });
    expect(await h.scheduler.requestSync('f')).toBe('queued');
    await h.clock.tickAsync(10_000);
    expect(h.runs).toHaveLength(1);
    await h.scheduler.resume({ fabric: 'f' });
    await h.clock.tickAsync(0);
    expect(h.runs.map((r) => [r.trigger, r.start - T0])).toEqual([['schedule', 0], ['manual', 11_000]]);
    await h.stop();
  });

  it("unknown, disabled and a stopped scheduler give syncNow's typed errors", async () => {
    const h = makeHarness();
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: MIN });
    await h.scheduler.upsertFabric({ id: 'off', syncInterval: MIN, enabled: false });
    await expect(h.scheduler.requestSync('f')).rejects.toBeInstanceOf(SchedulerNotRunningError);
    await h.scheduler.start();
    await expect(h.scheduler.requestSync('nope')).rejects.toBeInstanceOf(UnknownFabricError);
    await expect(h.scheduler.requestSync('off')).rejects.toBeInstanceOf(FabricDisabledError);
    await expect(h.scheduler.requestSync('' as string)).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(h.scheduler.requestSync(42 as unknown as string)).rejects.toBeInstanceOf(InvalidOptionError);
    await h.stop();
    await expect(h.scheduler.requestSync('f')).rejects.toBeInstanceOf(SchedulerNotRunningError);
  });
});

describe('requestSync across schedulers sharing a storage', () => {
  it('a request made on A while B runs the fabric gives exactly one follow-up run, on B', async () => {
    const storage = new MemoryStorage();
    const singleFlight = new InProcessSingleFlight();
    const b = makeHarness({ storage, singleFlight, housekeepingInterval: 1_000, behaviour: (_f, _c, clock) => sleepOn(clock, 5_000) });
    const a = makeHarness({ storage, singleFlight, clock: b.clock, housekeepingInterval: 1_000 });
    const checker = createInvariantChecker();
    checker.attach(a.scheduler, { label: 'a' });
    checker.attach(b.scheduler, { label: 'b' });
    await b.scheduler.upsertFabric({ id: 'f', syncInterval: MIN });
    await b.scheduler.start();
    await b.clock.tickAsync(1_000); // B runs f from 0 to 5 s
    await a.scheduler.start();
    expect(await a.scheduler.requestSync('f')).toBe('queued');
    expect(await a.scheduler.requestSync('f')).toBe('coalesced');
    await b.clock.tickAsync(10_000);
    expect(b.runs.map((r) => [r.trigger, r.start - T0])).toEqual([['schedule', 0], ['manual', 5_000]]);
    expect(a.runs).toEqual([]);
    checker.assertNone();
    await a.stop();
    await b.stop();
  });

  it('a request stored by another writer (the CLI) on an idle fabric is served within one housekeeping pass, once', async () => {
    const storage = new MemoryStorage();
    const singleFlight = new InProcessSingleFlight();
    const a = makeHarness({ storage, singleFlight, housekeepingInterval: 1_000 });
    const b = makeHarness({ storage, singleFlight, clock: a.clock, housekeepingInterval: 1_000 });
    await a.scheduler.upsertFabric({ id: 'f', syncInterval: MIN });
    await a.scheduler.start();
    await b.scheduler.start();
    await a.clock.tickAsync(2_500);
    const runsBefore = a.runs.length + b.runs.length;
    expect(await storeRequest(storage, 'f', a.clock.now())).toMatchObject({ outcome: 'stored' });
    expect(await storeRequest(storage, 'f', a.clock.now())).toMatchObject({ outcome: 'coalesced' });
    await a.clock.tickAsync(1_000);
    const manual = [...a.runs, ...b.runs].filter((r) => r.trigger === 'manual');
    expect(manual).toHaveLength(1);
    expect(manual[0]!.start - T0).toBe(3_000);
    expect(a.runs.length + b.runs.length).toBe(runsBefore + 1);
    await a.clock.tickAsync(5_000);
    expect([...a.runs, ...b.runs].filter((r) => r.trigger === 'manual')).toHaveLength(1);
    await a.stop();
    await b.stop();
  });

  it('requests left in the control record by an older version are moved to the fabric and served once', async () => {
    const storage = new MemoryStorage();
    const h = makeHarness({ storage, housekeepingInterval: 1_000 });
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: MIN });
    await h.scheduler.start();
    await h.clock.tickAsync(1_500);
    await updateControl(storage, (c) => ((c.syncRequests['f'] = T0 + 1_500), c));
    await h.clock.tickAsync(1_000);
    expect(h.runs.map((r) => [r.trigger, r.start - T0])).toEqual([['schedule', 0], ['manual', 2_000]]);
    await h.clock.tickAsync(5_000);
    expect(h.runs).toHaveLength(2);
    await h.stop();
  });
});

describe('the stored request', () => {
  const def = normalizeFabric({ id: 'f', syncInterval: MIN }, { syncTimeout: 0 });
  it('is removed by any claim and kept by an outcome', () => {
    const state = { ...initialState(), status: 'in_sync' as const, anchorAt: 0, lastSlotAt: 0, lastSyncAt: 10, requestedAt: 500 };
    const claimed = claimState({ definition: def, state, version: 1 }, def, { trigger: 'schedule', scheduledAt: MIN, startedAt: MIN });
    expect(claimed.ok && claimed.state.requestedAt).toBeUndefined();
    const running = { ...state, status: 'syncing' as const, fencingToken: 3 };
    const out = outcomeState({ definition: def, state: running, version: 2 }, 3, { ok: true, abandoned: false, error: null, finishedAt: 900, retryAt: null, scheduledAt: 0 });
    expect(out!.state.requestedAt).toBe(500);
    expect(claimed.ok && 'requestedAt' in claimed.state).toBe(false);
  });
  it('round-trips through the Redis codec, changes the digest, and is validated', () => {
    const state = { ...initialState(), requestedAt: 1234 };
    const enc = encodeWrite('f', { definition: def, state });
    expect(enc.digest).toBe(definitionDigest(def, 1234));
    expect(enc.digest).not.toBe(definitionDigest(def));
    const back = parseRecord('f', { v: '1', t: '0', d: enc.doc });
    expect('reason' in back ? back.reason : back.state.requestedAt).toBe(1234);
    const none = parseRecord('f', { v: '1', t: '0', d: encodeWrite('f', { definition: def, state: initialState() }).doc });
    expect('reason' in none ? none.reason : none.state).not.toHaveProperty('requestedAt');
    expect(checkRecord('f', { definition: def, state, version: 1 }).state.requestedAt).toBe(1234);
    expect(() => checkRecord('f', { definition: def, state: { ...state, requestedAt: 'soon' }, version: 1 })).toThrow(/state\.requestedAt/);
  });
});
