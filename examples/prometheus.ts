/**
 * syncwheel metrics on a Prometheus scrape endpoint.
 *
 *   npx tsx examples/prometheus.ts                 # runs ~6 s, prints a scrape, exits 0
 *   npx tsx examples/prometheus.ts --hold          # keeps serving until Ctrl-C
 *
 * syncwheel records its metrics with `@opentelemetry/api` only. The host decides where they go:
 * here an OpenTelemetry SDK MeterProvider with the Prometheus exporter (dev dependencies of this
 * repository: `npm i @opentelemetry/sdk-metrics @opentelemetry/exporter-prometheus` in your
 * service). Pass it as `meterProvider`, or register it globally with `metrics.setGlobalMeterProvider`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { createScheduler } from '../src/index.js';

const { values } = parseArgs({ options: { hold: { type: 'boolean', default: false } }, allowPositionals: true });

// The exporter is a MetricReader; preventServerStart lets us serve it on our own server.
const exporter = new PrometheusExporter({ preventServerStart: true });
const meterProvider = new MeterProvider({ readers: [exporter] });

const scheduler = createScheduler({
  meterProvider,
  queues: { git: { concurrency: 1 }, fabric: { concurrency: 4, priority: 10 } },
  retry: { initialDelay: 200, maxDelay: 1_000 },
  executor: async (fabric) => {
    await new Promise((r) => setTimeout(r, fabric.queue === 'git' ? 400 : 50));
    if (fabric.id === 'dc2' && Math.random() < 0.5) throw new Error('controller returned 503');
  },
});
for (const id of ['dc1', 'dc2', 'dc3']) await scheduler.upsertFabric({ id, syncInterval: 1_000, queue: 'fabric' });
for (const id of ['repo-a', 'repo-b']) await scheduler.upsertFabric({ id, syncInterval: 2_000, queue: 'git' });
await scheduler.start();

const server = createServer((req, res) => {
  if (req.url === '/metrics') return exporter.getMetricsRequestHandler(req, res);
  res.writeHead(404).end();
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
console.log(`Prometheus scrape endpoint: ${url}`);

await new Promise((r) => setTimeout(r, 5_000));
const text = await (await fetch(url)).text();
console.log(text.split('\n').filter((l) => l.startsWith('syncwheel_') && !l.includes('_bucket{')).join('\n'));
if (values.hold) {
  console.log(`\n--hold: still serving ${url} until Ctrl-C`);
  await new Promise((resolve) => process.once('SIGINT', resolve));
}
await scheduler.stop();
server.close();
await meterProvider.shutdown();
