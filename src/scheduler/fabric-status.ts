/** The reader's view of a stored record, shared by the scheduler and the CLI. */
import { cadenceOf, fabricStatusAt } from './cadence.js';
import type { FabricRecord } from '../storage/types.js';
import type { FabricStatus } from './types.js';
import { nextProbeOf, type ResolvedBreaker } from './breaker.js';
import { CONTROL_RECORD_ID } from '../ops/control.js';

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

/**
 * Every stored fabric's status, sorted by id, from a listing read a page at a time (each page's
 * records turned into statuses and dropped). A record listed twice (pages are at-least-once)
 * is counted once: the sort puts the two side by side, the first listed first.
 */
export async function listStatuses(pages: AsyncIterable<{ records: FabricRecord[] }>, toStatus: (record: FabricRecord) => FabricStatus): Promise<FabricStatus[]> {
  const statuses: FabricStatus[] = [];
  for await (const { records } of pages) {
    for (const r of records) if (r.definition.id !== CONTROL_RECORD_ID) statuses.push(toStatus(r));
  }
  statuses.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  let kept = 0;
  for (const s of statuses) if (kept === 0 || s.id !== statuses[kept - 1]!.id) statuses[kept++] = s;
  statuses.length = kept;
  return statuses;
}
