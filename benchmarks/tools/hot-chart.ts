/**
 * The README's hot-path chart: CPU per second of 10k and 100k fabrics at 1 s spread over the
 * second, from two `--hot` runs (the median of each contender's repeats):
 * `node --import tsx benchmarks/tools/hot-chart.ts BEFORE.json AFTER.json OUT.svg`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { lineChart, type Series } from '../svg.js';

interface Run { spec: { id: string }; ok: boolean; result: { cpu?: { perSecondMs: number } } }
const [beforeFile, afterFile, out] = process.argv.slice(2) as [string, string, string];
const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as { runs: Run[]; commit?: string };
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]!; };

/** CPU ms per s of `contender`, spread, at each n (the lower median of its repeats). */
function points(runs: Run[], contender: string): Array<[number, number]> {
  const at: Array<[number, number]> = [];
  for (const n of [10_000, 100_000]) {
    const group = n === 10_000 ? 'h2h' : 'load';
    const prefix = `${group}/${contender}/n${n}/i1000/load0/spread`;
    const cpu = runs.filter((r) => r.ok && r.spec.id.split('#')[0] === prefix && r.result.cpu).map((r) => r.result.cpu!.perSecondMs);
    if (cpu.length > 0) at.push([n, median(cpu)]);
  }
  return at;
}

const beforeRun = read(beforeFile);
const afterRun = read(afterFile);
const before = beforeRun.runs;
const after = afterRun.runs;
const series: Series[] = [
  { name: `syncwheel before (${beforeRun.commit ?? beforeFile})`, points: points(before, 'syncwheel'), dashed: true },
  { name: `syncwheel now (${afterRun.commit ?? afterFile})`, points: points(after, 'syncwheel') },
  { name: 'setTimeout per job (floor)', points: points(after, 'setTimeout') },
  { name: 'toad-scheduler', points: points(after, 'toad-scheduler') },
];
writeFileSync(out, lineChart({ title: 'CPU of N fabrics at 1 s, spread over the second (median of 2 repeats)', xLabel: 'fabrics', yLabel: 'CPU ms per s', series, xLog: true, yLog: true }));
console.log(series.map((s) => `${s.name}: ${s.points.map(([n, v]) => `${n}=${v}`).join(' ')}`).join('\n'));
