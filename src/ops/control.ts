/**
 * The control record: pauses and sync requests shared by every scheduler (and the `syncwheel`
 * CLI) that uses the same storage. It is one ordinary record written through the generic
 * {@link Storage} port (compare-and-set), under an id no host can define, so any adapter that
 * passes the storage contract carries it: schedulers re-read it every `housekeepingInterval`.
 */
import { normalizeFabric, type Fabric } from '../definition.js';
import { CorruptStateError, StorageError } from '../errors.js';
import { initialState, type FabricRecord, type Storage } from '../storage/types.js';

/**
 * Id of the control record: printable (its Redis key can be typed and scanned), and reserved:
 * `upsertFabric` refuses ids starting with {@link RESERVED_ID_PREFIX}.
 */
export const CONTROL_RECORD_ID = '__syncwheel__:control';

/** Fabric ids starting with this are reserved for syncwheel's own records. */
export const RESERVED_ID_PREFIX = '__syncwheel__';

/** The control record's id in syncwheel 0.1 (schema 1), for the migration. */
export const LEGACY_CONTROL_RECORD_ID = '\u0000syncwheel:control';

/** Shared pause state and sync requests (epoch ms of each change). */
export interface ControlData {
  /** When the whole scheduler fleet was paused, or null. */
  scheduler: number | null;
  /** Paused queues: name -> paused at. */
  queues: Record<string, number>;
  /** Paused fabrics: id -> paused at. */
  fabrics: Record<string, number>;
  /** Sync requests (from the CLI): fabric id -> requested at. A replica takes each once. */
  syncRequests: Record<string, number>;
}

export function emptyControl(): ControlData {
  return { scheduler: null, queues: dict(), fabrics: dict(), syncRequests: dict() };
}

/** A map keyed by host-chosen names with no prototype: ids such as '__proto__' or 'constructor' are plain keys. */
function dict(from: Record<string, number> = {}): Record<string, number> {
  return Object.assign(Object.create(null) as Record<string, number>, from);
}

function numberMap(value: unknown): Record<string, number> {
  const out = dict();
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return out;
  for (const [k, v] of Object.entries(value)) if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  return out;
}

/** Reads the control data out of a stored record (anything unreadable reads as "nothing paused"). */
export function readControl(record: FabricRecord | undefined): ControlData {
  const raw = record?.definition.metadata?.['control'];
  if (raw === null || typeof raw !== 'object') return emptyControl();
  const c = raw as Record<string, unknown>;
  const scheduler = c['scheduler'];
  return {
    scheduler: typeof scheduler === 'number' && Number.isFinite(scheduler) ? scheduler : null,
    queues: numberMap(c['queues']),
    fabrics: numberMap(c['fabrics']),
    syncRequests: numberMap(c['syncRequests']),
  };
}

function controlDefinition(data: ControlData): Fabric {
  return normalizeFabric({ id: CONTROL_RECORD_ID, syncInterval: 86_400_000, enabled: false, metadata: { control: data } }, { syncTimeout: 0 });
}

/**
 * Read-modify-write of the control record with compare-and-set. `mutate` gets a copy of the
 * current data and returns the new data, or null to write nothing. Resolves to the data now stored.
 */
export async function updateControl(storage: Storage, mutate: (current: ControlData) => ControlData | null): Promise<ControlData> {
  for (let i = 0; i < 16; i++) {
    let current: FabricRecord | undefined;
    try {
      current = await storage.get(CONTROL_RECORD_ID);
    } catch (error) {
      if (!(error instanceof CorruptStateError)) throw error;
      current = undefined; // unreadable: a create replaces it
    }
    const data = readControl(current);
    const next = mutate({ scheduler: data.scheduler, queues: dict(data.queues), fabrics: dict(data.fabrics), syncRequests: dict(data.syncRequests) });
    if (next === null) return data;
    const state = current ? { ...current.state } : { ...initialState(), status: 'disabled' as const };
    const result = await storage.write(CONTROL_RECORD_ID, { definition: controlDefinition(next), state }, current?.version ?? null);
    if (result.ok) return next;
  }
  throw new StorageError('write', 'the control record kept changing under us', { fabricId: CONTROL_RECORD_ID });
}

/** Reads the control data (nothing paused when the record is absent or unreadable). */
export async function loadControl(storage: Storage): Promise<ControlData> {
  try {
    return readControl(await storage.get(CONTROL_RECORD_ID));
  } catch (error) {
    if (error instanceof CorruptStateError) return emptyControl();
    throw error;
  }
}
