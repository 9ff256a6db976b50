import { isNormalizedFabric, normalizeFabric } from '../definition.js';
import { StorageError } from '../errors.js';
import { stateProblem } from './check-record.js';
import type { BatchWrite, FabricRecord, FabricWrite, Storage, WriteResult } from './types.js';

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
  /** Version and fencing token of deleted records, so neither ever goes backwards for an id. */
  readonly #tombstones = new Map<string, { version: number; fencingToken: number }>();

  async get(id: string): Promise<FabricRecord | undefined> {
    return this.#records.get(id);
  }

  async list(): Promise<{ records: FabricRecord[]; corrupt: [] }> {
    return { records: [...this.#records.values()], corrupt: [] };
  }

  write(id: string, value: FabricWrite, expectedVersion: number | null): WriteResult {
    const definition = isNormalizedFabric(value.definition) ? value.definition : normalizeFabric(value.definition, { syncTimeout: 0 });
    const problem = definition.id !== id ? `definition.id ${JSON.stringify(definition.id)} is not the id written` : stateProblem(value.state as unknown as Record<string, unknown>);
    if (problem !== null) throw new StorageError('write', `refused for fabric ${JSON.stringify(id)}: ${problem}`, { fabricId: id });
    const current = this.#records.get(id);
    if ((current?.version ?? null) !== expectedVersion) return { ok: false, current };
    const tomb = current ? undefined : this.#tombstones.get(id);
    const state = { ...value.state };
    // Re-created after a delete: its tokens go on above every token the deleted record handed out.
    if (tomb) state.fencingToken = Math.max(state.fencingToken, tomb.fencingToken + 1);
    const record: FabricRecord = Object.freeze({
      definition,
      state: Object.freeze(state),
      version: (current?.version ?? tomb?.version ?? 0) + 1,
    });
    this.#records.set(id, record);
    if (tomb) this.#tombstones.delete(id);
    return { ok: true, record };
  }

  async delete(id: string, expectedVersion?: number): Promise<boolean> {
    const current = this.#records.get(id);
    if (!current) return false;
    if (expectedVersion !== undefined && current.version !== expectedVersion) return false;
    this.#tombstones.set(id, { version: current.version, fencingToken: current.state.fencingToken });
    return this.#records.delete(id);
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
