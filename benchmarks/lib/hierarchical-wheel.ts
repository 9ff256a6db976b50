/** The first TimingWheel (hierarchical, Kafka layout), kept for the micro benchmark as the "before" of issue 11. */
import { MAX_TIMER_DELAY, type Clock, type TimerHandle } from '../../src/clock.js';
import type { TimingWheelOptions, WheelEntry } from '../../src/wheel-types.js';

/**
 * A hierarchical timing wheel keyed by absolute due time (Varghese & Lauck 1987; the layout
 * follows Kafka's `TimingWheel`): level 0 has `wheelSize` buckets of `tickMs`, each further level
 * buckets of the previous level's whole span, created on demand, so any delay fits.
 *
 * - schedule and cancel are O(1) (a bucket is a doubly linked list);
 * - buckets that hold entries sit in a small binary heap keyed by their expiration (at most
 *   `levels × wheelSize` of them), and ONE clock timer is armed for the earliest, so an idle
 *   wheel arms nothing and a busy one wakes once per non-empty bucket;
 * - on every wake the clock is re-read, and an entry never fires before its due time;
 * - waits longer than 2^31-1 ms are split, so long delays never overflow Node's timer;
 * - when the clock has a monotonic reading, a wall-clock step larger than `clockJumpThreshold`
 *   (seen at a wake) shifts every entry by the step and is reported to `onClockJump`, so a
 *   step forward does not fire everything at once and a step back does not stall everything.
 */
interface Node<T> extends WheelEntry<T> {
  dueAt: number;
  bucket: Bucket<T> | null;
  prev: Node<T> | null;
  next: Node<T> | null;
  /** true while in the ready list (due before it could be bucketed). */
  ready: boolean;
}

class Bucket<T> {
  expiration = -1;
  heapIndex = -1;
  count = 0;
  head: Node<T> | null = null;
  tail: Node<T> | null = null;

  add(node: Node<T>): void {
    node.bucket = this;
    node.prev = this.tail;
    node.next = null;
    if (this.tail) this.tail.next = node;
    else this.head = node;
    this.tail = node;
    this.count++;
  }

  remove(node: Node<T>): void {
    if (node.prev) node.prev.next = node.next;
    else this.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.tail = node.prev;
    node.prev = node.next = null;
    node.bucket = null;
    this.count--;
  }

  /** Detaches and returns every node; the bucket is empty and unexpiring afterwards. */
  drain(): Node<T>[] {
    const out: Node<T>[] = [];
    for (let n = this.head; n; ) {
      const next = n.next;
      n.prev = n.next = null;
      n.bucket = null;
      out.push(n);
      n = next;
    }
    this.head = this.tail = null;
    this.count = 0;
    this.expiration = -1;
    return out;
  }
}

class Level<T> {
  readonly buckets: Bucket<T>[];
  readonly interval: number;
  currentTime: number;
  overflow: Level<T> | null = null;

  constructor(readonly tickMs: number, readonly wheelSize: number, startMs: number) {
    this.interval = tickMs * wheelSize;
    this.currentTime = startMs - (startMs % tickMs);
    this.buckets = Array.from({ length: wheelSize }, () => new Bucket<T>());
  }

  /** Places `node`; returns the bucket whose expiration was (re)set, `undefined` if none, or `null` when already due. */
  add(node: Node<T>): Bucket<T> | undefined | null {
    const due = node.dueAt;
    if (due < this.currentTime + this.tickMs) return null;
    if (due < this.currentTime + this.interval) {
      const virtualId = Math.floor(due / this.tickMs);
      const bucket = this.buckets[virtualId % this.wheelSize]!;
      bucket.add(node);
      const expiration = virtualId * this.tickMs;
      if (bucket.expiration !== expiration) {
        bucket.expiration = expiration;
        return bucket;
      }
      return undefined;
    }
    this.overflow ??= new Level<T>(this.interval, this.wheelSize, this.currentTime);
    return this.overflow.add(node);
  }

  advance(timeMs: number): void {
    if (timeMs >= this.currentTime + this.tickMs) {
      this.currentTime = timeMs - (timeMs % this.tickMs);
      this.overflow?.advance(this.currentTime);
    }
  }
}

/** Min-heap of buckets by expiration, with positions kept in the buckets for O(log n) removal. */
class BucketHeap<T> {
  readonly #a: Bucket<T>[] = [];
  get size(): number {
    return this.#a.length;
  }
  peek(): Bucket<T> | undefined {
    return this.#a[0];
  }
  push(b: Bucket<T>): void {
    b.heapIndex = this.#a.length;
    this.#a.push(b);
    this.#up(b.heapIndex);
  }
  /** Re-positions `b` after its expiration changed, inserting it when absent. */
  update(b: Bucket<T>): void {
    if (b.heapIndex < 0) return this.push(b);
    this.#up(b.heapIndex);
    this.#down(b.heapIndex);
  }
  remove(b: Bucket<T>): void {
    const i = b.heapIndex;
    if (i < 0) return;
    const last = this.#a.pop()!;
    b.heapIndex = -1;
    if (last !== b) {
      this.#a[i] = last;
      last.heapIndex = i;
      this.#up(i);
      this.#down(i);
    }
  }
  pop(): Bucket<T> | undefined {
    const top = this.#a[0];
    if (top) this.remove(top);
    return top;
  }
  clear(): void {
    for (const b of this.#a) b.heapIndex = -1;
    this.#a.length = 0;
  }
  #up(i: number): void {
    const a = this.#a;
    const b = a[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pb = a[p]!;
      if (pb.expiration <= b.expiration) break;
      a[i] = pb;
      pb.heapIndex = i;
      i = p;
    }
    a[i] = b;
    b.heapIndex = i;
  }
  #down(i: number): void {
    const a = this.#a;
    const n = a.length;
    const b = a[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && a[r]!.expiration < a[l]!.expiration ? r : l;
      const cb = a[c]!;
      if (cb.expiration >= b.expiration) break;
      a[i] = cb;
      cb.heapIndex = i;
      i = c;
    }
    a[i] = b;
    b.heapIndex = i;
  }
}

export class TimingWheel<T> {
  readonly #clock: Clock;
  readonly #now: () => number;
  readonly #onExpire: TimingWheelOptions<T>['onExpire'];
  readonly #onClockJump: TimingWheelOptions<T>['onClockJump'];
  readonly #tickMs: number;
  readonly #wheelSize: number;
  readonly #jumpThreshold: number;
  #root: Level<T>;
  readonly #heap = new BucketHeap<T>();
  #ready: Node<T>[] = [];
  #size = 0;
  #timer: TimerHandle | undefined;
  #armedFor = Number.POSITIVE_INFINITY;
  /** Wall and monotonic readings taken when the timer was last armed (for jump detection). */
  #armWall = 0;
  #armMono = 0;
  #stopped = false;
  #flushQueued = false;

  constructor(options: TimingWheelOptions<T>) {
    this.#clock = options.clock;
    const clock = options.clock;
    this.#now = options.now ?? (() => clock.now());
    this.#onExpire = options.onExpire;
    this.#onClockJump = options.onClockJump;
    this.#tickMs = options.tickMs ?? 1;
    this.#wheelSize = options.wheelSize ?? 64;
    this.#jumpThreshold = options.clockJumpThreshold ?? 1000;
    this.#root = new Level<T>(this.#tickMs, this.#wheelSize, this.#now());
  }

  /** Number of scheduled entries. */
  get size(): number {
    return this.#size;
  }

  /** Due time of the earliest non-empty bucket (or ready entry), `undefined` when empty. */
  nextExpiration(): number | undefined {
    if (this.#ready.length > 0) return this.#now();
    return this.#heap.peek()?.expiration;
  }

  /** Schedules `item` at absolute time `dueAt` (epoch ms); a past time fires at the next wake. */
  schedule(item: T, dueAt: number): WheelEntry<T> {
    const node: Node<T> = { item, dueAt, bucket: null, prev: null, next: null, ready: false };
    this.#size++;
    this.#place(node, this.#now());
    this.#arm();
    return node;
  }

  /** Cancels an entry; false when it already fired or was cancelled. */
  cancel(entry: WheelEntry<T>): boolean {
    const node = entry as Node<T>;
    if (node.ready) {
      const i = this.#ready.indexOf(node);
      if (i >= 0) this.#ready.splice(i, 1);
      node.ready = false;
      this.#size--;
      return true;
    }
    const bucket = node.bucket;
    if (!bucket) return false;
    bucket.remove(node);
    this.#size--;
    if (bucket.count === 0) {
      this.#heap.remove(bucket);
      bucket.expiration = -1;
      if (this.#heap.size === 0 && this.#ready.length === 0) this.#disarm();
    }
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
    for (const node of this.#ready) node.ready = false;
    this.#ready = [];
    this.#heap.clear();
    this.#root = new Level<T>(this.#tickMs, this.#wheelSize, this.#now());
    this.#size = 0;
  }

  #place(node: Node<T>, now: number): void {
    const changed = node.dueAt <= now ? null : this.#root.add(node);
    if (changed === null) {
      node.ready = true;
      this.#ready.push(node);
    } else if (changed) {
      this.#heap.update(changed);
    }
  }

  #arm(): void {
    if (this.#stopped) return;
    if (this.#ready.length > 0) {
      // Already due: serve in a microtask rather than a timer (Node clamps 0 ms to 1 ms).
      if (!this.#flushQueued) {
        this.#flushQueued = true;
        queueMicrotask(() => {
          this.#flushQueued = false;
          if (!this.#stopped && this.#ready.length > 0) this.#wake(false);
        });
      }
      return;
    }
    const next = this.#heap.peek()?.expiration;
    if (next === undefined) return this.#disarm();
    if (this.#timer !== undefined && next >= this.#armedFor) return;
    this.#disarm();
    const now = this.#now();
    this.#armedFor = next;
    this.#armWall = now;
    this.#armMono = this.#clock.monotonic?.() ?? 0;
    const delay = Math.min(Math.max(0, next - now), MAX_TIMER_DELAY);
    this.#timer = this.#clock.setTimeout(() => this.#wake(), delay);
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
  }

  #wake(fromTimer = true): void {
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
    const due: Node<T>[] = this.#ready;
    this.#ready = [];
    for (const node of due) node.ready = false;
    for (let bucket = this.#heap.peek(); bucket && bucket.expiration <= now; bucket = this.#heap.peek()) {
      this.#heap.pop();
      this.#root.advance(bucket.expiration);
      for (const node of bucket.drain()) {
        const changed = this.#root.add(node);
        if (changed === null) due.push(node);
        else if (changed) this.#heap.update(changed);
      }
    }
    this.#size -= due.length;
    this.#arm();
    if (due.length > 0) this.#onExpire(due.map((n) => n.item), now);
  }

  /** Rebuilds the wheel at `now` with every entry's due time moved by `skew`. */
  #shiftAll(skew: number, now: number): void {
    const nodes: Node<T>[] = [...this.#ready];
    for (;;) {
      const bucket = this.#heap.pop();
      if (!bucket) break;
      nodes.push(...bucket.drain());
    }
    // Empty buckets (not in the heap) hold nothing, so a fresh root loses no entry.
    this.#ready = [];
    this.#root = new Level<T>(this.#tickMs, this.#wheelSize, now);
    for (const node of nodes) {
      node.ready = false;
      node.dueAt += skew;
      this.#place(node, now);
    }
  }
}
