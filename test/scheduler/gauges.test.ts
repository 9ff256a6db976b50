/**
 * The fabric gauges are counts kept as runtimes change (gauges.ts), not recounted per metrics()
 * call. This run (fake clock, two replicas on one MemoryStorage) adds, updates, disables, removes
 * and pauses fabrics through both, makes them fail (the breaker opens and closes) and succeed,
 * and lets them cross their staleness bounds; after every step each replica's metrics() must
 * equal a full recount of its runtimes, no runtime may be flagged stale while fresh, and
 * maxStalenessMs may never read younger than the true oldest last success. At the end, with
 * everything quiet, the gauges must equal what listFabrics() says.
 */
import { describe, expect, it } from 'vitest';
import { InProcessSingleFlight, MemoryStorage, UnknownFabricError, type FabricDefinition, type Scheduler } from '../../src/index.js';
import { gaugesOf } from '../../src/scheduler/gauges.js';
import { mulberry32 } from '../../src/testing.js';
import { makeHarness, sleepOn } from '../helpers/harness.js';

const SEC = 1000;
const IDS = Array.from({ length: 24 }, (_, i) => `f${i}`);

/** Counts by effective status, stale count and oldest success, from the stored records. */
async function fromStorage(s: Scheduler, now: number) {
  const list = await s.listFabrics();
  const fabrics: Record<string, number> = {};
  let oldest: number | null = null;
  let withSuccess = 0;
  for (const f of list) {
    fabrics[f.status] = (fabrics[f.status] ?? 0) + 1;
    if (f.enabled && f.lastSyncAt !== null) {
      withSuccess++;
      if (oldest === null || f.lastSyncAt < oldest) oldest = f.lastSyncAt;
    }
  }
  return { fabrics, withSuccess, maxStalenessMs: oldest === null ? null : now - oldest, total: list.length };
}

describe('fabric gauges never drift from a recount', () => {
  it('two replicas: adds, updates, disables, removals, pauses, failures, successes, staleness crossings', async () => {
    const storage = new MemoryStorage();
    const singleFlight = new InProcessSingleFlight();
    const failing = new Set<string>();
    let instant = false;
    const behaviour = async (f: { id: string }, _ctx: unknown, clock: Parameters<typeof sleepOn>[0]) => {
      if (!instant) await sleepOn(clock, 5 + (f.id.length * 7) % 20);
      if (failing.has(f.id)) throw new Error('down');
    };
    const options = { storage, singleFlight, housekeepingInterval: SEC, breaker: { after: 2, maxProbeInterval: 8 * SEC }, behaviour };
    const a = makeHarness(options);
    const b = makeHarness({ ...options, clock: a.clock });
    const clock = a.clock;
    const replicas = [a.scheduler, b.scheduler];
    const staleEvents: string[] = [];
    a.scheduler.on('fabric:stale', (e) => staleEvents.push(e.fabricId));
    b.scheduler.on('fabric:stale', (e) => staleEvents.push(e.fabricId));
    const seen = { exactOldest: 0, checks: 0, open: 0, outOfSync: 0, remoteRemovals: 0 };
    b.scheduler.on('fabric:removed', (e) => void (e.remote && seen.remoteRemovals++));
    a.scheduler.on('fabric:removed', (e) => void (e.remote && seen.remoteRemovals++));

    const check = (label: string) => {
      const now = clock.now();
      for (const s of replicas) {
        const r = gaugesOf(s)!.recount(now);
        const m = s.metrics();
        expect(m.fabrics, label).toEqual(r.fabrics);
        expect(m.stale, label).toBe(r.stale);
        expect(m.breaker.open, label).toBe(r.open);
        expect(r.staleButFresh, label).toBe(0);
        if (r.oldest === null) expect(m.maxStalenessMs, label).toBeNull();
        else {
          expect(m.maxStalenessMs!, label).toBeGreaterThanOrEqual(Math.max(0, now - r.oldest));
          if (m.maxStalenessMs === Math.max(0, now - r.oldest)) seen.exactOldest++;
        }
        seen.checks++;
        seen.open += r.open;
        seen.outOfSync += r.fabrics.out_of_sync ?? 0;
      }
    };
    const definition = (rand: () => number, id: string): FabricDefinition => ({
      id,
      syncInterval: [SEC, 2 * SEC, 5 * SEC][Math.floor(rand() * 3)]!,
      ...(rand() < 0.3 ? { maxStaleness: 'PT3S' } : {}),
      ...(rand() < 0.15 ? { enabled: false } : {}),
    });
    const ignoreUnknown = (error: unknown) => {
      if (!(error instanceof UnknownFabricError)) throw error;
    };

    const defined = new Map<string, FabricDefinition>();
    for (const id of IDS.slice(0, 12)) {
      defined.set(id, { id, syncInterval: 2 * SEC });
      await a.scheduler.upsertFabric(defined.get(id)!);
    }
    await a.scheduler.start();
    await b.scheduler.start();
    check('start');
    const rand = mulberry32(2026);
    for (let step = 0; step < 400; step++) {
      const s = replicas[Math.floor(rand() * 2)]!;
      const id = IDS[Math.floor(rand() * IDS.length)]!;
      const r = rand();
      if (r < 0.2) {
        const d = definition(rand, id);
        defined.set(id, d);
        await s.upsertFabric(d);
      } else if (r < 0.28) {
        defined.delete(id);
        await s.removeFabric(id);
      }
      else if (r < 0.36) await s.pause({ fabric: id }).catch(ignoreUnknown);
      else if (r < 0.46) await s.resume({ fabric: id }).catch(ignoreUnknown);
      else if (r < 0.56) failing.add(id);
      else if (r < 0.66) failing.delete(id);
      check(`step ${step} (action)`);
      await clock.tickAsync(Math.floor(rand() * 1_500));
      check(`step ${step} (after ${clock.now()})`);
    }
    // The run went through what it is meant to cover.
    expect(staleEvents.length).toBeGreaterThan(10);
    expect(seen.open).toBeGreaterThan(0);
    expect(seen.outOfSync).toBeGreaterThan(0);
    expect(seen.remoteRemovals).toBeGreaterThan(0);
    expect(seen.exactOldest).toBeGreaterThan(seen.checks / 2);

    // Quiet and stale: every fabric known to both, no failures, every fabric resumed, then the whole scheduler paused (B learns
    // it from the control record), and long enough for every enabled fabric to cross its bound
    // (at most 2 x 5 s) and a sweep pass (every second here) to see it.
    failing.clear();
    instant = true;
    // A replica ignores a fabric the host removed through it until the host defines it there again
    // (final for the process): both define every stored fabric, so both know the stored set. The
    // default bound (2 x interval) this time: a fabric that runs on time is never stale then.
    for (const { maxStaleness: _m, ...d } of defined.values()) {
      await a.scheduler.upsertFabric(d);
      await b.scheduler.upsertFabric(d);
    }
    for (const id of IDS) await a.scheduler.resume({ fabric: id }).catch(ignoreUnknown);
    await clock.tickAsync(12 * SEC);
    check('resumed');
    await a.scheduler.pause();
    await clock.tickAsync(12 * SEC);
    for (const s of replicas) {
      const truth = await fromStorage(s, clock.now());
      const m = s.metrics();
      expect(truth.total).toBeGreaterThan(5);
      expect(m.fabrics).toEqual(truth.fabrics);
      expect(m.fabrics.in_sync).toBeUndefined(); // every one crossed its bound
      expect(m.stale).toBe(truth.withSuccess);
      // Exact after a sweep pass, over what the replica has cached (the last successes of fabrics the
      // other replica ran reach its cache at its own next claim of them, as before: never newer).
      const cached = gaugesOf(s)!.recount(clock.now()).oldest!;
      expect(m.maxStalenessMs).toBe(clock.now() - cached);
      expect(m.maxStalenessMs!).toBeGreaterThanOrEqual(truth.maxStalenessMs!);
      expect(m.breaker.open).toBe(0);
    }
    check('paused');
    // Resumed: every fabric runs, and a success makes it fresh at once.
    await a.scheduler.resume();
    await clock.tickAsync(6 * SEC);
    for (const s of replicas) {
      const truth = await fromStorage(s, clock.now());
      const m = s.metrics();
      expect(m.stale).toBe(0);
      expect(m.fabrics).toEqual(truth.fabrics);
      expect(Object.keys(m.fabrics).every((status) => status === 'in_sync' || status === 'disabled')).toBe(true);
      expect(m.maxStalenessMs!).toBeLessThanOrEqual(5 * SEC + SEC);
    }
    check('fresh');
    await a.stop();
    await b.stop();
    // A stopped scheduler forgets its runtimes, and the gauges with them.
    expect(a.scheduler.metrics()).toMatchObject({ fabrics: {}, stale: 0, maxStalenessMs: null, breaker: { open: 0 } });
  });
});
