/**
 * Host definitions going in: checking one (as `upsertFabric` and `upsertFabrics` both refuse bad
 * input, before anything changes), following a written record here (events, runtime), and the
 * bulk path (`upsertFabrics`: validated all or nothing, one storage round trip per batch where
 * the storage allows).
 */
import { normalizeFabric, sameTiming, type Fabric, type FabricDefinition } from '../definition.js';
import { fabricStatusAt } from './cadence.js';
import { InvalidFabricError, StorageError } from '../errors.js';
import { RESERVED_ID_PREFIX } from '../ops/control.js';
import type { BatchWrite, FabricRecord } from '../storage/types.js';
import { emitStatus, type Core } from './core.js';
import type { Dispatcher } from './dispatcher.js';
import { persistShift } from './clock-steps.js';
import type { Lanes } from './lanes.js';
import { upsertState, type UpsertChange } from './transitions.js';
import type { UpsertCounts } from './types.js';

/** Definitions written per storage round trip by `upsertFabrics`. */
export const BATCH_CHUNK = 10_000;

/** Validates a host definition for this scheduler (`InvalidFabricError`, nothing changed). */
export function checkDefinition(core: Core, lanes: Lanes, definition: FabricDefinition): Fabric {
  const fabric = normalizeFabric(definition, { syncTimeout: core.opts.defaultSyncTimeout, phase: core.opts.phase });
  if (fabric.id.startsWith(RESERVED_ID_PREFIX) || fabric.id.startsWith('\u0000')) throw new InvalidFabricError('id', `a string not starting with ${JSON.stringify(RESERVED_ID_PREFIX)} or a NUL character (reserved)`, fabric.id);
  if (!lanes.has(fabric.queue)) {
    throw new InvalidFabricError('queue', `one of the queues configured in createScheduler ({ queues }): ${lanes.names().map((q) => JSON.stringify(q)).join(', ')}`, fabric.queue, fabric.id);
  }
  return fabric;
}

/**
 * Follows a record the host's upsert wrote: caches it (moved by a wall step seen while the write
 * was on its way), tells the host, and makes the runtime follow it. Returns the record as this
 * scheduler sees it.
 */
export function applyUpserted(core: Core, dispatcher: Dispatcher, fabric: Fabric, written: FabricRecord, change: UpsertChange, generation: number): FabricRecord {
  // A wall-clock step seen while the write was on its way moved every grid but this one:
  // it is cached moved (the stored copy follows), and applied in this turn.
  const moved = core.time.movedSince(generation);
  const known = core.fabrics.get(fabric.id);
  if (known) {
    known.cacheWritten(written, moved, core.gauges);
    if (known.pendingShift) void persistShift(core, known);
  }
  const record = known?.record && known.record.version === written.version ? known.record : dispatcher.moved(written, moved);
  const now = core.time.now();
  const { previous, before } = change;
  core.emit(previous ? 'fabric:updated' : 'fabric:added', { fabricId: fabric.id });
  if (previous) {
    const after = fabricStatusAt(fabric, record.state.status, record.state.lastSyncAt, now);
    emitStatus(core, fabric.id, before === 'syncing' && after === 'disabled' ? 'syncing' : before, after, now);
  }
  const state = core.lifecycle();
  if (state === 'running' || state === 'starting') dispatcher.apply(record, previous, now);
  return record;
}

/** Whether two definitions are the same (metadata compared as JSON, which is all it may hold). */
export function sameDefinition(a: Fabric, b: Fabric): boolean {
  if (a === b) return true;
  if (a.id !== b.id || !sameTiming(a, b) || a.enabled !== b.enabled || a.syncTimeout !== b.syncTimeout || a.queue !== b.queue) return false;
  if (a.metadata === b.metadata) return true;
  return a.metadata !== undefined && b.metadata !== undefined && JSON.stringify(a.metadata) === JSON.stringify(b.metadata);
}

/**
 * Writes the new and changed ones of `fabrics` (checked by {@link validateAll}) from the cached
 * records, one `writeMany` round trip per {@link BATCH_CHUNK} definitions. An item whose write finds the record changed under it (another replica, a record not
 * loaded here) goes through the usual read-modify-write loop, on its own.
 */
export async function upsertMany(core: Core, dispatcher: Dispatcher, fabrics: readonly Fabric[], onDefined: (id: string) => void): Promise<UpsertCounts> {
  for (const f of fabrics) onDefined(f.id);
  dispatcher.observeClock();
  const counts = { added: 0, updated: 0, unchanged: 0 };
  const conflicts: Promise<void>[] = [];
  // In chunks: one writeMany round trip per BATCH_CHUNK definitions, so what a chunk allocates
  // (write items, results) is garbage before the next one (a million at once would not be).
  for (let from = 0; from < fabrics.length; from += BATCH_CHUNK) {
    await writeChunk(core, dispatcher, fabrics, from, Math.min(fabrics.length, from + BATCH_CHUNK), counts, conflicts);
  }
  await Promise.all(conflicts);
  return counts;
}

/** Validates a batch (`InvalidFabricError` naming the index and field, a repeated id refused). */
async function writeChunk(core: Core, dispatcher: Dispatcher, fabrics: readonly Fabric[], from: number, to: number, counts: { added: number; updated: number; unchanged: number }, conflicts: Promise<void>[]): Promise<void> {
  dispatcher.observeClock();
  const generation = core.time.generation;
  const now = core.time.now();
  const todo: Array<{ fabric: Fabric; change: UpsertChange }> = [];
  const writes: BatchWrite[] = [];
  for (let i = from; i < to; i++) {
    const fabric = fabrics[i]!;
    const rt = core.fabrics.get(fabric.id);
    const cached = rt?.record;
    if (cached && sameDefinition(cached.definition, fabric)) {
      counts.unchanged++;
      continue;
    }
    const change = upsertState(cached ? rt.view(cached) : undefined, fabric, now);
    todo.push({ fabric, change });
    writes.push({ id: fabric.id, value: { definition: fabric, state: change.state }, expectedVersion: cached ? cached.version : null });
  }
  const results = await core.io.writeMany(writes);
  for (let i = 0; i < todo.length; i++) {
    const { fabric, change } = todo[i]!;
    const result = results[i]!;
    if (result.ok) {
      applyUpserted(core, dispatcher, fabric, result.record, change, generation);
      if (change.previous) counts.updated++;
      else counts.added++;
      continue;
    }
    // Changed under us: the usual read-modify-write, on the record as it is now.
    conflicts.push(
      upsertOne(core, dispatcher, fabric).then((c) => {
        counts[c]++;
      }),
    );
  }
}

/** Checks a batch all or nothing; returns the normalized fabrics and the set of their ids. */
export function validateAll(core: Core, lanes: Lanes, definitions: readonly FabricDefinition[]): { fabrics: Fabric[]; ids: Set<string> } {
  if (!Array.isArray(definitions)) throw new InvalidFabricError('definitions', 'an array of fabric definitions', definitions);
  const out: Fabric[] = new Array<Fabric>(definitions.length);
  const seen = new Set<string>();
  for (let i = 0; i < definitions.length; i++) {
    let fabric: Fabric;
    try {
      fabric = checkDefinition(core, lanes, definitions[i]!);
    } catch (error) {
      if (error instanceof InvalidFabricError) throw new InvalidFabricError(`definitions[${i}].${error.field}`, expectedOf(error), error.value, error.fabricId);
      throw error;
    }
    if (seen.has(fabric.id)) throw new InvalidFabricError(`definitions[${i}].id`, 'an id not already in the batch', fabric.id, fabric.id);
    seen.add(fabric.id);
    out[i] = fabric;
  }
  return { fabrics: out, ids: seen };
}

/** The "expected …" part of an InvalidFabricError's message. */
function expectedOf(error: InvalidFabricError): string {
  const m = /^Expected .+? to be (.*), got /s.exec(error.message);
  return m ? m[1]! : 'a valid fabric definition';
}

/** One upsert by read-modify-write (a batch item whose record changed under it). */
async function upsertOne(core: Core, dispatcher: Dispatcher, fabric: Fabric): Promise<'added' | 'updated' | 'unchanged'> {
  let generation = core.time.generation;
  let change: UpsertChange | undefined;
  let same: FabricRecord | undefined;
  const written = await core.io.update(
    fabric.id,
    (current) => {
      generation = core.time.generation;
      same = current !== undefined && sameDefinition(current.definition, fabric) ? current : undefined;
      if (same) return null;
      change = upsertState(core.fabrics.get(fabric.id)?.view(current) ?? current, fabric, core.time.now());
      return { definition: fabric, state: change.state };
    },
    undefined,
  );
  if (same) {
    // Stored as it is (by another replica): this scheduler follows it if it did not yet.
    const state = core.lifecycle();
    if (!core.fabrics.has(fabric.id) && (state === 'running' || state === 'starting')) dispatcher.apply(same, undefined, core.time.now());
    return 'unchanged';
  }
  if (!written || !change) throw new StorageError('write', `could not update fabric ${JSON.stringify(fabric.id)}: it kept changing under us`, { fabricId: fabric.id });
  applyUpserted(core, dispatcher, fabric, written, change, generation);
  return change.previous ? 'updated' : 'added';
}
