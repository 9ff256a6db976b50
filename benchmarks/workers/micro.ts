/**
 * Scenario 3: timing-wheel microbenchmarks. For each size N (10^3 … 10^6) and each structure —
 * syncwheel's TimingWheel (on a hand-driven clock), a binary heap, and one Node timer per entry —
 * measures insert, cancel and expire throughput (entries per second of CPU) and retained heap
 * bytes per entry. Due times are spread uniformly over 60 s (a 60 s sync interval).
 * Run with --expose-gc. Writes JSON to argv[3].
 */
import { writeFileSync } from 'node:fs';
import { TimingWheel, type WheelEntry } from '../../src/index.js';
import { TimerHeap } from '../lib/heap.js';
import { TimingWheel as HierarchicalWheel } from '../lib/hierarchical-wheel.js';
import { ManualClock } from '../lib/manual-clock.js';
import { round } from '../lib/measure.js';

const { sizes, repeat = 5 } = JSON.parse(process.argv[2]!) as { sizes: number[]; repeat?: number };
const out = process.argv[3]!;
const SPAN = 60_000;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

function cpuMs(fn: () => void): number {
  const c0 = process.cpuUsage();
  fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}
async function cpuMsAsync(fn: () => Promise<void>): Promise<number> {
  const c0 = process.cpuUsage();
  await fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}
function heapBytes(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}
/** Deterministic pseudo-random due offsets in [1, SPAN]. */
function offsets(n: number): Float64Array {
  const a = new Float64Array(n);
  let x = 88172645463325252n;
  for (let i = 0; i < n; i++) {
    x ^= x << 13n;
    x &= 0xffffffffffffffffn;
    x ^= x >> 7n;
    x ^= x << 17n;
    x &= 0xffffffffffffffffn;
    a[i] = 1 + Number(x % BigInt(SPAN));
  }
  return a;
}
const perSec = (n: number, ms: number) => Math.round(n / (ms / 1000));

interface Row {
  structure: string;
  n: number;
  insertPerSec: number;
  cancelPerSec: number;
  expirePerSec: number;
  bytesPerEntry: number;
  wakes?: number;
}

type WheelLike = { schedule(item: number, dueAt: number): WheelEntry<number>; cancel(e: WheelEntry<number>): boolean };
type WheelCtor = new (o: { clock: ManualClock; onExpire: (items: number[]) => void }) => WheelLike;

function wheelRow(n: number, offs: Float64Array, Wheel: WheelCtor = TimingWheel, structure = 'TimingWheel'): Row {
  // insert + cancel
  let clock = new ManualClock();
  let fired = 0;
  let wheel = new Wheel({ clock, onExpire: (items) => (fired += items.length) });
  const entries: WheelEntry<number>[] = new Array(n);
  const h0 = heapBytes();
  const insMs = cpuMs(() => {
    for (let i = 0; i < n; i++) entries[i] = wheel.schedule(i, clock.t + offs[i]!);
  });
  const bytes = (heapBytes() - h0) / n;
  const canMs = cpuMs(() => {
    for (let i = 0; i < n; i++) wheel.cancel(entries[i]!);
  });
  entries.length = 0;
  // expire: schedule again, then let the clock jump from wake to wake until empty
  clock = new ManualClock();
  wheel = new Wheel({ clock, onExpire: (items) => (fired += items.length) });
  for (let i = 0; i < n; i++) wheel.schedule(i, clock.t + offs[i]!);
  fired = 0;
  let wakes = 0;
  const expMs = cpuMs(() => {
    while (clock.runNext()) wakes++;
  });
  if (fired !== n) throw new Error(`wheel fired ${fired} of ${n}`);
  return { structure, n, insertPerSec: perSec(n, insMs), cancelPerSec: perSec(n, canMs), expirePerSec: perSec(n, expMs), bytesPerEntry: round(bytes, 0), wakes };
}

function heapRow(n: number, offs: Float64Array): Row {
  const t0 = 1_700_000_000_000;
  let heap = new TimerHeap<number>();
  const entries: ReturnType<TimerHeap<number>['schedule']>[] = new Array(n);
  const h0 = heapBytes();
  const insMs = cpuMs(() => {
    for (let i = 0; i < n; i++) entries[i] = heap.schedule(i, t0 + offs[i]!);
  });
  const bytes = (heapBytes() - h0) / n;
  // cancel in insertion order (arbitrary positions in the heap)
  const canMs = cpuMs(() => {
    for (let i = 0; i < n; i++) heap.cancel(entries[i]!);
  });
  entries.length = 0;
  heap = new TimerHeap<number>();
  for (let i = 0; i < n; i++) heap.schedule(i, t0 + offs[i]!);
  let fired = 0;
  const due: number[] = [];
  // Like a timer queue built on the heap would run: ONE clock timer armed for the head, each wake
  // pops what is due and re-arms (the same hand-driven clock as the wheel's).
  const clock = new ManualClock(t0);
  const wake = (): void => {
    heap.popDue(clock.t, due);
    fired += due.length;
    due.length = 0;
    const next = heap.peek();
    if (next !== undefined) clock.setTimeout(wake, next - clock.t);
  };
  clock.setTimeout(wake, heap.peek()! - clock.t);
  const expMs = cpuMs(() => {
    while (clock.runNext());
  });
  if (fired !== n) throw new Error(`heap fired ${fired} of ${n}`);
  return { structure: 'binary heap', n, insertPerSec: perSec(n, insMs), cancelPerSec: perSec(n, canMs), expirePerSec: perSec(n, expMs), bytesPerEntry: round(bytes, 0) };
}

async function timersRow(n: number, offs: Float64Array): Promise<Row> {
  const timers: NodeJS.Timeout[] = new Array(n);
  const noop = () => {};
  const h0 = heapBytes();
  const insMs = cpuMs(() => {
    for (let i = 0; i < n; i++) timers[i] = setTimeout(noop, offs[i]!);
  });
  const bytes = (heapBytes() - h0) / n;
  const canMs = cpuMs(() => {
    for (let i = 0; i < n; i++) clearTimeout(timers[i]);
  });
  timers.length = 0;
  // expire: real timers due within 200 ms (Node's timer lists are per distinct duration); CPU per fire
  let fired = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const fire = () => {
    if (++fired === n) done();
  };
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) setTimeout(fire, 1 + (offs[i]! % 200));
  const armMs = (() => {
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1000;
  })();
  const totalMs = await cpuMsAsync(() => all);
  const expMs = Math.max(totalMs, 0.001);
  void armMs;
  return { structure: 'setTimeout per entry', n, insertPerSec: perSec(n, insMs), cancelPerSec: perSec(n, canMs), expirePerSec: perSec(n, expMs), bytesPerEntry: round(bytes, 0) };
}

/** Best of several measurements of one structure, with how many were taken. */
function best(list: Row[]): Row & { repeats: number } {
  const max = (k: 'insertPerSec' | 'cancelPerSec' | 'expirePerSec') => Math.max(...list.map((r) => r[k]));
  return { ...list[0]!, insertPerSec: max('insertPerSec'), cancelPerSec: max('cancelPerSec'), expirePerSec: max('expirePerSec'), repeats: list.length };
}

async function main() {
  const rows: Row[] = [];
  for (const n of sizes) {
    const offs = offsets(n);
    // warm the JIT on a small size first
    if (n === sizes[0]) {
      wheelRow(1000, offsets(1000));
      wheelRow(1000, offsets(1000), HierarchicalWheel, 'hierarchical');
      heapRow(1000, offsets(1000));
    }
    // The machine is shared and noisy: each structure is measured `repeat` times, interleaved,
    // and the best (least disturbed) throughput of each phase is kept.
    const runs: Row[][] = [[], [], []];
    for (let r = 0; r < repeat; r++) {
      runs[0]!.push(wheelRow(n, offs));
      gc();
      runs[1]!.push(wheelRow(n, offs, HierarchicalWheel, 'hierarchical wheel (before issue 11)'));
      gc();
      runs[2]!.push(heapRow(n, offs));
      gc();
    }
    for (const list of runs) rows.push(best(list));
    rows.push(await timersRow(n, offs));
    gc();
  }
  writeFileSync(out, JSON.stringify({ spanMs: SPAN, rows }));
  process.exit(0);
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
