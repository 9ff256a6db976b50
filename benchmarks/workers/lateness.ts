/**
 * One lateness run in its own process: N jobs of one contender at one interval, with or without
 * the synthetic CPU hog. Writes a JSON result to argv[3].
 *
 * Timeline: T0 = next whole second (+ a second of slack); job i's first fire is due at
 * T0 + offset_i (stagger 'spread': offset_i = floor(i * interval / N); 'aligned': 0). The
 * measurement window [W0, W1) opens once every job has been added and made its first fire
 * (W0 = max(T0 + interval, adds done) + 500 ms) and lasts `measureMs`. Fires are counted when the
 * slot they serve lies in the window; the run goes on `graceMs` after W1 so late fires still count.
 *
 * Lateness = actual start − slot. Slot: syncwheel reports it (`ctx.scheduledAt`); for peers the
 * slot is placed on the job's grid start_i + k * interval, with k = max(next unserved k,
 * floor((t − start_i) / interval)): an early fire serves the next slot (negative lateness), a fire
 * later than a whole interval serves the latest slot due and the skipped ones count as not kept
 * (the same rule as syncwheel's default missedRunPolicy 'once').
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { makeContender, type ContenderName } from '../lib/contenders.js';
import { LatenessHistogram, Probe, round, sleep, startHog } from '../lib/measure.js';

export interface LatenessParams {
  contender: ContenderName;
  n: number;
  intervalMs: number;
  loadPct: number;
  stagger: 'spread' | 'aligned';
  measureMs: number;
  graceMs: number;
  tag: string;
  /** Time between the contender being created and T0 (room for a long setup), ms. @default 1500 */
  slackMs?: number;
}

const params = JSON.parse(process.argv[2]!) as LatenessParams;
const out = process.argv[3]!;
const { n, intervalMs: I } = params;

const probe = new Probe();
probe.sampleRss(100);
const hist = new LatenessHistogram();
const start = new Float64Array(n).fill(Number.NaN);
const nextK = new Int32Array(n);
const lastSlot = new Float64Array(n).fill(Number.NEGATIVE_INFINITY);
let W0 = Number.POSITIVE_INFINITY;
let W1 = Number.POSITIVE_INFINITY;
let firesTotal = 0;
let duplicates = 0;
let firstHalf = { sum: 0, n: 0 };
let secondHalf = { sum: 0, n: 0 };
let firstFires = 0;
/** Slots a contender reported that are not on its own grid anchor + k * interval (drift). */
let offGrid = 0;

function record(slot: number, t: number): void {
  if (slot < W0 || slot >= W1) return;
  if (t > W1 + params.graceMs) return; // started after the grace period: not kept (even if our own timers ran late)
  const late = t - slot;
  hist.add(late);
  const half = slot < (W0 + W1) / 2 ? firstHalf : secondHalf;
  half.sum += late;
  half.n++;
}

const fire = (i: number, slot?: number): void => {
  const t = Date.now();
  firesTotal++;
  if (slot !== undefined) {
    // the contender says which slot it serves
    if (Number.isNaN(start[i]!)) {
      start[i] = slot;
      firstFires++;
    }
    if (slot <= lastSlot[i]!) {
      duplicates++;
      return;
    }
    // after its second run a fabric's slots must stay on one grid: slot - previous slot = k * interval
    // (the first run may re-anchor the grid where it really started)
    if (nextK[i]! >= 1 && (slot - lastSlot[i]!) % I !== 0) offGrid++;
    nextK[i]!++;
    lastSlot[i] = slot;
    record(slot, t);
    return;
  }
  const s = start[i]!;
  if (Number.isNaN(s)) return; // not added yet (cannot happen)
  const kt = Math.floor((t - s) / I);
  if (kt < nextK[i]! - 1) {
    duplicates++; // more than a whole interval early: a second fire for a slot already served
    return;
  }
  if (nextK[i] === 0) firstFires++;
  const k = Math.max(nextK[i]!, kt);
  nextK[i] = k + 1;
  record(s + k * I, t);
};

/** Number of k >= 0 with a <= s + k*I < b. */
function slotsIn(s: number, a: number, b: number): number {
  const first = Math.max(0, Math.ceil((a - s) / I));
  const end = Math.max(0, Math.ceil((b - s) / I));
  return Math.max(0, end - first);
}

async function main() {
  const setup0 = performance.now();
  const contender = await makeContender(params.contender, { n, intervalMs: I, fire, tag: params.tag });
  const T0 = Math.ceil((Date.now() + (params.slackMs ?? 1500)) / 1000) * 1000;
  const offset = (i: number) => (params.stagger === 'spread' ? Math.floor((i * I) / n) : 0);
  const firstAt = (i: number) => (contender.gridStart === 'cron' ? Math.floor((T0 + offset(i)) / 1000) * 1000 : T0 + offset(i));
  const hog = startHog(params.loadPct);
  let addMs = 0;
  if (contender.gridStart === 'created') {
    // add each job at its own start time, in groups per millisecond of offset
    const groups = new Map<number, number[]>();
    for (let i = 0; i < n; i++) {
      const at = firstAt(i);
      let g = groups.get(at);
      if (!g) groups.set(at, (g = []));
      g.push(i);
    }
    await sleep(T0 - Date.now());
    const adds: Promise<void>[] = [];
    for (const [at, ids] of groups) {
      adds.push(
        new Promise<void>((resolve, reject) => {
          setTimeout(() => {
            const t = Date.now();
            if (!params.contender.startsWith('syncwheel')) for (const i of ids) start[i] = t; // syncwheel reports its anchor (first ctx.scheduledAt)
            const a0 = performance.now();
            Promise.resolve(contender.add(ids, firstAt)).then(() => {
              addMs += performance.now() - a0;
              resolve();
            }, reject);
          }, at - Date.now());
        }),
      );
    }
    await Promise.all(adds);
  } else {
    if (!params.contender.startsWith('syncwheel')) for (let i = 0; i < n; i++) start[i] = firstAt(i);
    const a0 = performance.now();
    const all = Array.from({ length: n }, (_, i) => i);
    await contender.add(all, firstAt);
    addMs = performance.now() - a0;
  }
  const addsDone = Date.now();
  if (params.contender.startsWith('syncwheel')) {
    // wait for every fabric's first run (its anchor)
    while (firstFires < n && Date.now() < T0 + I + 30_000) await sleep(20);
    for (let i = 0; i < n; i++) if (Number.isNaN(start[i]!)) start[i] = addsDone;
  }
  W0 = Math.max(T0 + I, Date.now()) + 500;
  W1 = W0 + params.measureMs;
  await sleep(W0 - Date.now());
  const openLag = Date.now() - W0;
  probe.begin();
  const hogBefore = hog.burnedMs();
  await sleep(W1 - Date.now());
  const res = probe.end();
  const closeLag = Date.now() - W1;
  const hogMs = hog.burnedMs() - hogBefore;
  await sleep(params.graceMs);
  hog.stop();
  await contender.stop();
  let expected = 0;
  for (let i = 0; i < n; i++) expected += slotsIn(start[i]!, W0, W1);
  const lat = hist.summary();
  const result = {
    params,
    /** How late the harness's own timers opened and closed the window (a contender that starves the process's timers shows here). */
    harnessTimerLagMs: { open: openLag, close: closeLag },
    setup: { addMs: round(addMs, 0), addsDoneAfterT0Ms: addsDone - T0, setupMs: round(performance.now() - setup0, 0) },
    lateness: lat,
    distribution: hist.buckets(),
    fires: { kept: lat.count, expected, keptPct: expected ? round((100 * lat.count) / expected, 2) : null, duplicates, totalSeen: firesTotal },
    offGridSlots: offGrid,
    driftMs: firstHalf.n && secondHalf.n ? round(secondHalf.sum / secondHalf.n - firstHalf.sum / firstHalf.n, 2) : null,
    cpu: {
      totalMs: res.cpuMs,
      hogMs: round(hogMs, 0),
      /** CPU of the scheduler + harness, hog excluded, per second of window. */
      perSecondMs: round((res.cpuMs - hogMs) / (res.wallMs / 1000), 1),
      wallMs: res.wallMs,
      windowMs: round(res.cpuMs - hogMs, 0),
    },
    memory: { peakRssMB: res.peakRssMB, maxRssLifetimeMB: res.maxRssLifetimeMB, baselineRssMB: res.baselineRssMB, heapUsedMB: res.heapUsedMB },
    eventLoopDelayMs: res.eventLoopDelay,
    extra: contender.extra?.() ?? {},
  };
  writeFileSync(out, JSON.stringify(result));
  process.exit(0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
