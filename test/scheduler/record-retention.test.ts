/**
 * No record object lives from one run to the next when the next run is more than RECORD_KEPT_MS
 * away: the runtime keeps the record's numbers, and the object the storage handed back dies
 * young (kept for a minute, it would age into V8's old space and die there: with a million
 * fabrics, a million records of old-space garbage a minute). Checked with WeakRefs and a forced GC.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { MemoryStorage, type FabricRecord, type FabricWrite, type WriteOptions, type WriteResult } from '../../src/index.js';
import { RECORD_KEPT_MS } from '../../src/scheduler/fabric-runtime.js';
import { makeHarness } from '../helpers/harness.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** A MemoryStorage that hands the scheduler a copy of every record it writes, and tracks each copy. */
class TrackingStorage extends MemoryStorage {
  readonly refs: Array<WeakRef<FabricRecord>> = [];
  override write(id: string, value: FabricWrite, expectedVersion: number | null, options?: WriteOptions): WriteResult {
    const r = super.write(id, value, expectedVersion, options);
    if (!r.ok) return r;
    const copy: FabricRecord = Object.freeze({ definition: r.record.definition, state: Object.freeze({ ...r.record.state }), version: r.record.version });
    this.refs.push(new WeakRef(copy));
    return { ok: true, record: copy };
  }
  /** Copies still alive after a full GC (outside the current job, so WeakRefs may be cleared). */
  async alive(): Promise<number> {
    await new Promise((r) => setTimeout(r, 0));
    gc();
    await new Promise((r) => setTimeout(r, 0));
    gc();
    return this.refs.filter((w) => w.deref() !== undefined).length;
  }
}

async function retainedBetweenRuns(intervalMs: number): Promise<{ alive: number; runs: number }> {
  const storage = new TrackingStorage();
  const h = makeHarness({ storage, behaviour: () => undefined });
  for (let i = 0; i < 50; i++) await h.scheduler.upsertFabric({ id: `f${i}`, syncInterval: intervalMs });
  await h.scheduler.start();
  await h.clock.tickAsync(3 * intervalMs);
  // half-way to the next runs: every fabric idle, armed
  await h.clock.tickAsync(intervalMs / 2);
  const alive = await storage.alive();
  const runs = h.runs.length;
  await h.scheduler.stop();
  return { alive, runs };
}

describe('record objects between runs', () => {
  it(`a fabric whose next run is more than ${RECORD_KEPT_MS} ms away holds no record object; one due sooner keeps its last`, async () => {
    const far = await retainedBetweenRuns(60_000);
    expect(far.runs).toBeGreaterThanOrEqual(150);
    expect(far.alive).toBe(0);
    // the control: the same check sees the records a runtime keeps (so it can see retention at all)
    const near = await retainedBetweenRuns(RECORD_KEPT_MS / 2);
    expect(near.runs).toBeGreaterThanOrEqual(150);
    expect(near.alive).toBe(50);
  });
});
