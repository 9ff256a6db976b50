/**
 * Summarizes a V8 heap snapshot (`v8.writeHeapSnapshot()`): self size and count per constructor
 * (node name for objects, node type otherwise), largest first.
 *
 *   node --import tsx benchmarks/tools/heap-summary.ts file.heapsnapshot [perN] [top]
 *
 * With `perN` (e.g. the number of fabrics), also bytes and objects per N.
 */
import { readFileSync } from 'node:fs';

const [file, perArg, topArg] = process.argv.slice(2);
const per = Number(perArg ?? 1);
const top = Number(topArg ?? 25);
const snap = JSON.parse(readFileSync(file!, 'utf8')) as {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
};
const f = snap.snapshot.meta.node_fields;
const width = f.length;
const iType = f.indexOf('type');
const iName = f.indexOf('name');
const iSize = f.indexOf('self_size');
const types = snap.snapshot.meta.node_types[0];
const by = new Map<string, { bytes: number; count: number }>();
let total = 0;
for (let i = 0; i < snap.nodes.length; i += width) {
  const type = types[snap.nodes[i + iType]!]!;
  const name = snap.strings[snap.nodes[i + iName]!]!;
  const key = type === 'object' || type === 'closure' ? `${type}:${name}` : type === 'hidden' || type === 'code' ? type : `${type}`;
  const size = snap.nodes[i + iSize]!;
  total += size;
  const e = by.get(key) ?? { bytes: 0, count: 0 };
  e.bytes += size;
  e.count++;
  by.set(key, e);
}
const rows = [...by.entries()].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top);
console.log(`total self size ${total} bytes${per > 1 ? `, ${(total / per).toFixed(0)} per unit (${per})` : ''}`);
console.log('| constructor | objects | bytes | objects per unit | bytes per unit |');
console.log('|---|---|---|---|---|');
for (const [k, v] of rows) console.log(`| ${k} | ${v.count} | ${v.bytes} | ${(v.count / per).toFixed(2)} | ${(v.bytes / per).toFixed(1)} |`);
