import { isNormalizedFabric, normalizeFabric } from '../definition.js';
import { InvalidOptionError, StorageError } from '../errors.js';
import { stateProblem } from './check-record.js';
import type { RunHistoryEntry } from './history.js';
import { HistoryRings } from './history-ring.js';
import { makeState, type BatchWrite, type ChangePage, type FabricRecord, type FabricWrite, type Storage, type StorageChange, type WriteOptions, type WriteResult } from './types.js';

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
 * Records are deep-frozen snapshots; callers cannot change stored data by mutating what they read.
 * A write is checked before it is stored (a definition as `normalizeFabric` accepts it, a state in
 * range), so what it hands out needs no checking again.
 */
export class MemoryStorage implements Storage {
  readonly #records = new Map<string, FabricRecord>();
  /**
   * Version and fencing token of deleted records, so neither ever goes backwards for an id, and
   * whether the id is removed (a claim may not re-create it) until the host writes it again.
   */
  readonly #tombstones = new Map<string, { version: number; fencingToken: number; removed: boolean }>();
  /** The change feed: `#log[i]` has sequence number `#logStart + i + 1`. */
  readonly #log: StorageChange[] = [];
  #logStart = 0;
  readonly #logSize: number;
  /** Run history per fabric: a ring of numbers (history-ring.ts). */
  readonly #history = new HistoryRings();

  constructor(options: MemoryStorageOptions = {}) {
    if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
    const size = options.changeLogSize ?? 10_000;
    if (!Number.isSafeInteger(size) || size < 1) throw new InvalidOptionError('changeLogSize', 'a positive integer', options.changeLogSize);
    this.#logSize = size;
  }

  async get(id: string): Promise<FabricRecord | undefined> {
    return this.#records.get(id);
  }

  async list(): Promise<{ records: FabricRecord[]; corrupt: [] }> {
    return { records: [...this.#records.values()], corrupt: [] };
  }

  write(id: string, value: FabricWrite, expectedVersion: number | null, options?: WriteOptions): WriteResult {
    const current = this.#records.get(id);
    // The stored definition written back as it is (every run's writes) needs no check.
    const definition = current !== undefined && value.definition === current.definition ? current.definition : isNormalizedFabric(value.definition) ? value.definition : normalizeFabric(value.definition, { syncTimeout: 0 });
    const problem = definition.id !== id ? `definition.id ${JSON.stringify(definition.id)} is not the id written` : stateProblem(value.state as unknown as Record<string, unknown>);
    if (problem !== null) throw new StorageError('write', `refused for fabric ${JSON.stringify(id)}: ${problem}`, { fabricId: id });
    if ((current?.version ?? null) !== expectedVersion) return { ok: false, current };
    // A superseded run's write (its token is below the stored one) is refused whatever its version.
    if (current && value.state.fencingToken < current.state.fencingToken) return { ok: false, current };
    const tomb = current ? undefined : this.#tombstones.get(id);
    // Removed (not lost): a claim does not bring it back; the host writing it again does.
    if (tomb?.removed && options?.claim !== undefined) return { ok: false, current: undefined, refused: 'removed' };
    // Copied field by field (not `{ ...state }`): every stored state then shares one hidden class
    // once frozen (on Node 20 a spread copy of an ordinary object takes a map that cannot share
    // the "frozen" transition: ~300 B more per fabric; docs/benchmarks/profiles.md).
    const s = value.state;
    const state = makeState(s.status, s.lastSyncAt, s.lastAttemptAt, s.lastError, s.consecutiveFailures, s.anchorAt, s.lastSlotAt, s.nextSyncAt, s.fencingToken, s.requestedAt);
    // Re-created after a delete: its tokens go on above every token the deleted record handed out.
    if (tomb) state.fencingToken = Math.max(state.fencingToken, tomb.fencingToken + 1);
    const record: FabricRecord = Object.freeze({
      definition,
      state: Object.freeze(state),
      version: (current?.version ?? tomb?.version ?? 0) + 1,
    });
    this.#records.set(id, record);
    if (tomb) this.#tombstones.delete(id);
    if (options?.history !== undefined) this.#history.push(id, options.history);
    // A sync request set or cleared is reported too: the replica running the fabric serves it.
    if (!current || current.state.requestedAt !== state.requestedAt || (current.definition !== definition && JSON.stringify(current.definition) !== JSON.stringify(definition))) this.#append(id, 'defined');
    return { ok: true, record };
  }

  async delete(id: string, expectedVersion?: number): Promise<boolean> {
    const current = this.#records.get(id);
    if (!current) return false;
    if (expectedVersion !== undefined && current.version !== expectedVersion) return false;
    this.#tombstones.set(id, { version: current.version, fencingToken: current.state.fencingToken, removed: true });
    this.#records.delete(id);
    this.#history.delete(id);
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
    return this.#history.read(id, limit);
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
    return this.#records.size;
  }

  /** Many compare-and-set writes, each exactly as {@link MemoryStorage.write} (not atomic across items). */
  async writeMany(writes: ReadonlyArray<BatchWrite>): Promise<WriteResult[]> {
    const results: WriteResult[] = [];
    for (const w of writes) results.push(this.write(w.id, w.value, w.expectedVersion));
    return results;
  }
}
