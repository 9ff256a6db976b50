/** The largest arrays and hidden tables of a V8 heap snapshot, with the first object that references each: `node --import tsx benchmarks/tools/big-arrays.ts file.heapsnapshot`. */
import { forEachNode, type SnapshotNode } from '../lib/snapshot.js';

const retainer = new Map<number, string>();
const candidates: SnapshotNode[] = [];
forEachNode(process.argv[2]!, (node) => {
  for (const e of node.edges) if (!retainer.has(e.to)) retainer.set(e.to, `${node.type}:${node.name}.${e.name}`);
  if (node.type === 'array' || node.type === 'hidden') candidates.push({ ...node, edges: [] });
});
candidates.sort((a, b) => b.size - a.size);
for (const n of candidates.slice(0, 14)) console.log(`${n.size}  ${n.type}:${n.name}  ${retainer.get(n.index) ?? '?'}`);
