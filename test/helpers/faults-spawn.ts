/** Spawns fault replicas (test/helpers/faults-replica.ts) and reads their JSON lines. Used by test/faults and soak/. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FaultReplicaConfig } from './faults-replica.js';

const CHILD = fileURLToPath(new URL('./faults-replica.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Line {
  type: string;
  replica: string;
  fabricId?: string;
  scheduledAt?: number;
  token?: number;
  at?: number;
  [k: string]: unknown;
}

export interface FaultReplica {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: Line[];
  readonly stderr: string[];
  readonly ready: Promise<void>;
  readonly exited: Promise<number | null>;
  readonly alive: boolean;
  signal(sig: NodeJS.Signals): void;
}

export const REPLICA_DEFAULTS: Omit<FaultReplicaConfig, 'redisUrl' | 'prefix' | 'replica'> = {
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
};

export function spawnFaultReplica(config: Partial<FaultReplicaConfig> & Pick<FaultReplicaConfig, 'redisUrl' | 'prefix' | 'replica'>, onLine?: (l: Line) => void): FaultReplica {
  const cfg: FaultReplicaConfig = { ...REPLICA_DEFAULTS, ...config };
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    cwd: ROOT,
    env: { ...process.env, SWFAULT: JSON.stringify(cfg) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Line[] = [];
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
        const l = JSON.parse(text) as Line;
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

/** One run: its start line joined with its end line (absent when the replica died mid-run). */
export interface RunRecord {
  replica: string;
  fabricId: string;
  scheduledAt: number;
  token: number;
  start: number;
  end: number | undefined;
  committed: boolean | undefined;
  /** The fenced commit could not reach the downstream at all (not a fencing refusal). */
  commitError: boolean | undefined;
  aborted: boolean | undefined;
}

export function runsOf(replicas: readonly FaultReplica[]): RunRecord[] {
  const runs: RunRecord[] = [];
  for (const r of replicas) {
    const ends = new Map<string, Line>();
    for (const l of r.lines) if (l.type === 'end') ends.set(`${l.fabricId}|${l.token}`, l);
    for (const l of r.lines) {
      if (l.type !== 'start') continue;
      const e = ends.get(`${l.fabricId}|${l.token}`);
      runs.push({
        replica: r.name,
        fabricId: l.fabricId!,
        scheduledAt: l.scheduledAt!,
        token: l.token!,
        start: l.at!,
        end: e?.at,
        committed: e ? Boolean(e['committed']) : undefined,
        commitError: e ? Boolean(e['commitError']) : undefined,
        aborted: e ? Boolean(e['aborted']) : undefined,
      });
    }
  }
  return runs.sort((a, b) => a.start - b.start);
}
