/**
 * MemoryStorage's records as columns of numbers, updated in place (issue 11: hot path and memory).
 *
 * Keeping a frozen `FabricRecord` per fabric cost a new record, a new state and ~6 boxed numbers
 * per write, kept until the fabric's next write (a minute later at a 60 s interval): by then
 * promoted to V8's old generation, where a million of them a minute died, so the heap grew by
 * hundreds of MB between major GCs and each major GC had ~13 objects per fabric to mark. Here a
 * write stores numbers into preallocated arrays, and every record handed out is a fresh frozen
 * snapshot that this module does not keep (it dies young unless its caller keeps it).
 *
 * Layout, per slot (a slot index per fabric id is kept by MemoryStorage):
 * - the state's numbers and the version in ONE `Float64Array`, {@link STRIDE} numbers per slot
 *   (one fabric's numbers are adjacent: a write touches one or two cache lines, and growing copies
 *   one array). `null` timestamps and an absent `requestedAt` are stored as NaN: `stateProblem`
 *   refuses NaN and every non-finite number, so no stored value can be NaN;
 * - the status as its index in `SYNC_STATUSES`, in a `Uint8Array`;
 * - the definition (the same, shared, frozen object that was written) in a plain array, and
 *   `lastError` in a map of the slots that have one (most have none).
 *
 * The typed arrays come in chunks of {@link CHUNK} slots: the first chunk grows by doubling from
 * {@link INITIAL_CAPACITY}, then each new chunk is added as it is needed. So at most one chunk is
 * unused (no doubling slack of up to half the store at a million records), and growing never
 * copies a large array. A released slot goes on a free list and is handed out again.
 */
import type { Fabric } from '../definition.js';
import { SYNC_STATUSES, statusIndex } from '../status.js';
import { makeState, type FabricRecord, type FabricState } from './types.js';

/** Offsets of one slot's numbers in the number array. */
const VERSION = 0;
const LAST_SYNC = 1;
const LAST_ATTEMPT = 2;
const ANCHOR = 3;
const LAST_SLOT = 4;
const NEXT_SYNC = 5;
const REQUESTED = 6;
const FAILURES = 7;
const TOKEN = 8;
/** Numbers per slot. */
const STRIDE = 9;

/** Slots made room for by a new, empty store. */
const INITIAL_CAPACITY = 64;
/** Slots per chunk of the typed arrays (a power of two: {@link CHUNK_BITS}). */
const CHUNK_BITS = 12;
const CHUNK = 1 << CHUNK_BITS;
const IN_CHUNK = CHUNK - 1;

/** A stored timestamp as a column number: NaN for `null` (and for anything that is not a number). */
function encode(v: number | null | undefined): number {
  return typeof v === 'number' ? v : Number.NaN;
}

/** A column number as a timestamp: `null` for NaN. */
function nullable(v: number): number | null {
  // `v !== v` only for NaN.
  return v === v ? v : null;
}


/**
 * The records of one MemoryStorage, by slot index. It checks nothing: MemoryStorage checks every
 * write before it is stored, and hands slots out and back.
 */
export class RecordColumns {
  /** {@link STRIDE} numbers per slot, by chunk: version, the state's timestamps (NaN: null or absent), counters. */
  readonly #nums: Float64Array[] = [new Float64Array(INITIAL_CAPACITY * STRIDE)];
  /** Index in `SYNC_STATUSES` of each slot's status, by chunk. */
  readonly #status: Uint8Array[] = [new Uint8Array(INITIAL_CAPACITY)];
  /** Slots the chunks hold. */
  #capacity = INITIAL_CAPACITY;
  /** Each slot's definition (undefined when the slot is free). */
  readonly #definitions: Array<Fabric | undefined> = [];
  /** `lastError` of the slots that have one. */
  readonly #errors = new Map<number, string>();
  /** Released slots, handed out again before new ones. */
  readonly #free: number[] = [];
  /** Slots ever handed out: new slots are numbered from here. */
  #used = 0;

  /** A slot to store a new record in (a released one when there is one); fill it with {@link store}. */
  allocate(): number {
    const reused = this.#free.pop();
    if (reused !== undefined) return reused;
    const slot = this.#used++;
    if (slot === this.#capacity) this.#grow();
    this.#definitions.push(undefined);
    return slot;
  }

  /** Gives a slot back (its record was deleted); what it held is let go. */
  release(slot: number): void {
    this.#definitions[slot] = undefined;
    this.#errors.delete(slot);
    this.#free.push(slot);
  }

  /** Slots handed out so far (in use or free): every slot is below this. */
  get slotCount(): number {
    return this.#used;
  }

  /** Whether the slot holds a record (not free). */
  inUse(slot: number): boolean {
    return this.#definitions[slot] !== undefined;
  }

  /** The slot's definition, the very object that was stored. */
  definition(slot: number): Fabric {
    return this.#definitions[slot]!;
  }

  /** The slot's compare-and-set version. */
  version(slot: number): number {
    return this.#nums[slot >>> CHUNK_BITS]![(slot & IN_CHUNK) * STRIDE + VERSION]!;
  }

  /** The slot's `state.fencingToken`. */
  fencingToken(slot: number): number {
    return this.#nums[slot >>> CHUNK_BITS]![(slot & IN_CHUNK) * STRIDE + TOKEN]!;
  }

  /** Whether `requestedAt` (absent or null: none) differs from the slot's `state.requestedAt`. */
  requestChanged(slot: number, requestedAt: number | null | undefined): boolean {
    const before = this.#nums[slot >>> CHUNK_BITS]![(slot & IN_CHUNK) * STRIDE + REQUESTED]!;
    if (typeof requestedAt !== 'number') return before === before;
    return before !== requestedAt;
  }

  /**
   * Stores a record in the slot, in place: `definition` by reference, `state`'s fields (a state
   * `stateProblem` accepted) as numbers, with `fencingToken` instead of `state.fencingToken`.
   */
  store(slot: number, definition: Fabric, version: number, state: Readonly<FabricState>, fencingToken: number): void {
    const n = this.#nums[slot >>> CHUNK_BITS]!;
    const at = (slot & IN_CHUNK) * STRIDE;
    n[at + VERSION] = version;
    n[at + LAST_SYNC] = encode(state.lastSyncAt);
    n[at + LAST_ATTEMPT] = encode(state.lastAttemptAt);
    n[at + ANCHOR] = encode(state.anchorAt);
    n[at + LAST_SLOT] = encode(state.lastSlotAt);
    n[at + NEXT_SYNC] = encode(state.nextSyncAt);
    n[at + REQUESTED] = encode(state.requestedAt);
    n[at + FAILURES] = state.consecutiveFailures;
    n[at + TOKEN] = fencingToken;
    this.#status[slot >>> CHUNK_BITS]![slot & IN_CHUNK] = statusIndex(state.status);
    this.#definitions[slot] = definition;
    const errors = this.#errors;
    if (state.lastError !== null) errors.set(slot, state.lastError);
    else if (errors.size > 0) errors.delete(slot);
  }

  /**
   * A fresh deep-frozen record of what the slot holds, not kept here. Its state is made by
   * `makeState` (the hidden class every state shares) and `requestedAt` is present only when set.
   */
  snapshot(slot: number): FabricRecord {
    const n = this.#nums[slot >>> CHUNK_BITS]!;
    const at = (slot & IN_CHUNK) * STRIDE;
    const requested = n[at + REQUESTED]!;
    const state = makeState(
      SYNC_STATUSES[this.#status[slot >>> CHUNK_BITS]![slot & IN_CHUNK]!]!,
      nullable(n[at + LAST_SYNC]!),
      nullable(n[at + LAST_ATTEMPT]!),
      this.#errors.get(slot) ?? null,
      n[at + FAILURES]!,
      nullable(n[at + ANCHOR]!),
      nullable(n[at + LAST_SLOT]!),
      nullable(n[at + NEXT_SYNC]!),
      n[at + TOKEN]!,
      requested === requested ? requested : undefined,
    );
    return Object.freeze({ definition: this.#definitions[slot]!, state: Object.freeze(state), version: n[at + VERSION]! });
  }

  /** Room for one more slot: the first chunk doubled (copied) while below {@link CHUNK}, else one more chunk. */
  #grow(): void {
    if (this.#capacity < CHUNK) {
      const capacity = Math.min(this.#capacity * 2, CHUNK);
      const nums = new Float64Array(capacity * STRIDE);
      nums.set(this.#nums[0]!);
      this.#nums[0] = nums;
      const status = new Uint8Array(capacity);
      status.set(this.#status[0]!);
      this.#status[0] = status;
      this.#capacity = capacity;
      return;
    }
    this.#nums.push(new Float64Array(CHUNK * STRIDE));
    this.#status.push(new Uint8Array(CHUNK));
    this.#capacity += CHUNK;
  }
}
