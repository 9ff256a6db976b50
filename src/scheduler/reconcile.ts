/**
 * `scheduler.reconcile(definitions)`: makes the stored set of fabrics equal to the host's source of
 * truth. The plan (what is added, updated, removed) is a pure function of the stored records and
 * the given definitions; the facade then writes the definitions in batches (`upsertFabrics`) and
 * removes what is not in the set (each removal leaves a tombstone, so every replica follows).
 */
import type { Fabric } from '../definition.js';
import { StorageError, errorMessage } from '../errors.js';
import { CONTROL_RECORD_ID } from '../ops/control.js';
import type { FabricRecord } from '../storage/types.js';

/** What `reconcile()` changed, as sorted arrays of ids. */
export interface ReconcileResult {
  /** Ids that had no stored record. */
  readonly added: readonly string[];
  /** Ids whose normalized definition differed from the stored one. */
  readonly updated: readonly string[];
  /** Ids stored but not in the given set (removed, through this scheduler). */
  readonly removed: readonly string[];
}

/** Removals made at once by `reconcile()`. */
export const RECONCILE_REMOVE_CHUNK = 64;

/** The plan: which of `fabrics` are new or changed against the `stored` definitions, and which stored ids go. */
export function planReconcile(stored: Iterable<Fabric>, fabrics: readonly Fabric[]): ReconcileResult {
  const byId = new Map<string, Fabric>();
  for (const d of stored) if (d.id !== CONTROL_RECORD_ID) byId.set(d.id, d);
  const added: string[] = [];
  const updated: string[] = [];
  const wanted = new Set<string>();
  for (const f of fabrics) {
    wanted.add(f.id);
    const r = byId.get(f.id);
    if (!r) added.push(f.id);
    else if (!sameDefinition(r, f)) updated.push(f.id);
  }
  const removed = [...byId.keys()].filter((id) => !wanted.has(id));
  return { added: added.sort(), updated: updated.sort(), removed: removed.sort() };
}

/**
 * Lists the storage once (a page at a time, keeping only the definitions), plans, writes what is
 * new or changed (`upsert`, batched) and removes what is not in the set (`remove`,
 * {@link RECONCILE_REMOVE_CHUNK} at a time). Rejects with the first storage error; a second call
 * converges.
 */
export async function reconcileWith(
  io: { listPages(): AsyncIterable<{ records: FabricRecord[] }> },
  fabrics: readonly Fabric[],
  upsert: (fabrics: readonly Fabric[]) => Promise<unknown>,
  remove: (id: string) => Promise<unknown>,
): Promise<ReconcileResult> {
  try {
    const stored: Fabric[] = [];
    for await (const page of io.listPages()) for (const r of page.records) stored.push(r.definition);
    const plan = planReconcile(stored, fabrics);
    if (plan.added.length + plan.updated.length > 0) await upsert(fabrics);
    for (let i = 0; i < plan.removed.length; i += RECONCILE_REMOVE_CHUNK) {
      await Promise.all(plan.removed.slice(i, i + RECONCILE_REMOVE_CHUNK).map(remove));
    }
    return plan;
  } catch (error) {
    // A custom storage may throw anything: the caller gets a StorageError (the cause kept).
    if (error instanceof StorageError) throw error;
    throw new StorageError('reconcile', errorMessage(error), { cause: error });
  }
}

/** Normalized definitions are plain JSON values (metadata included): equal when they serialize alike. */
function sameDefinition(a: Fabric, b: Fabric): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}
