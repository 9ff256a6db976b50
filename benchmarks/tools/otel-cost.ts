/**
 * What OpenTelemetry costs per run: the scheduler's run instruments (a lateness record when a run
 * starts; a duration record and a run count when it ends) recorded N times with no SDK installed
 * (the API's no-ops: skipped) and with the SDK's MeterProvider and a reader. CPU per run, best of 5.
 *
 *   node --import tsx benchmarks/tools/otel-cost.ts [N]
 */
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { OtelInstruments } from '../../src/metrics.js';

const n = Number(process.argv[2] ?? 1_000_000);
const observe = () => undefined;
function cpuUs(fn: () => void): number {
  const c0 = process.cpuUsage();
  fn();
  const c = process.cpuUsage(c0);
  return c.user + c.system;
}
function perRun(instruments: OtelInstruments): number {
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < 5; r++) {
    const us = cpuUs(() => {
      for (let i = 0; i < n; i++) {
        instruments.started('default', 'schedule', i % 50);
        instruments.finished('default', 'schedule', i % 20, null);
      }
    });
    best = Math.min(best, us / n);
  }
  return best;
}
const none = new OtelInstruments(undefined, '0', observe);
const reader = new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE), exportIntervalMillis: 3_600_000 });
const sdk = new OtelInstruments(new MeterProvider({ readers: [reader] }), '0', observe);
console.log(`no SDK: ${(perRun(none) * 1000).toFixed(0)} ns per run; SDK MeterProvider: ${(perRun(sdk) * 1000).toFixed(0)} ns per run (N = ${n}, best of 5)`);
await reader.shutdown();
