/**
 * Run metrics, fed by direct calls from the run lifecycle (not through the event emitter, so an
 * event nobody listens to costs nothing): per-queue counters and histograms for `metrics()`,
 * and the OpenTelemetry instruments.
 */
import type { MeterProvider } from '@opentelemetry/api';
import type { FailureReason, MissedReason, SkipReason, SyncTrigger } from '../events.js';
import { OtelInstruments, RunStats, sumCounts, type MetricsSnapshot, type QueueMetrics } from '../metrics.js';
import type { FabricGaugeValues } from './gauges.js';

/** The package version reported to OpenTelemetry. */
export const VERSION = '0.1.0';

/** What the metrics need to know of a queue. */
export interface QueueGauge {
  readonly name: string;
  readonly concurrency: number;
  readonly priority: number;
  readonly stats: RunStats;
  readonly inFlight: number;
  readonly backlogSize: number;
}

/** Gauges read when a snapshot or an OpenTelemetry collection asks for them: O(queues + statuses), whatever the number of fabrics. */
export interface GaugeSource {
  queues(): Iterable<QueueGauge>;
  /** The fabric gauges now (kept as counts, see gauges.ts). */
  fabrics(): FabricGaugeValues;
  isQueuePaused(name: string): boolean;
}

export class RunMetrics {
  readonly #otel: OtelInstruments;
  readonly #gauges: GaugeSource;
  /** Runs made while their fabric was behind the failure breaker. */
  #probes = 0;

  constructor(provider: MeterProvider | undefined, gauges: GaugeSource) {
    this.#gauges = gauges;
    this.#otel = new OtelInstruments(provider, VERSION, (r) => {
      for (const q of gauges.queues()) {
        r.inFlight.observe(q.inFlight, { 'syncwheel.queue': q.name });
        r.backlog.observe(q.backlogSize, { 'syncwheel.queue': q.name });
      }
      const fresh = gauges.fabrics();
      for (const [status, n] of Object.entries(fresh.fabrics)) r.fabrics.observe(n, { 'syncwheel.status': status });
      r.stale.observe(fresh.stale);
      if (fresh.maxStalenessMs !== null) r.staleness.observe(fresh.maxStalenessMs / 1000);
    });
  }

  /** Gauges are reported while the scheduler runs. */
  attach(): void {
    this.#otel.attach();
  }

  detach(): void {
    this.#otel.detach();
  }

  started(q: QueueGauge, trigger: SyncTrigger, lateness: number): void {
    q.stats.runs++;
    q.stats.lateness.observe(lateness);
    this.#otel.started(q.name, trigger, lateness);
  }

  finished(q: QueueGauge, trigger: SyncTrigger, durationMs: number, failure: FailureReason | null): void {
    const st = q.stats;
    if (failure === null) st.succeeded++;
    else {
      st.failed++;
      st.failedByReason[failure]++;
    }
    st.duration.observe(durationMs);
    this.#otel.finished(q.name, trigger, durationMs, failure);
  }

  breakerProbe(): void {
    this.#probes++;
  }

  skipped(q: QueueGauge, reason: SkipReason): void {
    q.stats.skipped++;
    q.stats.skippedByReason[reason]++;
    this.#otel.skipped(q.name, reason);
  }

  missed(q: QueueGauge, reason: MissedReason, count: number): void {
    q.stats.missed += count;
    q.stats.missedByReason[reason] += count;
    this.#otel.missed(q.name, reason, count);
  }

  snapshot(at: number, running: boolean, paused: boolean): MetricsSnapshot {
    const queues: Record<string, QueueMetrics> = {};
    for (const q of this.#gauges.queues()) {
      queues[q.name] = { name: q.name, concurrency: q.concurrency, priority: q.priority, paused: this.#gauges.isQueuePaused(q.name), ...q.stats.counts(q.inFlight, q.backlogSize) };
    }
    const f = this.#gauges.fabrics();
    return { at, running, paused, fabrics: f.fabrics, stale: f.stale, maxStalenessMs: f.maxStalenessMs, breaker: { open: f.open, probes: this.#probes }, ...sumCounts(Object.values(queues)), queues };
  }
}
