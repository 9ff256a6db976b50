/**
 * Measurement helpers shared by the benchmark workers: a 1 ms lateness histogram (exact
 * percentiles at 1 ms resolution, constant memory), the synthetic CPU hog, and a probe for CPU
 * time, RSS and event-loop delay over a measurement window.
 */
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';

/** Lateness histogram with 1 ms bins from `min` to `max` ms; values outside are clamped (min/max kept exactly). */
export class LatenessHistogram {
  readonly #bins: Uint32Array;
  readonly #min: number;
  count = 0;
  sum = 0;
  lo = Number.POSITIVE_INFINITY;
  hi = Number.NEGATIVE_INFINITY;

  constructor(min = -5_000, max = 125_000) {
    this.#min = min;
    this.#bins = new Uint32Array(max - min + 1);
  }

  add(ms: number): void {
    const v = Math.round(ms);
    this.count++;
    this.sum += ms;
    if (ms < this.lo) this.lo = ms;
    if (ms > this.hi) this.hi = ms;
    const i = Math.min(Math.max(v - this.#min, 0), this.#bins.length - 1);
    this.#bins[i]!++;
  }

  /** Value at quantile q (0..1), ms. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const target = Math.max(1, Math.ceil(q * this.count));
    let acc = 0;
    for (let i = 0; i < this.#bins.length; i++) {
      acc += this.#bins[i]!;
      if (acc >= target) return i + this.#min;
    }
    return this.hi;
  }

  /** Sparse distribution [[ms, count], ...] for charts. */
  buckets(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = 0; i < this.#bins.length; i++) if (this.#bins[i]! > 0) out.push([i + this.#min, this.#bins[i]!]);
    return out;
  }

  summary() {
    return {
      count: this.count,
      mean: this.count ? round(this.sum / this.count, 2) : null,
      p50: this.count ? this.quantile(0.5) : null,
      p90: this.count ? this.quantile(0.9) : null,
      p99: this.count ? this.quantile(0.99) : null,
      p999: this.count ? this.quantile(0.999) : null,
      min: this.count ? this.lo : null,
      max: this.count ? this.hi : null,
    };
  }
}

export function round(v: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/**
 * Synthetic event-loop load: busy-loops `busyMs` of every `periodMs` (25 of 100 = 25 % load).
 * Returns a stop function and a getter for the CPU it burned (ms), so it can be subtracted.
 */
export function startHog(loadPct: number, periodMs = 100): { stop(): void; burnedMs(): number } {
  if (loadPct <= 0) return { stop() {}, burnedMs: () => 0 };
  const busyMs = (periodMs * loadPct) / 100;
  let burned = 0;
  const t = setInterval(() => {
    // busy for busyMs of wall time; what it cost is read as process CPU (wall over-counts when descheduled)
    const c0 = process.cpuUsage();
    const end = performance.now() + busyMs;
    while (performance.now() < end);
    const c = process.cpuUsage(c0);
    burned += (c.user + c.system) / 1000;
  }, periodMs);
  return { stop: () => clearInterval(t), burnedMs: () => burned };
}

/** CPU (user+sys), RSS and event-loop delay over a window opened by begin() and closed by end(). */
export class Probe {
  #cpu0: NodeJS.CpuUsage | undefined;
  #t0 = 0;
  #eld: IntervalHistogram | undefined;
  #rssTimer: NodeJS.Timeout | undefined;
  peakRssWindow = 0;
  baselineRss = process.memoryUsage().rss;

  /** Samples RSS every `ms` from now on (peak over the run). */
  sampleRss(ms = 100): void {
    const sample = () => {
      const rss = process.memoryUsage.rss();
      if (rss > this.peakRssWindow) this.peakRssWindow = rss;
    };
    sample();
    this.#rssTimer = setInterval(sample, ms);
    this.#rssTimer.unref();
  }

  begin(): void {
    this.#cpu0 = process.cpuUsage();
    this.#t0 = performance.now();
    this.#eld = monitorEventLoopDelay({ resolution: 10 });
    this.#eld.enable();
  }

  end() {
    const cpu = process.cpuUsage(this.#cpu0);
    const wallMs = performance.now() - this.#t0;
    const eld = this.#eld!;
    eld.disable();
    if (this.#rssTimer) clearInterval(this.#rssTimer);
    const rssNow = process.memoryUsage.rss();
    if (rssNow > this.peakRssWindow) this.peakRssWindow = rssNow;
    const ns = (v: number) => round(v / 1e6, 1);
    return {
      wallMs: round(wallMs, 0),
      cpuUserMs: round(cpu.user / 1000, 0),
      cpuSystemMs: round(cpu.system / 1000, 0),
      cpuMs: round((cpu.user + cpu.system) / 1000, 0),
      eventLoopDelay: { p50: ns(eld.percentile(50)), p99: ns(eld.percentile(99)), max: ns(eld.max) },
      peakRssMB: round(this.peakRssWindow / 2 ** 20, 1),
      maxRssLifetimeMB: round(process.resourceUsage().maxRSS / 1024, 1),
      baselineRssMB: round(this.baselineRss / 2 ** 20, 1),
      heapUsedMB: round(process.memoryUsage().heapUsed / 2 ** 20, 1),
    };
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
