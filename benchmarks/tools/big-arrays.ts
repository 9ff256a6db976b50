/** The largest arrays and hidden tables of a V8 heap snapshot, with the first object that references each: `node --import tsx benchmarks/tools/big-arrays.ts file.heapsnapshot`. */
import { readFileSync } from 'node:fs';
const snap = JSON.parse(readFileSync(process.argv[2]!, 'utf8'));
const m = snap.snapshot.meta; const nf = m.node_fields; const W = nf.length; const ef = m.edge_fields; const EW = ef.length;
const types = m.node_types[0]; const etypes = m.edge_types[0];
const N = snap.nodes, E = snap.edges, S = snap.strings;
const iType = nf.indexOf('type'), iName = nf.indexOf('name'), iEC = nf.indexOf('edge_count'), iSize = nf.indexOf('self_size');
const eType = ef.indexOf('type'), eName = ef.indexOf('name_or_index'), eTo = ef.indexOf('to_node');
const retainer = new Map<number, string>();
let e = 0;
for (let i = 0; i < N.length; i += W) {
  const ec = N[i + iEC]; const t = types[N[i + iType]]; const name = S[N[i + iName]];
  for (let k = 0; k < ec; k++, e += EW) {
    const to = E[e + eTo]; const et = etypes[E[e + eType]];
    const en = et === 'element' || et === 'hidden' ? String(E[e + eName]) : S[E[e + eName]];
    if (!retainer.has(to)) retainer.set(to, `${t}:${name}.${en}`);
  }
}
const rows: [number, string, string][] = [];
for (let i = 0; i < N.length; i += W) { const t = types[N[i + iType]]; if (t === 'array' || t === 'hidden') rows.push([N[i + iSize], `${t}:${S[N[i + iName]]}`, retainer.get(i) ?? '?']); }
rows.sort((a, b) => b[0] - a[0]);
for (const r of rows.slice(0, 14)) console.log(r.join('  '));
