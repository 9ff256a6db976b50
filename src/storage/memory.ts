import { isNormalizedFabric, normalizeFabric } from '../definition.js';
import { InvalidOptionError, StorageError } from '../errors.js';
import { stateProblem } from './check-record.js';
import type { RunHistoryEntry } from './history.js';
import { HistoryRings } from './history-ring.js';
import { RecordColumns } from './memory-columns.js';
import { makeState, type BatchWrite, type ChangePage, type FabricRecord, type FabricWrite, type ListPage, type Storage, type StorageChange, type WriteOptions, type WriteResult } from './types.js';

/** Options of {@link MemoryStorage}. */
export interface MemoryStorageOptions {
  /**
   * Changes kept for {@link MemoryStorage.changes} (schedulers sharing this storage read them);
   * a reader that falls further behind lists everything once.
   * @default 10_000
   */
  changeLogSize?: number;
}

/** Changes returned per {@link MemoryStorage.changes} call. */
const CHANGE_PAGE = 1_000;

/**
 * The embedded default storage: records live in this object, so they survive a scheduler's
 * stop/start (hand the same instance to a new scheduler) but not the process.
 *
 * Records are kept as columns of numbers updated in place (memory-columns.ts), not as objects: a
 * write allocates nothing it keeps. Every record handed out (`get`, `list`, a write's answer) is a
 * fresh deep-frozen snapshot that the storage does not keep, so callers cannot change stored data
 * by mutating what they read, and a snapshot nobody keeps dies young. Two reads of an unchanged
 * record are equal, not the same object; the definition in them is the very object written.
 * A write is checked before it is stored (a definition as `normalizeFabric` accepts it, a state in
 * range), so what it hands out needs no checking again.
 */
export class MemoryStorage implements Storage {
  /** Slot of each stored id in {@link MemoryStorage.#columns}. */
  readonly #slots = new Map<string, number>();
  /** Definition, version and state of every stored record, by slot. */
  readonly #columns = new RecordColumns();
  /**
   * Version and fencing token of deleted records, so neither ever goes backwards for an id, and
   * whether the id is removed (a claim may not re-create it) until the host writes it again.
   */
  readonly #tombstones = new Map<string, { version: number; fencingToken: number; removed: boolean }>();
  /** The change feed: `#log[i]` has sequence number `#logStart + i + 1`. */
  readonly #log: StorageChange[] = [];
  #logStart = 0;
  readonly #logSize: number;
  /** Run history per fabric, by slot: a ring of numbers (history-ring.ts). */
  readonly #history = new HistoryRings();
  /**
   * The id last written and its slot: a run writes its claim and then its outcome for the same
   * id, and the second write finds the slot here instead of in {@link MemoryStorage.#slots}.
   * Cleared when that id is deleted.
   */
  #lastId: string | undefined = undefined;
  #lastSlot = -1;

  constructor(options: MemoryStorageOptions = {}) {
    if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
    const size = options.changeLogSize ?? 10_000;
    if (!Number.isSafeInteger(size) || size < 1) throw new InvalidOptionError('changeLogSize', 'a positive integer', options.changeLogSize);
    this.#logSize = size;
  }

  /** A fresh frozen snapshot of the record, `undefined` when absent. */
  async get(id: string): Promise<FabricRecord | undefined> {
    const slot = this.#slots.get(id);
    return slot === undefined ? undefined : this.#columns.snapshot(slot);
  }

  /** A fresh frozen snapshot of every record. */
  async list(): Promise<{ records: FabricRecord[]; corrupt: [] }> {
    const records: FabricRecord[] = [];
    for (const slot of this.#slots.values()) records.push(this.#columns.snapshot(slot));
    return { records, corrupt: [] };
  }

  /**
   * A page of the listing (see {@link Storage.listPage}), in slot order: the cursor is the slot
   * the next page starts at. A record keeps its slot while it exists, so none is listed twice;
   * one created during the listing may take a slot already passed (the change feed reports it).
   */
  async listPage(cursor: string | null, limit: number): Promise<ListPage> {
    const from = cursor === null ? 0 : Number(cursor);
    if (!Number.isSafeInteger(from) || from < 0 || (cursor !== null && cursor !== String(from))) throw new StorageError('list', `not a listing cursor of this storage: ${JSON.stringify(cursor)}`);
    if (!Number.isSafeInteger(limit) || limit < 1) throw new InvalidOptionError('limit', 'a positive integer', limit);
    const columns = this.#columns;
    const end = columns.slotCount;
    const records: FabricRecord[] = [];
    let slot = from;
    for (; slot < end && records.length < limit; slot++) if (columns.inUse(slot)) records.push(columns.snapshot(slot));
    return { records, corrupt: [], cursor: slot < end ? String(slot) : null };
  }

  /**
   * Compare-and-set write (see {@link Storage.write}), answered synchronously. The checks read the
   * stored version, fencing token, `requestedAt` and definition from the columns; the record
   * answered (`record`, or `current` when refused) is a fresh snapshot the storage does not keep.
   */
  write(id: string, value: FabricWrite, expectedVersion: number | null, options?: WriteOptions): WriteResult {
    const columns = this.#columns;
    const slot = id === this.#lastId ? this.#lastSlot : this.#slots.get(id);
    const currentDefinition = slot === undefined ? undefined : columns.definition(slot);
    // The stored definition written back as it is (every run's writes) needs no check.
    const definition = currentDefinition !== undefined && value.definition === currentDefinition ? currentDefinition : isNormalizedFabric(value.definition) ? value.definition : normalizeFabric(value.definition, { syncTimeout: 0 });
    const problem = definition.id !== id ? `definition.id ${JSON.stringify(definition.id)} is not the id written` : stateProblem(value.state as unknown as Record<string, unknown>);
    if (problem !== null) throw new StorageError('write', `refused for fabric ${JSON.stringify(id)}: ${problem}`, { fabricId: id });
    if ((slot === undefined ? null : columns.version(slot)) !== expectedVersion) return { ok: false, current: slot === undefined ? undefined : columns.snapshot(slot) };
    const s = value.state;
    // A superseded run's write (its token is below the stored one) is refused whatever its version.
    if (slot !== undefined && s.fencingToken < columns.fencingToken(slot)) return { ok: false, current: columns.snapshot(slot) };
    const tomb = slot === undefined ? this.#tombstones.get(id) : undefined;
    // Removed (not lost): a claim does not bring it back; the host writing it again does.
    if (tomb?.removed && options?.claim !== undefined) return { ok: false, current: undefined, refused: 'removed' };
    // A sync request set or cleared is reported too: the replica running the fabric serves it
    // (NaN in the column: none; an absent and a null `requestedAt` both store none).
    let defined = true;
    if (slot !== undefined) {
      defined = columns.requestChanged(slot, s.requestedAt) || (currentDefinition !== definition && JSON.stringify(currentDefinition) !== JSON.stringify(definition));
    }
    // Re-created after a delete: its tokens go on above every token the deleted record handed out.
    const fencingToken = tomb ? Math.max(s.fencingToken, tomb.fencingToken + 1) : s.fencingToken;
    const version = (slot === undefined ? (tomb?.version ?? 0) : columns.version(slot)) + 1;
    let at = slot;
    if (at === undefined) {
      at = columns.allocate();
      this.#slots.set(id, at);
    }
    this.#lastId = id;
    this.#lastSlot = at;
    columns.store(at, definition, version, s, fencingToken);
    if (tomb) this.#tombstones.delete(id);
    if (options?.history !== undefined) this.#history.push(at, options.history);
    if (defined) this.#append(id, 'defined');
    // What was just stored, made from the written state's own values rather than read back from
    // the columns: a number read from a Float64Array is boxed anew, the written one is reused.
    const state = makeState(s.status, s.lastSyncAt, s.lastAttemptAt, s.lastError, s.consecutiveFailures, s.anchorAt, s.lastSlotAt, s.nextSyncAt, fencingToken, s.requestedAt);
    return { ok: true, record: Object.freeze({ definition, state: Object.freeze(state), version }) };
  }

  /** Deletes the record, leaving a tombstone (see {@link Storage.delete}); its slot is reused. */
  async delete(id: string, expectedVersion?: number): Promise<boolean> {
    const slot = this.#slots.get(id);
    if (slot === undefined) return false;
    const columns = this.#columns;
    const version = columns.version(slot);
    if (expectedVersion !== undefined && version !== expectedVersion) return false;
    this.#tombstones.set(id, { version, fencingToken: columns.fencingToken(slot), removed: true });
    this.#slots.delete(id);
    if (id === this.#lastId) this.#lastId = undefined;
    this.#history.delete(slot);
    columns.release(slot);
    this.#append(id, 'removed');
    return true;
  }

  /** The change feed: definitions written and records deleted since `cursor` (see {@link Storage.changes}). */
  async changes(cursor: string | null): Promise<ChangePage> {
    const end = this.#logStart + this.#log.length;
    const at = cursor === null ? Number.NaN : Number(cursor);
    if (!Number.isSafeInteger(at) || at < this.#logStart || at > end) return { cursor: String(end), changes: [], reset: true };
    const from = at - this.#logStart;
    const changes = this.#log.slice(from, from + CHANGE_PAGE);
    const next = at + changes.length;
    return { cursor: String(next), changes, reset: false, more: next < end };
  }

  /** The fabric's newest `limit` run history entries, newest first (see {@link Storage.readHistory}). */
  async readHistory(id: string, limit: number): Promise<RunHistoryEntry[]> {
    const slot = this.#slots.get(id);
    return slot === undefined ? [] : this.#history.read(slot, limit);
  }

  #append(id: string, kind: StorageChange['kind']): void {
    this.#log.push(Object.freeze({ id, kind }));
    // Trimmed in chunks (at twice the size), so an append stays O(1) amortized.
    if (this.#log.length >= 2 * this.#logSize) {
      const drop = this.#log.length - this.#logSize;
      this.#log.splice(0, drop);
      this.#logStart += drop;
    }
  }

  /** Number of stored records. */
  get size(): number {
    return this.#slots.size;
  }

  /** Many compare-and-set writes, each exactly as {@link MemoryStorage.write} (not atomic across items). */
  async writeMany(writes: ReadonlyArray<BatchWrite>): Promise<WriteResult[]> {
    const results: WriteResult[] = [];
    for (const w of writes) results.push(this.write(w.id, w.value, w.expectedVersion));
    return results;
  }
}
