/**
 * Failover measurement over replica run logs (test/helpers/replicas.ts): for each fabric a killed
 * replica owned, the time from the kill to the fabric's first run on a survivor. Shared by
 * test/redis/failover.test.ts and benchmarks/workers/failover.ts.
 */
import type { Redis } from 'ioredis';
import { redisKeys } from '../../src/redis/keys.js';
import type { RunRecord } from './replicas.js';

export interface FailoverMeasure {
  /** Fabrics the killed replica owned and was not running when killed. */
  owned: string[];
  /** Fabrics it was running when killed (their lock has to expire first: not measured here). */
  midRun: string[];
  /** Kill -> first start on a survivor, ms, per measured fabric (same order as `owned`, missing ones left out). */
  delays: number[];
  /** Owned fabrics that have not run on a survivor yet. */
  missing: string[];
  max: number;
  p50: number;
}

/**
 * `owned`: fabrics whose last run before `killedAt` (within `ownedWindowMs`) was on `killed`.
 * Mid-run (not measured: their lock has to expire first): a run of the killed replica without an
 * end line, or a fabric in `lockedAtKill` (its lock key existed right after the kill: claimed
 * but not started yet, or ended but not released).
 */
export function measureFailover(runs: readonly RunRecord[], killed: string, killedAt: number, ownedWindowMs: number, lockedAtKill: ReadonlySet<string> = new Set()): FailoverMeasure {
  const last = new Map<string, RunRecord>();
  for (const r of runs) {
    if (r.start > killedAt || r.start < killedAt - ownedWindowMs) continue;
    const prev = last.get(r.fabricId);
    if (!prev || r.start >= prev.start) last.set(r.fabricId, r);
  }
  const owned: string[] = [];
  const midRun: string[] = [];
  for (const [id, r] of last) {
    if (r.replica !== killed) continue;
    if (r.end === undefined || lockedAtKill.has(id)) midRun.push(id);
    else owned.push(id);
  }
  owned.sort();
  const delays: number[] = [];
  const missing: string[] = [];
  for (const id of owned) {
    const next = runs.filter((r) => r.fabricId === id && r.replica !== killed && r.start > killedAt).sort((a, b) => a.start - b.start)[0];
    if (next) delays.push(next.start - killedAt);
    else missing.push(id);
  }
  return { owned, midRun, delays, missing, max: delays.length ? Math.max(...delays) : Number.NaN, p50: percentile(delays, 50) };
}

/** The `p`th percentile (nearest rank) of `values`; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** The fabrics among `ids` whose lock key exists right now (read right after a kill: the killed replica's locks are still there). */
export async function lockedFabrics(client: Redis, prefix: string, ids: readonly string[]): Promise<Set<string>> {
  const keys = redisKeys(prefix);
  const pipeline = client.pipeline();
  for (const id of ids) pipeline.exists(keys.lock(id));
  const replies = (await pipeline.exec()) ?? [];
  return new Set(ids.filter((_, i) => replies[i]?.[1] === 1));
}
