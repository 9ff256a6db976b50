/**
 * Plain objects (`Object`) of a V8 heap snapshot grouped by their property names: how many, how
 * many distinct hidden classes (maps) they use, and their self size. Many maps for one shape means
 * V8 gave each object its own map (found this way: `Object.freeze({ ...state })` in Node 20).
 *
 *   node --import tsx benchmarks/tools/heap-maps.ts file.heapsnapshot
 */
import { readFileSync } from 'node:fs';

const snap = JSON.parse(readFileSync(process.argv[2]!, 'utf8'));
const m = snap.snapshot.meta; const nf = m.node_fields; const W = nf.length; const ef = m.edge_fields; const EW = ef.length;
const types = m.node_types[0]; const etypes = m.edge_types[0];
const N = snap.nodes, E = snap.edges, S = snap.strings;
const iType = nf.indexOf('type'), iName = nf.indexOf('name'), iEC = nf.indexOf('edge_count'), iSize = nf.indexOf('self_size');
const eType = ef.indexOf('type'), eName = ef.indexOf('name_or_index'), eTo = ef.indexOf('to_node');
const sig = new Map<string, { n: number; maps: Set<number>; bytes: number }>();
let e = 0;
for (let i = 0; i < N.length; i += W) {
  const ec = N[i + iEC]; const t = types[N[i + iType]]; const name = S[N[i + iName]];
  const props: string[] = []; let map = -1;
  for (let k = 0; k < ec; k++, e += EW) {
    const et = etypes[E[e + eType]];
    if (et === 'property') props.push(S[E[e + eName]]);
    if (et === 'internal' && S[E[e + eName]] === 'map') map = E[e + eTo];
  }
  if (t !== 'object' || name !== 'Object') continue;
  const key = props.join(',');
  const s = sig.get(key) ?? { n: 0, maps: new Set(), bytes: 0 };
  s.n++; s.maps.add(map); s.bytes += N[i + iSize]; sig.set(key, s);
}
console.log('| objects | distinct maps | self bytes | properties |\n|---|---|---|---|');
for (const [k, v] of [...sig].sort((a, b) => b[1].n - a[1].n).slice(0, 12)) console.log(`| ${v.n} | ${v.maps.size} | ${v.bytes} | ${k.slice(0, 150)} |`);
