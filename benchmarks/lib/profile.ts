/** Summarizes a V8 .cpuprofile (from node --cpu-prof): self and inclusive time per function. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  busyMs: number;
  self: Array<{ fn: string; ms: number; pctOfBusy: number }>;
  inclusive: Array<{ fn: string; ms: number; pctOfBusy: number }>;
}

const label = (n: ProfileNode) => {
  const f = n.callFrame;
  const file = f.url.split('/').pop() || '';
  return `${f.functionName || '(anonymous)'}${file ? ` ${file}` : ''}`;
};

export function summarizeProfileDir(dir: string, top = 15, ownCode: (fn: string) => boolean = (k) => /\s(scheduler|wheel|single-flight|memory|clock|due-queue)\.ts$/.test(k)): ProfileSummary | undefined {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  } catch {
    return undefined;
  }
  // the main thread's profile is the biggest (the loader thread's is mostly idle)
  const file = files.sort((a, b) => statSync(join(dir, b)).size - statSync(join(dir, a)).size)[0];
  if (!file) return undefined;
  const p = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  p.samples.forEach((s, i) => selfUs.set(s, (selfUs.get(s) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    total += us;
    const node = byId.get(id)!;
    const name = label(node);
    if (name.startsWith('(idle)') || name.startsWith('(program)')) idle += us;
    self.set(name, (self.get(name) ?? 0) + us);
    const seen = new Set<string>();
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
      const k = label(byId.get(x)!);
      if (!seen.has(k)) {
        seen.add(k);
        incl.set(k, (incl.get(k) ?? 0) + us);
      }
    }
  }
  const busy = total - idle;
  const rows = (m: Map<string, number>, filter: (k: string) => boolean) =>
    [...m.entries()]
      .filter(([k]) => filter(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([fn, us]) => ({ fn, ms: Math.round(us / 1000), pctOfBusy: Math.round((1000 * us) / busy) / 10 }));
  const notRoot = (k: string) => !k.startsWith('(root)') && !k.startsWith('(idle)') && !k.startsWith('(program)');
  return {
    file,
    totalMs: Math.round(total / 1000),
    busyMs: Math.round(busy / 1000),
    self: rows(self, notRoot),
    // inclusive time of syncwheel's own functions (src/*.ts), where the cost is spent
    inclusive: rows(incl, (k) => notRoot(k) && ownCode(k)),
  };
}
