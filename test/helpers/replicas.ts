/**
 * Spawns replicas (test/helpers/replica-child.ts) as child processes and reads their JSON lines.
 * Used by test/redis/multi-process, test/faults and soak/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ReplicaConfig } from './replica-child.js';
import { REDIS_URL } from './redis.js';

export { downstreamKey, fabricIds, targetDownKey, type ReplicaConfig } from './replica-child.js';

const CHILD = fileURLToPath(new URL('./replica-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ReplicaLine {
  type: string;
  replica: string;
  fabricId?: string;
  scheduledAt?: number;
  token?: number;
  trigger?: string;
  at?: number;
  [k: string]: unknown;
}

export interface Replica {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: ReplicaLine[];
  readonly stderr: string[];
  /** Resolves on the `ready` line; rejects if the process exits before it. */
  readonly ready: Promise<void>;
  readonly exited: Promise<number | null>;
  readonly alive: boolean;
  /** Sends `sig` unless the process has exited already. */
  signal(sig: NodeJS.Signals): void;
}

/** One fabric on the real Redis (REDIS_URL), short leases, quick runs, fenced commits, no partitioning. */
export const REPLICA_DEFAULTS: Omit<ReplicaConfig, 'prefix' | 'replica'> = {
  redisUrl: REDIS_URL,
  fabrics: 1,
  interval: 1_000,
  upsert: true,
  missedRunPolicy: 'once',
  lockTtl: 1_000,
  membershipTtl: 1_500,
  heartbeatInterval: 250,
  partition: false,
  minRunMs: 50,
  maxRunMs: 100,
  fencedCommit: true,
};

export function spawnReplica(config: Partial<ReplicaConfig> & Pick<ReplicaConfig, 'prefix' | 'replica'>, onLine?: (l: ReplicaLine) => void): Replica {
  const cfg: ReplicaConfig = { ...REPLICA_DEFAULTS, ...config };
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    cwd: ROOT,
    env: { ...process.env, SWREPLICA: JSON.stringify(cfg) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: ReplicaLine[] = [];
  const stderr: string[] = [];
  let buf = '';
  let onReady!: () => void;
  let onFail!: (e: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve;
    onFail = reject;
  });
  void ready.catch(() => undefined);
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const text = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!text.trim()) continue;
      try {
        const l = JSON.parse(text) as ReplicaLine;
        lines.push(l);
        onLine?.(l);
        if (l.type === 'ready') onReady();
      } catch {
        stderr.push(`stdout: ${text}`);
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      onFail(new Error(`replica ${cfg.replica} exited (${code}) before ready: ${stderr.join('').slice(0, 2000)}`));
      resolve(code);
    });
  });
  return {
    name: cfg.replica,
    child,
    lines,
    stderr,
    ready,
    exited,
    get alive() {
      return child.exitCode === null && child.signalCode === null;
    },
    signal: (sig) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    },
  };
}

/** One run: its start line joined with its end line (end fields undefined when the replica died mid-run). */
export interface RunRecord {
  replica: string;
  fabricId: string;
  scheduledAt: number;
  token: number;
  trigger: string;
  start: number;
  end: number | undefined;
  aborted: boolean | undefined;
  /** With fencedCommit: whether the downstream accepted the run's token. */
  committed: boolean | undefined;
  /** With fencedCommit: the commit could not reach the downstream at all (not a fencing refusal). */
  commitError: boolean | undefined;
}

/** Every run of `replicas`, in start order. */
export function runsOf(replicas: readonly Replica[]): RunRecord[] {
  const runs: RunRecord[] = [];
  for (const r of replicas) {
    const ends = new Map<string, ReplicaLine>();
    for (const l of linesOf([r], 'end')) ends.set(`${l.fabricId}|${l.token}`, l);
    for (const l of linesOf([r], 'start')) {
      const e = ends.get(`${l.fabricId}|${l.token}`);
      runs.push({
        replica: r.name,
        fabricId: l.fabricId!,
        scheduledAt: l.scheduledAt!,
        token: l.token!,
        trigger: l.trigger!,
        start: l.at!,
        end: e?.at,
        aborted: e ? Boolean(e['aborted']) : undefined,
        committed: e && 'committed' in e ? Boolean(e['committed']) : undefined,
        commitError: e && 'commitError' in e ? Boolean(e['commitError']) : undefined,
      });
    }
  }
  return runs.sort((a, b) => a.start - b.start);
}

/** The lines of one `type` from all of `replicas`. */
export function linesOf(replicas: readonly Replica[], type: string): ReplicaLine[] {
  return replicas.flatMap((r) => r.lines.filter((l) => l.type === type));
}

/** Sends `sig` to every replica (SIGCONT first, so a frozen one gets it too) and waits until all have exited. */
export async function stopReplicas(replicas: readonly Replica[], sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  for (const r of replicas) {
    r.signal('SIGCONT');
    r.signal(sig);
  }
  await Promise.all(replicas.map((r) => r.exited));
}

/** The runs that served the same (fabricId, scheduledAt) slot as another, grouped by slot (the promise: none). */
export function slotsRunTwice<R extends { fabricId: string; scheduledAt: number }>(runs: readonly R[]): R[][] {
  const bySlot = new Map<string, R[]>();
  for (const r of runs) {
    const slot = `${r.fabricId}@${r.scheduledAt}`;
    bySlot.set(slot, [...(bySlot.get(slot) ?? []), r]);
  }
  return [...bySlot.values()].filter((rs) => rs.length > 1);
}
