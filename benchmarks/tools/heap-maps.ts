/**
 * Plain objects (`Object`) of a V8 heap snapshot grouped by their property names: how many, how
 * many distinct hidden classes (maps) they use, and their self size. Many maps for one shape means
 * V8 gave each object its own map (found this way: `Object.freeze({ ...state })` in Node 20).
 *
 *   node --import tsx benchmarks/tools/heap-maps.ts file.heapsnapshot
 */
import { forEachNode } from '../lib/snapshot.js';

const sig = new Map<string, { n: number; maps: Set<number>; bytes: number }>();
forEachNode(process.argv[2]!, (node) => {
  if (node.type !== 'object' || node.name !== 'Object') return;
  const key = node.edges.filter((e) => e.type === 'property').map((e) => e.name).join(',');
  const map = node.edges.find((e) => e.type === 'internal' && e.name === 'map')?.to ?? -1;
  const s = sig.get(key) ?? { n: 0, maps: new Set<number>(), bytes: 0 };
  s.n++;
  s.maps.add(map);
  s.bytes += node.size;
  sig.set(key, s);
});
console.log('| objects | distinct maps | self bytes | properties |\n|---|---|---|---|');
for (const [k, v] of [...sig].sort((a, b) => b[1].n - a[1].n).slice(0, 12)) console.log(`| ${v.n} | ${v.maps.size} | ${v.bytes} | ${k.slice(0, 150)} |`);
