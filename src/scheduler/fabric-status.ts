/** The reader's view of a stored record, shared by the scheduler and the CLI. */
import { cadenceOf, fabricStatusAt } from './cadence.js';
import type { FabricRecord } from '../storage/types.js';
import type { FabricRuntime } from './fabric-runtime.js';
import type { FabricStatus } from './types.js';
import { nextProbeOf, type ResolvedBreaker } from './breaker.js';

/**
 * What `getFabricStatus` returns for a stored record: `out_of_sync` derived from `lastSyncAt`,
 * no next sync for a disabled fabric; with `breaker`, the probing state of a fabric behind it.
 */
export function fabricStatusOf(record: FabricRecord, now: number, paused: boolean, lastLateness: number | null, breaker: ResolvedBreaker | false = false): FabricStatus {
  const s = record.state;
  const d = record.definition;
  const probing = d.enabled ? nextProbeOf(breaker, record) : null;
  return {
    id: d.id,
    status: fabricStatusAt(d, s.status, s.lastSyncAt, now),
    lastSyncAt: s.lastSyncAt,
    lastAttemptAt: s.lastAttemptAt,
    nextSyncAt: d.enabled ? s.nextSyncAt : null,
    lastError: s.lastError,
    consecutiveFailures: s.consecutiveFailures,
    syncInterval: d.syncInterval,
    schedule: d.schedule ?? null,
    cadence: cadenceOf(d).label,
    enabled: d.enabled,
    queue: d.queue,
    paused,
    lastLateness,
    ...(probing ? { breaker: probing } : {}),
    ...(s.requestedAt !== undefined ? { requestedAt: s.requestedAt } : {}),
  };
}

/** How many of `runtimes` are in each (effective) status at `now`: the metrics' gauge. */
export function statusCounts(runtimes: Iterable<FabricRuntime>, now: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const rt of runtimes) {
    const s = rt.record?.state;
    const status = s ? fabricStatusAt(rt.fabric, s.status, s.lastSyncAt, now) : 'never_synced';
    out[status] = (out[status] ?? 0) + 1;
  }
  return out;
}
