/** Spawns replica child processes (test/redis/replica-child.ts) and collects their JSON lines. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { REDIS_URL } from './redis.js';

const CHILD = fileURLToPath(new URL('../redis/replica-child.ts', import.meta.url));
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

export interface ReplicaConfig {
  prefix: string;
  replica: string;
  fabrics?: number;
  interval?: number;
  upsert?: boolean;
  missedRunPolicy?: 'skip' | 'once' | 'all';
  lockTtl?: number;
  membershipTtl?: number;
  heartbeatInterval?: number;
  minRunMs?: number;
  maxRunMs?: number;
}

export interface Replica {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: ReplicaLine[];
  readonly stderr: string[];
  ready: Promise<void>;
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

export function spawnReplica(config: ReplicaConfig): Replica {
  const cfg = {
    redisUrl: REDIS_URL,
    fabrics: 20,
    interval: 1_000,
    upsert: true,
    missedRunPolicy: 'once',
    lockTtl: 3_000,
    membershipTtl: 2_000,
    heartbeatInterval: 300,
    minRunMs: 50,
    maxRunMs: 300,
    ...config,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    cwd: ROOT,
    env: { ...process.env, SWREPLICA: JSON.stringify(cfg) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: ReplicaLine[] = [];
  const stderr: string[] = [];
  let buf = '';
  let onReady: () => void;
  let onFail: (e: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve;
    onFail = reject;
  });
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      try {
        const parsed = JSON.parse(line) as ReplicaLine;
        lines.push(parsed);
        if (parsed.type === 'ready') onReady();
      } catch {
        stderr.push(`stdout: ${line}`);
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      onFail(new Error(`replica ${config.replica} exited (${code}) before ready: ${stderr.join('')}`));
      resolve(code);
    });
  });
  void ready.catch(() => undefined);
  return {
    name: config.replica,
    child,
    lines,
    stderr,
    ready,
    exited,
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** One run as seen by the parent: start line joined with its end line (if any). */
export interface RunRecord {
  replica: string;
  fabricId: string;
  scheduledAt: number;
  token: number;
  trigger: string;
  start: number;
  end: number | undefined;
}

export function runsOf(replicas: readonly Replica[]): RunRecord[] {
  const runs: RunRecord[] = [];
  for (const r of replicas) {
    const ends = new Map<string, number>();
    for (const l of r.lines) if (l.type === 'end') ends.set(`${l.fabricId}|${l.token}`, l.at!);
    for (const l of r.lines) {
      if (l.type !== 'start') continue;
      runs.push({ replica: l.replica, fabricId: l.fabricId!, scheduledAt: l.scheduledAt!, token: l.token!, trigger: l.trigger!, start: l.at!, end: ends.get(`${l.fabricId}|${l.token}`) });
    }
  }
  return runs.sort((a, b) => a.start - b.start);
}

export function linesOf(replicas: readonly Replica[], type: string): ReplicaLine[] {
  return replicas.flatMap((r) => r.lines.filter((l) => l.type === type));
}
