import { MAX_TIMER_DELAY, type Clock, type TimerHandle } from './clock.js';
import { EntryHeap } from './entry-heap.js';
import type { IntrusiveEntry, TimingWheelOptions, WheelEntry } from './wheel-types.js';

export type { IntrusiveEntry, TimingWheelOptions, WheelEntry } from './wheel-types.js';

/** Where a node is (`pos`): a heap index (>= 0), or one of these. */
const DETACHED = -1;
const IN_SLOT = -2;
const READY = -3;

type Node<T> = IntrusiveEntry<T>;

const SLOT_BITS = 16;
const SLOTS = 1 << SLOT_BITS;
const MASK = SLOTS - 1;
const WORDS = SLOTS >>> 5;

/**
 * A timer queue keyed by absolute due time with ONE clock timer armed for its earliest entry: a
 * single-level hashed timing wheel (Varghese & Lauck 1987, scheme 6) of 2^16 one-tick slots
 * (1 ms by default: a horizon of 65.5 s) with an occupancy bitmap, and a binary heap for the
 * entries due past the horizon:
 *
 * - an entry due within the horizon is appended to its tick's slot, an intrusive doubly linked
 *   list: schedule and cancel are O(1), and expiry is O(1) per entry (the next occupied slot is
 *   found by scanning the bitmap 32 slots per step); an entry due past the horizon waits in the
 *   heap (O(log n)) and moves into its slot once the wheel has turned far enough;
 * - ONE clock timer is armed for the earliest entry, so an idle wheel arms nothing and a busy one
 *   wakes once per due tick; on every wake the clock is re-read, and an entry never fires
 *   before its due time;
 * - waits longer than 2^31-1 ms are split, so long delays never overflow Node's timer;
 * - when the clock has a monotonic reading, a wall-clock step larger than `clockJumpThreshold`
 *   (seen at a wake) shifts every entry by the step and is reported to `onClockJump`, so a
 *   step forward does not fire everything at once and a step back does not stall everything.
 *
 * Why not a hierarchical wheel (Kafka's layout, this module's first version) or a plain binary
 * heap: see docs/benchmarks/profiles.md (the micro benchmark at 10^4…10^6 entries).
 */
export class TimingWheel<T> {
  readonly #clock: Clock;
  readonly #now: () => number;
  readonly #onExpire: TimingWheelOptions<T>['onExpire'];
  readonly #onClockJump: TimingWheelOptions<T>['onClockJump'];
  readonly #tickMs: number;
  readonly #jumpThreshold: number;
  /**
   * Slot lists (allocated with the first entry that needs them): the first node of each, whose
   * `prev` is the slot's last node (so one array serves both ends); and the bitmap of non-empty slots.
   */
  #heads: Array<Node<T> | null> | undefined;
  #occupied: Int32Array | undefined;
  #inSlots = 0;
  /**
   * Ticks are counted from this time (ms), so slot arithmetic stays on small integers (V8 Smis)
   * for the first 2^30 ticks (12 days at 1 ms), and stays correct, only slower, afterwards.
   */
  readonly #origin: number;
  /** First tick not yet served: every slotted entry's tick is in [cursor, cursor + SLOTS). */
  #cursor = 0;
  /** Entries due past the horizon (or, after a backward clock, before the cursor): min-heap by due time. */
  #far = new EntryHeap<T>();
  /** Entries already due when scheduled: served in a microtask. */
  #readyHead: Node<T> | null = null;
  #readyTail: Node<T> | null = null;
  #size = 0;
  #timer: TimerHandle | undefined;
  #armedFor = Number.POSITIVE_INFINITY;
  /** Wall and monotonic readings taken when the timer was last armed (for jump detection). */
  #armWall = 0;
  #armMono = 0;
  #stopped = false;
  #flushQueued = false;
  readonly #onTimer = (): void => this.#wake(true);
  readonly #onFlush = (): void => {
    this.#flushQueued = false;
    if (!this.#stopped && this.#readyHead !== null) this.#wake(false);
  };

  constructor(options: TimingWheelOptions<T>) {
    this.#clock = options.clock;
    const clock = options.clock;
    this.#now = options.now ?? (() => clock.now());
    this.#onExpire = options.onExpire;
    this.#onClockJump = options.onClockJump;
    this.#tickMs = options.tickMs ?? 1;
    this.#jumpThreshold = options.clockJumpThreshold ?? 1000;
    this.#origin = Math.floor(this.#now());
  }

  /** Number of scheduled entries. */
  get size(): number {
    return this.#size;
  }

  /** Due time of the earliest entry's tick (now, for an entry already due), `undefined` when empty. */
  nextExpiration(): number | undefined {
    if (this.#readyHead !== null) return this.#now();
    const tick = this.#minTick();
    return tick === undefined ? undefined : this.#timeOf(tick);
  }

  /**
   * Schedules `item` at absolute time `dueAt`; a past time fires at the next wake (a microtask).
   * `reuse`, an entry of the same item that fired or was cancelled, is scheduled again instead of
   * allocating a new one (the scheduler keeps one entry per fabric).
   */
  schedule(item: T, dueAt: number, reuse?: WheelEntry<T>): WheelEntry<T> {
    let node = reuse as Node<T> | undefined;
    if (node === undefined || node.pos !== DETACHED || node.item !== item) node = { item, dueAt, pos: DETACHED, prev: null, next: null };
    else node.dueAt = dueAt;
    this.#size++;
    const now = this.#now();
    if (this.#inSlots === 0 && this.#readyHead === null) {
      // Nothing in the slots: the wheel may turn to now at no cost (fewer entries go to the heap).
      const nowTick = this.#floorTick(now);
      if (nowTick > this.#cursor) this.#cursor = nowTick;
    }
    this.#place(node, now);
    if (this.#stopped) return node;
    if (node.pos === READY || this.#timer === undefined) this.#arm();
    else {
      const at = this.#timeOf(this.#tickOf(dueAt));
      if (at < this.#armedFor) this.#armAt(at, now);
    }
    return node;
  }

  /** Whether `entry` is scheduled (not yet fired nor cancelled). */
  isScheduled(entry: WheelEntry<T>): boolean {
    return (entry as Node<T>).pos !== DETACHED;
  }

  /** Cancels an entry; false when it already fired or was cancelled. */
  cancel(entry: WheelEntry<T>): boolean {
    const node = entry as Node<T>;
    const pos = node.pos;
    if (pos === DETACHED) return false;
    if (pos === IN_SLOT) this.#unslot(node);
    else if (pos === READY) this.#unready(node);
    else this.#far.remove(pos);
    node.pos = DETACHED;
    this.#size--;
    // A timer armed for an entry cancelled meanwhile wakes once for nothing; an empty wheel arms none.
    if (this.#size === 0) this.#disarm();
    return true;
  }

  /** Disarms the timer; entries stay and are served again after {@link TimingWheel.resume}. */
  pause(): void {
    this.#stopped = true;
    this.#disarm();
  }

  resume(): void {
    this.#stopped = false;
    this.#arm();
  }

  /** Drops every entry and disarms. */
  clear(): void {
    this.#disarm();
    for (const node of this.#detachAll()) node.pos = DETACHED;
    this.#size = 0;
  }

  /** The tick an entry due at `dueAt` fires at (its end: never early). */
  #tickOf(dueAt: number): number {
    const t = dueAt - this.#origin;
    return this.#tickMs === 1 ? Math.ceil(t) : Math.ceil(t / this.#tickMs);
  }

  /** The tick `now` is in. */
  #floorTick(now: number): number {
    const t = now - this.#origin;
    return this.#tickMs === 1 ? Math.floor(t) : Math.floor(t / this.#tickMs);
  }

  /** When a tick begins, ms. */
  #timeOf(tick: number): number {
    return this.#origin + tick * this.#tickMs;
  }

  #place(node: Node<T>, now: number): void {
    if (node.dueAt <= now) {
      node.pos = READY;
      node.next = null;
      node.prev = this.#readyTail;
      if (this.#readyTail) this.#readyTail.next = node;
      else this.#readyHead = node;
      this.#readyTail = node;
      return;
    }
    const tick = this.#tickOf(node.dueAt);
    const ahead = tick - this.#cursor;
    if (ahead < 0 || ahead >= SLOTS) return this.#far.push(node);
    if (this.#heads === undefined) {
      this.#heads = new Array<Node<T> | null>(SLOTS).fill(null);
      this.#occupied = new Int32Array(WORDS);
    }
    const i = tick & MASK;
    const head = this.#heads[i]!;
    node.pos = IN_SLOT;
    node.next = null;
    if (head) {
      const tail = head.prev!;
      tail.next = node;
      node.prev = tail;
      head.prev = node;
    } else {
      node.prev = node;
      this.#heads[i] = node;
      this.#occupied![i >>> 5]! |= 1 << (i & 31);
    }
    this.#inSlots++;
  }

  #unslot(node: Node<T>): void {
    const i = this.#tickOf(node.dueAt) & MASK;
    const heads = this.#heads!;
    const head = heads[i]!;
    const next = node.next;
    if (node === head) {
      heads[i] = next;
      if (next) next.prev = node.prev;
      else this.#occupied![i >>> 5]! &= ~(1 << (i & 31));
    } else {
      node.prev!.next = next;
      if (next) next.prev = node.prev;
      else head.prev = node.prev; // it was the last
    }
    node.prev = node.next = null;
    this.#inSlots--;
  }

  #unready(node: Node<T>): void {
    if (node.prev) node.prev.next = node.next;
    else this.#readyHead = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.#readyTail = node.prev;
    node.prev = node.next = null;
  }

  /** The first occupied tick in [from, from + maxAhead], or -1. */
  #nextOccupied(from: number, maxAhead: number): number {
    const bits = this.#occupied!;
    const start = from & MASK;
    let w = start >>> 5;
    let ahead = -(start & 31);
    let word = bits[w]! & (-1 << (start & 31));
    for (;;) {
      if (word !== 0) {
        const d = ahead + (31 - Math.clz32(word & -word));
        return d <= maxAhead ? from + d : -1;
      }
      ahead += 32;
      if (ahead > maxAhead) return -1;
      w = (w + 1) & (WORDS - 1);
      word = bits[w]!;
    }
  }

  /** The earliest tick holding an entry (ready entries aside). */
  #minTick(): number | undefined {
    const slotted = this.#inSlots > 0 ? this.#nextOccupied(this.#cursor, SLOTS - 1) : -1;
    const far = this.#far.peek();
    const farTick = far === undefined ? -1 : this.#tickOf(far.dueAt);
    if (slotted < 0) return farTick < 0 ? undefined : farTick;
    return farTick < 0 || slotted < farTick ? slotted : farTick;
  }

  #arm(): void {
    if (this.#stopped) return;
    if (this.#readyHead !== null) {
      // Already due: serve in a microtask rather than a timer (Node clamps 0 ms to 1 ms).
      if (!this.#flushQueued) {
        this.#flushQueued = true;
        queueMicrotask(this.#onFlush);
      }
      return;
    }
    const tick = this.#minTick();
    if (tick === undefined) return this.#disarm();
    const at = this.#timeOf(tick);
    if (this.#timer !== undefined && at >= this.#armedFor) return;
    this.#armAt(at, this.#now());
  }

  #armAt(at: number, now: number): void {
    this.#disarm();
    this.#armedFor = at;
    this.#armWall = now;
    this.#armMono = this.#clock.monotonic?.() ?? 0;
    this.#timer = this.#clock.setTimeout(this.#onTimer, Math.min(Math.max(0, at - now), MAX_TIMER_DELAY));
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
  }

  #wake(fromTimer: boolean): void {
    if (fromTimer) {
      this.#timer = undefined;
      this.#armedFor = Number.POSITIVE_INFINITY;
    }
    if (this.#stopped) return;
    let now = this.#now();
    if (fromTimer && this.#clock.monotonic && this.#onClockJump) {
      const expected = this.#armWall + (this.#clock.monotonic() - this.#armMono);
      const skew = now - expected;
      if (Math.abs(skew) >= this.#jumpThreshold) {
        this.#shiftAll(skew, now);
        this.#onClockJump(skew, now);
        now = this.#now();
      }
    }
    const due: T[] = [];
    for (let n = this.#readyHead; n; ) {
      const next = n.next;
      n.prev = n.next = null;
      n.pos = DETACHED;
      due.push(n.item);
      n = next;
    }
    this.#readyHead = this.#readyTail = null;
    const nowTick = this.#floorTick(now);
    // Past the horizon or behind the cursor, and due: served first (they are the oldest or were stalled).
    const far = this.#far;
    for (let top = far.peek(); top !== undefined && this.#tickOf(top.dueAt) <= nowTick; top = far.peek()) {
      const n = far.pop();
      n.pos = DETACHED;
      due.push(n.item);
    }
    if (nowTick >= this.#cursor) {
      if (this.#inSlots > 0) {
        const last = Math.min(nowTick, this.#cursor + SLOTS - 1);
        for (let t = this.#nextOccupied(this.#cursor, last - this.#cursor); t >= 0; t = t < last ? this.#nextOccupied(t + 1, last - t - 1) : -1) this.#drainSlot(t & MASK, due);
      }
      this.#cursor = nowTick + 1;
      // The wheel turned: entries that came within the horizon move into their slots.
      for (let top = far.peek(); top !== undefined && this.#tickOf(top.dueAt) < this.#cursor + SLOTS; top = far.peek()) this.#place(far.pop(), now);
    }
    this.#size -= due.length;
    this.#arm();
    if (due.length > 0) this.#onExpire(due, now);
  }

  #drainSlot(i: number, due: T[]): void {
    let count = 0;
    for (let n: Node<T> | null = this.#heads![i]!; n; ) {
      const next: Node<T> | null = n.next;
      n.prev = n.next = null;
      n.pos = DETACHED;
      due.push(n.item);
      count++;
      n = next;
    }
    this.#heads![i] = null;
    this.#occupied![i >>> 5]! &= ~(1 << (i & 31));
    this.#inSlots -= count;
  }

  /** Takes every node out (ready, slots, heap), leaving the wheel empty at the current time. */
  #detachAll(): Node<T>[] {
    const nodes: Node<T>[] = [];
    for (let n = this.#readyHead; n; n = n.next) nodes.push(n);
    this.#readyHead = this.#readyTail = null;
    if (this.#inSlots > 0) {
      for (let t = this.#nextOccupied(this.#cursor, SLOTS - 1); t >= 0; t = this.#nextOccupied(this.#cursor, SLOTS - 1)) {
        const i = t & MASK;
        for (let n: Node<T> | null = this.#heads![i]!; n; n = n.next) nodes.push(n);
        this.#heads![i] = null;
        this.#occupied![i >>> 5]! &= ~(1 << (i & 31));
      }
    }
    this.#inSlots = 0;
    this.#far.drainInto(nodes);
    for (const n of nodes) n.prev = n.next = null;
    this.#cursor = Math.max(0, this.#floorTick(this.#now()));
    return nodes;
  }

  /** Rebuilds the wheel at `now` with every entry's due time moved by `skew`. */
  #shiftAll(skew: number, now: number): void {
    for (const node of this.#detachAll()) {
      node.dueAt += skew;
      this.#place(node, now);
    }
  }
}
