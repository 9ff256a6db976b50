/**
 * Run metrics: an in-process snapshot (`scheduler.metrics()`) and OpenTelemetry instruments.
 *
 * The instruments use `@opentelemetry/api` only, as libraries should: they record nothing unless
 * the host installs an SDK (a global `MeterProvider`, or the scheduler's `meterProvider` option).
 */
import { createNoopMeter, metrics as otelMetrics, type Attributes, type Counter, type Histogram, type BatchObservableCallback, type Meter, type MeterProvider, type ObservableGauge, type ObservableResult } from '@opentelemetry/api';
import type { FailureReason, MissedReason, SkipReason, SyncTrigger } from './events.js';

/** Upper bounds (ms) of the lateness and duration histogram buckets; one more bucket holds the rest. */
export const HISTOGRAM_BOUNDS_MS = Object.freeze([1, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000]);

/** The same bounds in seconds, as handed to OpenTelemetry (advice) for `syncwheel.sync.*` histograms. */
const HISTOGRAM_BOUNDS_S = HISTOGRAM_BOUNDS_MS.map((ms) => ms / 1000);

/** A histogram snapshot, in milliseconds. */
export interface HistogramSnapshot {
  /** Bucket upper bounds, ms ({@link HISTOGRAM_BOUNDS_MS}). */
  readonly bounds: readonly number[];
  /** Observations per bucket: `counts[i]` ≤ `bounds[i]` (and > `bounds[i-1]`); the last counts the rest. */
  readonly counts: number[];
  count: number;
  /** Sum of all observations, ms. */
  sum: number;
  /** Smallest and largest observation, ms (null while empty). */
  min: number | null;
  max: number | null;
  /** Bucket-based estimates (upper bound of the bucket holding the quantile; the max for the last), ms. */
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

/** Counts for one queue (or the whole scheduler). */
export interface RunCounts {
  /** Runs started (executor called). */
  runs: number;
  succeeded: number;
  /** Failed runs (every reason, timeouts included). */
  failed: number;
  /** Failed runs whose reason was `timeout`. */
  timeouts: number;
  failedByReason: Record<FailureReason, number>;
  /** Due runs not made. */
  skipped: number;
  skippedByReason: Record<SkipReason, number>;
  /** Grid slots not served. */
  missed: number;
  missedByReason: Record<MissedReason, number>;
  /** Runs executing now. */
  inFlight: number;
  /** Runs waiting for a concurrency lane. */
  backlog: number;
  /** Start minus slot time of started runs, ms. */
  lateness: HistogramSnapshot;
  /** Run durations, ms. */
  duration: HistogramSnapshot;
}

/** One queue in a {@link MetricsSnapshot}. */
export interface QueueMetrics extends RunCounts {
  name: string;
  /** Most runs of this queue at once (Infinity: no bound but the scheduler's). */
  concurrency: number;
  /** Higher runs first when lanes are scarce. */
  priority: number;
  /** Paused here (by this scheduler or another replica through the storage). */
  paused: boolean;
}

/**
 * What `scheduler.metrics()` returns: counters since the scheduler was created, gauges now. The
 * fabric gauges are kept as counts (a call costs the same at 10 or 1,000,000 fabrics); they are
 * this scheduler's view: its cached records, and staleness as it has seen it (see `stale`).
 */
export interface MetricsSnapshot extends RunCounts {
  /** Epoch ms of the snapshot. */
  at: number;
  running: boolean;
  /** The whole scheduler is paused. */
  paused: boolean;
  /**
   * Fabrics this scheduler knows, by effective status (statuses with none left out). A stored
   * `in_sync` past its staleness bound counts as `out_of_sync` from the moment this scheduler
   * emits its `fabric:stale` (within the freshness bound of docs/operations.md), as in `stale`.
   */
  fabrics: Record<string, number>;
  /**
   * Enabled fabrics whose last success is past their staleness bound (`maxStaleness` or its
   * default), whatever their status: counted from their `fabric:stale` (at the fabric's next slot
   * or by the freshness sweep, at most one sweep period plus its wakes after the crossing) until a
   * success, a longer bound, disabling or removal makes them fresh (at once).
   */
  stale: number;
  /**
   * Age of the oldest last success among enabled fabrics that have one, ms (null when none has).
   * From the freshness sweep: exact while the oldest is among the 8 oldest the last completed
   * pass found (kept current since; always with at most 8 fabrics); once those have all synced
   * since, older than the truth (never younger) until the next pass completes, at most one sweep
   * period plus its wakes later.
   */
  maxStalenessMs: number | null;
  /**
   * The failure breaker (option `breaker`): `open` fabrics this scheduler knows that are behind
   * it now (gauge), `probes` runs this scheduler made while their fabric was behind it (counter).
   */
  breaker: { open: number; probes: number };
  queues: Record<string, QueueMetrics>;
}

const FAILURES: readonly FailureReason[] = ['error', 'timeout', 'aborted', 'lock-lost'];
const SKIPS: readonly SkipReason[] = ['in-flight', 'locked', 'already-claimed', 'unavailable', 'cancelled', 'paused', 'breaker'];
const MISSES: readonly MissedReason[] = ['overrun', 'downtime', 'late', 'paused', 'cleared', 'catch-up-window'];

function zeroes<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

/** A fixed-bucket histogram (O(1) memory, whatever the number of observations). */
export class BucketHistogram {
  readonly #counts = new Array<number>(HISTOGRAM_BOUNDS_MS.length + 1).fill(0);
  #count = 0;
  #sum = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = Number.NEGATIVE_INFINITY;

  observe(ms: number): void {
    const v = Math.max(0, ms);
    let i = 0;
    while (i < HISTOGRAM_BOUNDS_MS.length && v > HISTOGRAM_BOUNDS_MS[i]!) i++;
    this.#counts[i]!++;
    this.#count++;
    this.#sum += v;
    if (v < this.#min) this.#min = v;
    if (v > this.#max) this.#max = v;
  }

  snapshot(): HistogramSnapshot {
    const empty = this.#count === 0;
    return {
      bounds: HISTOGRAM_BOUNDS_MS,
      counts: [...this.#counts],
      count: this.#count,
      sum: this.#sum,
      min: empty ? null : this.#min,
      max: empty ? null : this.#max,
      p50: this.#quantile(0.5),
      p90: this.#quantile(0.9),
      p99: this.#quantile(0.99),
    };
  }

  #quantile(q: number): number | null {
    if (this.#count === 0) return null;
    const rank = Math.ceil(q * this.#count);
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return i < HISTOGRAM_BOUNDS_MS.length ? Math.min(HISTOGRAM_BOUNDS_MS[i]!, this.#max) : this.#max;
    }
    return this.#max;
  }
}

/** Counters of one queue. */
export class RunStats {
  runs = 0;
  succeeded = 0;
  failed = 0;
  readonly failedByReason = zeroes(FAILURES);
  skipped = 0;
  readonly skippedByReason = zeroes(SKIPS);
  missed = 0;
  readonly missedByReason = zeroes(MISSES);
  readonly lateness = new BucketHistogram();
  readonly duration = new BucketHistogram();

  counts(inFlight: number, backlog: number): RunCounts {
    return {
      runs: this.runs,
      succeeded: this.succeeded,
      failed: this.failed,
      timeouts: this.failedByReason.timeout,
      failedByReason: { ...this.failedByReason },
      skipped: this.skipped,
      skippedByReason: { ...this.skippedByReason },
      missed: this.missed,
      missedByReason: { ...this.missedByReason },
      inFlight,
      backlog,
      lateness: this.lateness.snapshot(),
      duration: this.duration.snapshot(),
    };
  }
}

/** Sums queue counts into scheduler-wide counts (histograms merged bucket by bucket). */
export function sumCounts(parts: RunCounts[]): RunCounts {
  const total = new RunStats().counts(0, 0);
  for (const p of parts) {
    total.runs += p.runs;
    total.succeeded += p.succeeded;
    total.failed += p.failed;
    total.timeouts += p.timeouts;
    total.skipped += p.skipped;
    total.missed += p.missed;
    total.inFlight += p.inFlight;
    total.backlog += p.backlog;
    for (const k of FAILURES) total.failedByReason[k] += p.failedByReason[k];
    for (const k of SKIPS) total.skippedByReason[k] += p.skippedByReason[k];
    for (const k of MISSES) total.missedByReason[k] += p.missedByReason[k];
    mergeHistogram(total.lateness, p.lateness);
    mergeHistogram(total.duration, p.duration);
  }
  finishQuantiles(total.lateness);
  finishQuantiles(total.duration);
  return total;
}

function mergeHistogram(into: HistogramSnapshot, from: HistogramSnapshot): void {
  from.counts.forEach((c, i) => (into.counts[i] = (into.counts[i] ?? 0) + c));
  into.count += from.count;
  into.sum += from.sum;
  if (from.min !== null) into.min = into.min === null ? from.min : Math.min(into.min, from.min);
  if (from.max !== null) into.max = into.max === null ? from.max : Math.max(into.max, from.max);
}

function finishQuantiles(h: HistogramSnapshot): void {
  const q = (p: number): number | null => {
    if (h.count === 0) return null;
    const rank = Math.ceil(p * h.count);
    let seen = 0;
    for (let i = 0; i < h.counts.length; i++) {
      seen += h.counts[i]!;
      if (seen >= rank) return i < h.bounds.length ? Math.min(h.bounds[i]!, h.max!) : h.max;
    }
    return h.max;
  };
  h.p50 = q(0.5);
  h.p90 = q(0.9);
  h.p99 = q(0.99);
}

/** The OpenTelemetry metric names syncwheel records (units in brackets). */
export const METRIC_NAMES = Object.freeze({
  /** Histogram, s: how long runs took; attributes `syncwheel.queue`, `syncwheel.outcome`. */
  duration: 'syncwheel.sync.duration',
  /** Histogram, s: start minus slot time; attributes `syncwheel.queue`, `syncwheel.trigger`. */
  lateness: 'syncwheel.sync.lateness',
  /** Counter, {run}: runs finished; attributes `syncwheel.queue`, `syncwheel.trigger`, `syncwheel.outcome` (`succeeded`|`failed`). */
  runs: 'syncwheel.sync.runs',
  /** Counter, {run}: failed runs; attributes `syncwheel.queue`, `syncwheel.reason` (`error`|`timeout`|`aborted`|`lock-lost`). */
  failures: 'syncwheel.sync.failures',
  /** Counter, {run}: due runs not made; attributes `syncwheel.queue`, `syncwheel.reason`. */
  skipped: 'syncwheel.sync.skipped',
  /** Counter, {slot}: grid slots not served; attributes `syncwheel.queue`, `syncwheel.reason`. */
  missed: 'syncwheel.sync.missed',
  /** Gauge, {run}: runs executing; attribute `syncwheel.queue`. */
  inFlight: 'syncwheel.queue.in_flight',
  /** Gauge, {run}: runs waiting for a lane; attribute `syncwheel.queue`. */
  backlog: 'syncwheel.queue.backlog',
  /** Gauge, {fabric}: fabrics known to this scheduler; attribute `syncwheel.status`. */
  fabrics: 'syncwheel.fabrics',
  /** Gauge, {fabric}: enabled fabrics past their staleness bound. */
  stale: 'syncwheel.fabrics.stale',
  /** Gauge, s: age of the oldest last success among enabled fabrics (not reported while none has one). */
  staleness: 'syncwheel.fabrics.staleness',
});

/** The observable gauges' results, handed to the scheduler's callback. */
export interface GaugeResults {
  inFlight: ObservableResult;
  backlog: ObservableResult;
  fabrics: ObservableResult;
  stale: ObservableResult;
  staleness: ObservableResult;
}

/** The API's shared no-op histogram: what every meter hands out while no SDK is installed. */
const NOOP_HISTOGRAM = createNoopMeter().createHistogram('syncwheel.noop');

/** The OpenTelemetry side: instruments created once per scheduler, no-ops without an SDK. */
export class OtelInstruments {
  readonly #duration: Histogram;
  readonly #lateness: Histogram;
  readonly #runs: Counter;
  readonly #failures: Counter;
  readonly #skipped: Counter;
  readonly #missed: Counter;
  readonly #gauges: ObservableGauge[];
  readonly #meter: Meter;
  readonly #observe: (result: GaugeResults) => void;
  #callback: BatchObservableCallback | undefined;
  /** False when no SDK is installed (the instruments are the API's no-ops): recording is skipped. */
  readonly #live: boolean;
  readonly #attrCache = new Map<string, Map<string, Map<string, Attributes>>>();

  constructor(
    provider: MeterProvider | undefined,
    version: string,
    observe: (result: GaugeResults) => void,
  ) {
    this.#meter = (provider ?? otelMetrics.getMeterProvider()).getMeter('syncwheel', version);
    const m = this.#meter;
    this.#duration = m.createHistogram(METRIC_NAMES.duration, { unit: 's', description: 'Duration of sync runs', advice: { explicitBucketBoundaries: HISTOGRAM_BOUNDS_S } });
    this.#lateness = m.createHistogram(METRIC_NAMES.lateness, { unit: 's', description: 'Start of a run minus the time of the slot it serves', advice: { explicitBucketBoundaries: HISTOGRAM_BOUNDS_S } });
    this.#runs = m.createCounter(METRIC_NAMES.runs, { unit: '{run}', description: 'Sync runs finished' });
    this.#failures = m.createCounter(METRIC_NAMES.failures, { unit: '{run}', description: 'Sync runs that failed' });
    this.#skipped = m.createCounter(METRIC_NAMES.skipped, { unit: '{run}', description: 'Due sync runs not made' });
    this.#missed = m.createCounter(METRIC_NAMES.missed, { unit: '{slot}', description: 'Grid slots not served' });
    this.#gauges = [
      m.createObservableGauge(METRIC_NAMES.inFlight, { unit: '{run}', description: 'Sync runs executing' }),
      m.createObservableGauge(METRIC_NAMES.backlog, { unit: '{run}', description: 'Sync runs waiting for a concurrency lane' }),
      m.createObservableGauge(METRIC_NAMES.fabrics, { unit: '{fabric}', description: 'Fabrics known to this scheduler, by status' }),
      m.createObservableGauge(METRIC_NAMES.stale, { unit: '{fabric}', description: 'Enabled fabrics whose last success is past their staleness bound' }),
      m.createObservableGauge(METRIC_NAMES.staleness, { unit: 's', description: 'Age of the oldest last success among enabled fabrics' }),
    ];
    this.#observe = observe;
    this.#live = this.#duration !== NOOP_HISTOGRAM;
  }

  /** Starts reporting gauges (batch callback). */
  attach(): void {
    if (this.#callback) return;
    const [inFlight, backlog, fabrics, stale, staleness] = this.#gauges as [ObservableGauge, ObservableGauge, ObservableGauge, ObservableGauge, ObservableGauge];
    this.#callback = (r) =>
      this.#observe({
        inFlight: { observe: (v: number, a?: Attributes) => r.observe(inFlight, v, a) },
        backlog: { observe: (v: number, a?: Attributes) => r.observe(backlog, v, a) },
        fabrics: { observe: (v: number, a?: Attributes) => r.observe(fabrics, v, a) },
        stale: { observe: (v: number, a?: Attributes) => r.observe(stale, v, a) },
        staleness: { observe: (v: number, a?: Attributes) => r.observe(staleness, v, a) },
      });
    this.#meter.addBatchObservableCallback(this.#callback, this.#gauges);
  }

  /** Stops reporting gauges. */
  detach(): void {
    if (this.#callback) this.#meter.removeBatchObservableCallback(this.#callback, this.#gauges);
    this.#callback = undefined;
  }

  started(queue: string, trigger: SyncTrigger, latenessMs: number): void {
    if (!this.#live) return;
    this.#lateness.record(Math.max(0, latenessMs) / 1000, this.#attrs('l', queue, trigger, () => ({ 'syncwheel.queue': queue, 'syncwheel.trigger': trigger })));
  }

  finished(queue: string, trigger: SyncTrigger, durationMs: number, failure: FailureReason | null): void {
    if (!this.#live) return;
    const outcome = failure === null ? 'succeeded' : 'failed';
    this.#duration.record(Math.max(0, durationMs) / 1000, this.#attrs('d', queue, outcome, () => ({ 'syncwheel.queue': queue, 'syncwheel.outcome': outcome })));
    this.#runs.add(1, this.#attrs(outcome, queue, trigger, () => ({ 'syncwheel.queue': queue, 'syncwheel.trigger': trigger, 'syncwheel.outcome': outcome })));
    if (failure !== null) this.#failures.add(1, this.#attrs('f', queue, failure, () => ({ 'syncwheel.queue': queue, 'syncwheel.reason': failure })));
  }

  /**
   * Attribute sets are few (queues × triggers or reasons) and the SDK only reads them: each is
   * built once and shared, so recording a run allocates nothing.
   */
  #attrs(kind: string, queue: string, value: string, build: () => Attributes): Attributes {
    let byQueue = this.#attrCache.get(kind);
    if (!byQueue) this.#attrCache.set(kind, (byQueue = new Map()));
    let byValue = byQueue.get(queue);
    if (!byValue) byQueue.set(queue, (byValue = new Map()));
    let attrs = byValue.get(value);
    if (!attrs) byValue.set(value, (attrs = Object.freeze(build())));
    return attrs;
  }

  skipped(queue: string, reason: SkipReason): void {
    if (this.#live) this.#skipped.add(1, this.#attrs('s', queue, reason, () => ({ 'syncwheel.queue': queue, 'syncwheel.reason': reason })));
  }

  missed(queue: string, reason: MissedReason, count: number): void {
    if (this.#live) this.#missed.add(count, this.#attrs('m', queue, reason, () => ({ 'syncwheel.queue': queue, 'syncwheel.reason': reason })));
  }
}
