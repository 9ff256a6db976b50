/** Reads a V8 heap snapshot (`v8.writeHeapSnapshot()`) node by node, for the tools in benchmarks/tools. */
import { readFileSync } from 'node:fs';

export interface SnapshotEdge {
  readonly type: string;
  /** Property name, or the element / hidden index as a string. */
  readonly name: string;
  /** The target node's index (stable within one snapshot). */
  readonly to: number;
}

export interface SnapshotNode {
  readonly index: number;
  readonly type: string;
  readonly name: string;
  readonly size: number;
  readonly edges: readonly SnapshotEdge[];
}

/** Calls `fn` with every node of the snapshot in `file`, edges included. */
export function forEachNode(file: string, fn: (node: SnapshotNode) => void): void {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
    nodes: number[];
    edges: number[];
    strings: string[];
  };
  const m = snap.snapshot.meta;
  const nf = m.node_fields;
  const ef = m.edge_fields;
  const [W, EW] = [nf.length, ef.length];
  const [iType, iName, iEdges, iSize] = [nf.indexOf('type'), nf.indexOf('name'), nf.indexOf('edge_count'), nf.indexOf('self_size')];
  const [eType, eName, eTo] = [ef.indexOf('type'), ef.indexOf('name_or_index'), ef.indexOf('to_node')];
  const { nodes: N, edges: E, strings: S } = snap;
  let e = 0;
  for (let i = 0; i < N.length; i += W) {
    const edges: SnapshotEdge[] = [];
    for (let k = 0; k < N[i + iEdges]!; k++, e += EW) {
      const type = m.edge_types[0][E[e + eType]!]!;
      const raw = E[e + eName]!;
      edges.push({ type, name: type === 'element' || type === 'hidden' ? String(raw) : S[raw]!, to: E[e + eTo]! });
    }
    fn({ index: i, type: m.node_types[0][N[i + iType]!]!, name: S[N[i + iName]!]!, size: N[i + iSize]!, edges });
  }
}
