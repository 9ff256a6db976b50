import { MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { METRIC_NAMES, createScheduler } from '../../src/index.js';
import { createFakeClock } from '../../src/testing.js';
import { T0, makeHarness, sleepOn } from '../helpers/harness.js';

class TestReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

function find(rm: ResourceMetrics, name: string) {
  for (const sm of rm.scopeMetrics) for (const m of sm.metrics) if (m.descriptor.name === name) return m;
  return undefined;
}

describe('metrics', () => {
  it('metrics() counts runs, outcomes, timeouts, skips and missed slots, per queue and in total', async () => {
    let n = 0;
    const h = makeHarness({
      queues: { git: { concurrency: 1 } },
      behaviour: async (f, _ctx, clock) => {
        if (f.id === 'slow') return sleepOn(clock, 2_500); // overruns its 1 s interval
        if (f.id === 'hang') return new Promise(() => {});
        await sleepOn(clock, 100);
        if (f.id === 'flaky' && n++ % 2 === 0) throw new Error('503');
      },
    });
    await h.scheduler.upsertFabric({ id: 'slow', syncInterval: 1_000 });
    await h.scheduler.upsertFabric({ id: 'hang', syncInterval: 10_000, syncTimeout: 2_000, queue: 'git' });
    await h.scheduler.upsertFabric({ id: 'flaky', syncInterval: 1_000 });
    await h.scheduler.start();
    await h.clock.tickAsync(10_000 - 1);
    const m = h.scheduler.metrics();
    expect(m.at).toBe(T0 + 9_999);
    expect(m.running).toBe(true);
    const started = h.eventsOf('sync:started');
    const failed = h.eventsOf('sync:failed');
    expect(m.runs).toBe(started.length);
    expect(m.succeeded).toBe(h.eventsOf('sync:succeeded').length);
    expect(m.failed).toBe(failed.length);
    expect(m.timeouts).toBe(failed.filter((e) => e.reason === 'timeout').length);
    expect(m.timeouts).toBe(1);
    expect(m.failedByReason.error).toBe(5);
    expect(m.missed).toBe(h.eventsOf('sync:missed').reduce((a, e) => a + e.count, 0));
    expect(m.missedByReason.overrun).toBeGreaterThan(0);
    expect(m.queues['git']).toMatchObject({ runs: 1, failed: 1, timeouts: 1, succeeded: 0, inFlight: 0, backlog: 0 });
    expect(m.queues['default']!.runs).toBe(m.runs - 1);
    expect(m.duration.count).toBe(m.succeeded + m.failed);
    expect(m.duration.max).toBe(2_500);
    expect(m.lateness.count).toBe(m.runs);
    expect(m.lateness.max).toBe(0); // nothing waited: every run started on its slot
    expect(m.fabrics['syncing']).toBe(1); // slow, in its 4th overrunning run
    expect(Object.values(m.fabrics).reduce((a, b) => a + b, 0)).toBe(3);
    await h.stop();
  });

  it('a backlog shows up as lateness in the histogram', async () => {
    const h = makeHarness({ maxConcurrentSyncs: 1, behaviour: (_f, _c, clock) => sleepOn(clock, 1_000) });
    for (const id of ['a', 'b', 'c']) await h.scheduler.upsertFabric({ id, syncInterval: 60_000 });
    await h.scheduler.start();
    await h.clock.tickAsync(3_000);
    const l = h.scheduler.metrics().lateness;
    expect(l).toMatchObject({ count: 3, min: 0, max: 2_000, sum: 3_000, p50: 1_000, p99: 2_000 });
    expect(l.counts.reduce((a, b) => a + b, 0)).toBe(3);
    await h.stop();
  });

  it('records OpenTelemetry instruments with conventional names and units when the host installs an SDK', async () => {
    const reader = new TestReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const clock = createFakeClock({ now: T0 });
    let fail = false;
    const s = createScheduler({
      clock,
      meterProvider,
      retry: false,
      queues: { git: {} },
      executor: async () => {
        await new Promise<void>((r) => clock.setTimeout(() => r(), 250));
        if (fail) throw new Error('x');
      },
    });
    await s.upsertFabric({ id: 'a', syncInterval: 1_000, queue: 'git' });
    await s.start();
    await clock.tickAsync(1_500);
    fail = true;
    await clock.tickAsync(1_000);
    const { resourceMetrics, errors } = await reader.collect();
    expect(errors).toEqual([]);
    const duration = find(resourceMetrics, METRIC_NAMES.duration)!;
    expect(duration.descriptor.unit).toBe('s');
    expect(duration.dataPoints).toHaveLength(2);
    const ok = duration.dataPoints.find((p) => p.attributes['syncwheel.outcome'] === 'succeeded')!;
    expect(ok.attributes['syncwheel.queue']).toBe('git');
    expect((ok.value as { sum: number; count: number }).count).toBe(2);
    expect((ok.value as { sum: number }).sum).toBeCloseTo(0.5);
    const runs = find(resourceMetrics, METRIC_NAMES.runs)!;
    expect(runs.descriptor.unit).toBe('{run}');
    expect(runs.dataPoints.map((p) => [p.attributes['syncwheel.outcome'], p.value]).sort()).toEqual([['failed', 1], ['succeeded', 2]]);
    const failures = find(resourceMetrics, METRIC_NAMES.failures)!;
    expect(failures.dataPoints[0]).toMatchObject({ attributes: { 'syncwheel.queue': 'git', 'syncwheel.reason': 'error' }, value: 1 });
    expect(find(resourceMetrics, METRIC_NAMES.lateness)!.descriptor.unit).toBe('s');
    const fabrics = find(resourceMetrics, METRIC_NAMES.fabrics)!;
    expect(fabrics.dataPoints[0]).toMatchObject({ attributes: { 'syncwheel.status': 'error' }, value: 1 });
    const inFlight = find(resourceMetrics, METRIC_NAMES.inFlight)!;
    expect(inFlight.dataPoints.map((p) => p.attributes['syncwheel.queue']).sort()).toEqual(['default', 'git']);
    // last success ended at 1,250 ms, collected at 2,500 ms: 1.25 s old, within its 2 s bound
    expect(find(resourceMetrics, METRIC_NAMES.staleness)!).toMatchObject({ descriptor: { unit: 's' }, dataPoints: [{ value: 1.25 }] });
    expect(find(resourceMetrics, METRIC_NAMES.stale)!.dataPoints[0]).toMatchObject({ value: 0 });
    expect(s.metrics()).toMatchObject({ stale: 0, maxStalenessMs: 1_250 });
    await s.stop();
    await meterProvider.shutdown();
  });

  it('costs nothing and records nothing without an SDK (the API is a no-op)', async () => {
    const h = makeHarness({ behaviour: () => undefined });
    await h.scheduler.upsertFabric({ id: 'a', syncInterval: 1_000 });
    await h.scheduler.start();
    await h.clock.tickAsync(5_000);
    expect(h.scheduler.metrics().runs).toBe(6);
    await h.stop();
  });
});
