/**
 * Queues and concurrency lanes: a run waits in its fabric's queue until both the scheduler-wide
 * bound (`maxConcurrentSyncs`) and its queue's bound allow it; when lanes are scarce the queue
 * with the higher priority goes first, then the oldest due run, then arrival order. A queue with
 * a rate limit also needs a token of its bucket (rate-limit.ts) for each run it starts.
 */
import { DEFAULT_QUEUE, type Fabric } from '../definition.js';
import { DueQueue } from '../due-queue.js';
import { RunStats } from '../metrics.js';
import type { ResolvedQueue } from './options.js';
import type { Run } from './run.js';
import { TokenBucket, TokenTimer } from './rate-limit.js';
import type { SchedulerTime } from './time.js';

/** One named queue at run time. */
export class Queue {
  readonly name: string;
  readonly concurrency: number;
  readonly priority: number;
  readonly backlog = new DueQueue<Run>();
  readonly stats = new RunStats();
  /** The rate limit's token bucket, when the queue has one. */
  readonly bucket: TokenBucket | undefined;
  inFlight = 0;

  constructor(q: ResolvedQueue, now: number) {
    this.name = q.name;
    this.concurrency = q.concurrency;
    this.priority = q.priority;
    this.bucket = q.rate ? new TokenBucket(q.rate.runs, q.rate.per, now) : undefined;
  }


  get backlogSize(): number {
    return this.backlog.size;
  }
}

/**
 * The runs in flight: an array, each run holding its index (`Run.lane`). A `Set` that fills and
 * empties on every run (one synchronous run at a time) reallocates its hash table each time.
 */
export class RunningSet implements Iterable<Run> {
  readonly #runs: Run[] = [];

  get size(): number {
    return this.#runs.length;
  }

  add(run: Run): void {
    run.lane = this.#runs.length;
    this.#runs.push(run);
  }

  /** Removes `run`; false when it was not in flight. */
  delete(run: Run): boolean {
    const i = run.lane;
    if (i < 0 || this.#runs[i] !== run) return false;
    const last = this.#runs.pop()!;
    if (last !== run) {
      this.#runs[i] = last;
      last.lane = i;
    }
    run.lane = -1;
    return true;
  }

  /** A snapshot: a run may end (and leave the set) while the caller goes through them. */
  [Symbol.iterator](): Iterator<Run> {
    return this.#runs.slice()[Symbol.iterator]();
  }
}

export class Lanes {
  readonly #queues = new Map<string, Queue>();
  readonly #default: Queue;
  readonly #max: number;
  /** Monotonic time, for the rate limits' token buckets. */
  readonly #now: () => number;
  /** Runs in flight (lease taken or being taken). */
  readonly running = new RunningSet();
  #seq = 0;

  /** Wakes the backlog when the next token a waiting queue needs is due (see {@link Lanes.onToken}). */
  readonly #tokens: TokenTimer | undefined;
  #wake: () => void = () => undefined;

  constructor(queues: readonly ResolvedQueue[], maxConcurrent: number, time?: SchedulerTime) {
    const now = (this.#now = time ? () => time.mono() : () => 0);
    this.#tokens = time && queues.some((q) => q.rate) ? new TokenTimer(time, () => this.#wake()) : undefined;
    for (const q of queues) this.#queues.set(q.name, new Queue(q, now()));
    this.#default = this.#queues.get(DEFAULT_QUEUE)!;
    this.#max = maxConcurrent;
  }

  queues(): IterableIterator<Queue> {
    return this.#queues.values();
  }

  names(): string[] {
    return [...this.#queues.keys()];
  }

  has(name: string): boolean {
    return this.#queues.has(name);
  }

  get(name: string): Queue | undefined {
    return this.#queues.get(name);
  }

  /** The queue a fabric's runs use; a name not configured here (set by another replica) falls back to the default queue. */
  queueOf(fabric: Fabric): Queue {
    const name = fabric.queue;
    return name === undefined ? this.#default : (this.#queues.get(name) ?? this.#default);
  }

  get backlogSize(): number {
    let n = 0;
    for (const q of this.#queues.values()) n += q.backlog.size;
    return n;
  }

  /** Whether `run` may begin now (a lane and a token are free and nobody older waits in its queue). */
  canBegin(run: Run): boolean {
    const q = run.queue;
    return this.running.size < this.#max && q.backlog.size === 0 && q.inFlight < q.concurrency && (q.bucket === undefined || q.bucket.has(this.#now()));
  }

  /** What to call when a token a waiting run needs is due (the dispatcher's pump). */
  onToken(wake: () => void): void {
    this.#wake = wake;
  }

  /** Arms the one token timer for the next token a waiting run needs (no-op without rate limits). */
  armTokenTimer(): void {
    this.#tokens?.arm(this.tokenWait());
  }

  /** Cancels the token timer (stop). */
  clearTokenTimer(): void {
    this.#tokens?.clear();
  }

  /**
   * ms until the next token of a queue whose runs wait only for one (a lane of its own is free),
   * or null when no run waits for a token.
   */
  tokenWait(): number | null {
    const now = this.#now();
    let wait: number | null = null;
    for (const q of this.#queues.values()) {
      if (!q.bucket || q.backlog.size === 0 || q.inFlight >= q.concurrency) continue;
      const w = q.bucket.wait(now);
      if (w > 0 && (wait === null || w < wait)) wait = w;
    }
    return wait;
  }

  /** Puts `run` in its queue's backlog (arming the token timer when it waits for a token). */
  wait(run: Run): void {
    run.queue.backlog.push(run, run.queuedAt, this.#seq++);
    if (run.queue.bucket) this.armTokenTimer();
  }

  /** Takes a lane for `run`. */
  occupy(run: Run): void {
    this.running.add(run);
    run.queue.inFlight++;
    run.queue.bucket?.take(this.#now());
  }

  /** Frees the lane of `run`. */
  free(run: Run): void {
    if (this.running.delete(run)) run.queue.inFlight--;
  }

  /** The next run a free lane should take: highest priority queue with a free lane, then oldest due, then arrival. */
  next(): Run | undefined {
    if (this.running.size >= this.#max) return undefined;
    let now: number | undefined;
    let best: Queue | undefined;
    let bestKey: { due: number; seq: number } | undefined;
    for (const q of this.#queues.values()) {
      if (q.backlog.size === 0 || q.inFlight >= q.concurrency) continue;
      if (q.bucket !== undefined && !q.bucket.has((now ??= this.#now()))) continue;
      const head = q.backlog.peek();
      if (!head) continue;
      if (!best || q.priority > best.priority || (q.priority === best.priority && (head.due < bestKey!.due || (head.due === bestKey!.due && head.seq < bestKey!.seq)))) {
        best = q;
        bestKey = head;
      }
    }
    return best?.backlog.pop();
  }

  /** Removes a waiting run; false when it is not waiting (it runs, or it is gone). */
  unqueue(run: Run): boolean {
    return run.queue.backlog.remove(run);
  }

  /** Empties the backlog of one queue (every queue when omitted), returning the runs in order. */
  drain(queue?: string): Run[] {
    const out: Run[] = [];
    for (const q of queue === undefined ? this.#queues.values() : [this.#queues.get(queue)!]) out.push(...q.backlog.drain());
    return out;
  }
}
