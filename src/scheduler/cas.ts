/**
 * Storage I/O for the scheduler: every call bounded by `operationTimeout`, records from any
 * adapter checked before use, and compare-and-set updates with bounded retries.
 */
import { CorruptStateError, StorageError, errorMessage } from '../errors.js';
import { checkListResult, checkRecord, checkWriteResult } from '../storage/check-record.js';
import { MemoryStorage } from '../storage/memory.js';
import type { Lease } from '../single-flight.js';
import type { BatchWrite, ClaimRefusal, CorruptRecord, FabricRecord, FabricWrite, Storage, WriteOptions, WriteResult } from '../storage/types.js';
import type { SchedulerTime } from './time.js';

/**
 * Records per page when the scheduler lists a storage that has `listPage` (`start()`, the
 * housekeeper's full pass, `listFabrics()`, `reconcile()`, `validate()`, `repair()`).
 */
export const LIST_PAGE_SIZE = 1_000;

/** Most read-modify-write rounds before an update gives up (the record kept changing). */
export const CAS_ATTEMPTS = 16;

/**
 * A claim made through {@link StorageIO.update}: the options handed to every write attempt (the
 * mutator keeps `options.claim.at` current), and the storage's refusal, if any, read afterwards.
 */
export interface ClaimWrite {
  readonly options: { claim: { lease: Lease; at: number } };
  refused?: ClaimRefusal;
}

/**
 * Options every write attempt of one {@link StorageIO.update} gets: a claim ({@link ClaimWrite}),
 * or an outcome write's run history entry (`options.history`).
 */
export interface WriteWith {
  readonly options: WriteOptions;
  refused?: ClaimRefusal;
}

/** A read-modify-write step: the new value from the freshest record, or null to write nothing. */
export type Mutator = (current: FabricRecord | undefined) => FabricWrite | null;

export function isThenable<T>(value: unknown): value is PromiseLike<T> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}

interface Pending {
  readonly deadline: number;
  readonly fail: () => void;
  done: boolean;
}

/**
 * Bounds storage and lock calls by one timeout. All calls share the same bound, so deadlines
 * come in creation order: a FIFO queue and ONE timer armed for the oldest unsettled call cost
 * O(1) per call however many are pending (a timer per call costs far more, on Node's timers and
 * on a fake clock alike).
 */
export class OperationTimeouts {
  readonly #time: SchedulerTime;
  readonly #ms: number;
  #queue: Pending[] = [];
  #head = 0;
  #cancel: (() => void) | undefined;

  constructor(time: SchedulerTime, ms: number) {
    this.#time = time;
    this.#ms = ms;
  }

  /**
   * Rejects with a `StorageError` (operation `operation`) when `value` does not settle within
   * the bound; a late answer is ignored. Synchronous values pass through untouched.
   */
  bound<T>(operation: string, value: T | PromiseLike<T>, fabricId?: string): T | Promise<T> {
    if (!isThenable<T>(value)) return value;
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = {
        deadline: this.#time.mono() + this.#ms,
        done: false,
        fail: () => reject(new StorageError(operation, `no answer within ${this.#ms} ms (operationTimeout)`, fabricId === undefined ? {} : { fabricId })),
      };
      this.#queue.push(pending);
      this.#arm();
      value.then(
        (v) => {
          if (pending.done) return;
          this.#settle(pending);
          resolve(v);
        },
        (error: unknown) => {
          if (pending.done) return;
          this.#settle(pending);
          reject(error);
        },
      );
    });
  }

  #settle(pending: Pending): void {
    pending.done = true;
    this.#compact();
  }

  #compact(): void {
    const q = this.#queue;
    while (this.#head < q.length && q[this.#head]!.done) this.#head++;
    if (this.#head === q.length) {
      this.#queue = [];
      this.#head = 0;
      this.#cancel?.();
      this.#cancel = undefined;
    } else if (this.#head > 1024 && this.#head * 2 > q.length) {
      this.#queue = q.slice(this.#head);
      this.#head = 0;
    }
  }

  #arm(): void {
    if (this.#cancel !== undefined || this.#head >= this.#queue.length) return;
    const wait = Math.max(0, this.#queue[this.#head]!.deadline - this.#time.mono());
    this.#cancel = this.#time.after(wait, () => {
      this.#cancel = undefined;
      const now = this.#time.mono();
      const q = this.#queue;
      while (this.#head < q.length && (q[this.#head]!.done || q[this.#head]!.deadline <= now)) {
        const p = q[this.#head++]!;
        if (!p.done) {
          p.done = true;
          p.fail();
        }
      }
      this.#compact();
      this.#arm();
    });
  }
}

/** Checks what an adapter answered before the scheduler uses it. */
export interface RecordChecks {
  record(id: string, value: unknown): FabricRecord;
  writeResult(id: string, value: unknown): WriteResult;
  list(value: unknown): { records: FabricRecord[]; corrupt: CorruptRecord[] };
}

/** Every answer checked (`CorruptStateError`, `StorageError` or a `corrupt` entry, never a `TypeError` later). */
export const STRICT_CHECKS: RecordChecks = { record: checkRecord, writeResult: checkWriteResult, list: checkListResult };

/** The built-in MemoryStorage only stores what passed `normalizeFabric` and the scheduler's own transitions. */
export const TRUSTED_CHECKS: RecordChecks = {
  record: (_id, value) => value as FabricRecord,
  writeResult: (_id, value) => value as WriteResult,
  list: (value) => value as { records: FabricRecord[]; corrupt: CorruptRecord[] },
};

export class StorageIO {
  readonly #storage: Storage;
  readonly #timeouts: OperationTimeouts;
  readonly #checks: RecordChecks;
  readonly #onSeen: (record: FabricRecord) => void;

  /**
   * @param onSeen called with every record written, or read fresh by an update (so the caller's
   * cache follows the storage).
   */
  constructor(storage: Storage, time: SchedulerTime, timeoutMs: number, onSeen: (record: FabricRecord) => void, checks: RecordChecks = storage instanceof MemoryStorage ? TRUSTED_CHECKS : STRICT_CHECKS) {
    this.#storage = storage;
    this.#timeouts = new OperationTimeouts(time, timeoutMs);
    this.#onSeen = onSeen;
    this.#checks = checks;
  }

  get storage(): Storage {
    return this.#storage;
  }

  /** Bounds any other promise (a lock call, a control-record update) by `operationTimeout`. */
  bound<T>(operation: string, value: T | PromiseLike<T>, fabricId?: string): T | Promise<T> {
    return this.#timeouts.bound(operation, value, fabricId);
  }

  /** The record, undefined when absent; `CorruptStateError` when unreadable. */
  async get(id: string): Promise<FabricRecord | undefined> {
    const value = await this.bound('read', this.#storage.get(id), id);
    return value === undefined ? undefined : this.#checks.record(id, value);
  }

  /** `get`, reading an unreadable record as absent (a create then replaces it: the fabric starts over). */
  async getOrStartOver(id: string): Promise<FabricRecord | undefined> {
    try {
      return await this.get(id);
    } catch (error) {
      if (error instanceof CorruptStateError) return undefined;
      throw error;
    }
  }

  async list(): Promise<{ records: FabricRecord[]; corrupt: CorruptRecord[] }> {
    return this.#checks.list(await this.bound('list', this.#storage.list()));
  }

  /**
   * The listing a page of at most `size` records at a time, each checked and bound by the
   * operation timeout: through the storage's `listPage` when it has one, else one page from
   * `list()`. A page whose cursor is not a string or null, or does not move, is a `StorageError`
   * (a listing that would never end). Pages are at-least-once: each reader keeps a record it
   * sees twice once, in the way cheapest for it.
   */
  async *listPages(size = LIST_PAGE_SIZE): AsyncGenerator<{ records: FabricRecord[]; corrupt: CorruptRecord[] }> {
    const storage = this.#storage;
    if (typeof storage.listPage !== 'function') {
      yield await this.list();
      return;
    }
    let cursor: string | null = null;
    do {
      const page: unknown = await this.bound('list', storage.listPage(cursor, size));
      const checked = this.#checks.list(page);
      let next: unknown;
      try {
        next = (page as { cursor?: unknown }).cursor;
      } catch (error) {
        throw new StorageError('list', `its answer could not be read: ${errorMessage(error)}`, { cause: error });
      }
      if (next !== null && (typeof next !== 'string' || next === cursor)) {
        throw new StorageError('list', `listPage answered the cursor ${typeof next === 'string' ? JSON.stringify(next) : String(next)} after ${JSON.stringify(cursor)}: expected a new string, or null after the last page`);
      }
      yield checked;
      cursor = next;
    } while (cursor !== null);
  }

  delete(id: string, expectedVersion?: number): Promise<boolean> {
    return Promise.resolve(this.bound('delete', expectedVersion === undefined ? this.#storage.delete(id) : this.#storage.delete(id, expectedVersion), id));
  }

  /** One compare-and-set write; answers synchronously when the storage does. */
  write(id: string, value: FabricWrite, expectedVersion: number | null, options?: WriteOptions): WriteResult | Promise<WriteResult> {
    const raw = options === undefined ? this.#storage.write(id, value, expectedVersion) : this.#storage.write(id, value, expectedVersion, options);
    const result = this.bound('write', raw, id);
    if (!isThenable<WriteResult>(result)) return this.#written(id, result);
    return result.then((r) => this.#written(id, r));
  }

  /**
   * Many compare-and-set writes: one round trip through the storage's `writeMany` when it has
   * one, else one `write` per item (in parallel). One result per item, in order; not atomic.
   */
  async writeMany(writes: ReadonlyArray<BatchWrite>): Promise<WriteResult[]> {
    if (writes.length === 0) return [];
    const storage = this.#storage;
    if (typeof storage.writeMany !== 'function') return Promise.all(writes.map((w) => this.write(w.id, w.value, w.expectedVersion)));
    const raw: unknown = await this.bound('write', storage.writeMany(writes));
    if (!Array.isArray(raw) || raw.length !== writes.length) {
      throw new StorageError('write', `writeMany answered ${Array.isArray(raw) ? `${raw.length} results` : typeof raw} for ${writes.length} writes`);
    }
    return writes.map((w, i) => this.#written(w.id, raw[i]));
  }

  #written(id: string, raw: unknown): WriteResult {
    const result = this.#checks.writeResult(id, raw);
    if (result.ok) this.#onSeen(result.record);
    else if (result.current) this.#onSeen(result.current);
    return result;
  }

  /**
   * Read-modify-write with compare-and-set, starting from `cached` when given (a storage that
   * answers synchronously then keeps the whole update in the caller's turn). Resolves to the
   * record written, or undefined when `mutate` declined or the record kept changing. `claim`'s
   * options go with every attempt (only the one that succeeds takes effect).
   */
  update(id: string, mutate: Mutator, cached: FabricRecord | undefined, claim?: WriteWith): FabricRecord | undefined | Promise<FabricRecord | undefined> {
    if (cached !== undefined) {
      const next = mutate(cached);
      if (next === null) return this.#updateFrom(id, mutate, undefined, 1, claim);
      const written = this.write(id, next, cached.version, claim?.options);
      if (!isThenable<WriteResult>(written)) return written.ok ? written.record : this.#retry(id, mutate, written, claim);
      return written.then((r) => (r.ok ? r.record : this.#retry(id, mutate, r, claim)));
    }
    return this.#updateFrom(id, mutate, undefined, 0, claim);
  }

  /** After a failed write: stop on a refused claim, else loop from the record it returned. */
  #retry(id: string, mutate: Mutator, failed: Extract<WriteResult, { ok: false }>, claim: WriteWith | undefined): undefined | Promise<FabricRecord | undefined> {
    if (failed.refused !== undefined && claim) {
      claim.refused = failed.refused;
      return undefined;
    }
    return this.#updateFrom(id, mutate, failed.current, 1, claim);
  }

  /** The loop from a fresh read (or from `current`, just returned by a failed write). */
  async #updateFrom(id: string, mutate: Mutator, current: FabricRecord | undefined, attempts: number, claim?: WriteWith): Promise<FabricRecord | undefined> {
    if (current === undefined) {
      current = await this.getOrStartOver(id);
      if (current) this.#onSeen(current);
    }
    for (let i = attempts; i < CAS_ATTEMPTS; i++) {
      const next = mutate(current);
      if (next === null) return undefined;
      const result = await this.write(id, next, current?.version ?? null, claim?.options);
      if (result.ok) return result.record;
      if (result.refused !== undefined && claim) {
        claim.refused = result.refused;
        return undefined;
      }
      current = result.current;
    }
    return undefined;
  }
}
