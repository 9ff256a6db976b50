/**
 * What every `syncwheel` command shares: the parsed command line, the output streams, the errors
 * that map to exit codes, and the formatting of untrusted text, URLs and durations.
 */

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
  isTTY: boolean;
}

/** Where `--redis` points: the URL as ioredis takes it (without the database) and the database. */
export interface RedisTarget {
  url: string;
  db: number;
}

/** A command line that passed usage checks. */
export interface Cmd {
  command: string;
  id: string | undefined;
  url: string;
  target: RedisTarget;
  prefix: string;
  timeout: number;
  json: boolean;
  colour: boolean;
  queue: string | undefined;
  all: boolean;
  repair: boolean;
  yes: boolean;
  /** `history --limit <n>`. */
  limit?: number | undefined;
  /** Whether the URL came from --redis (not SYNCWHEEL_REDIS): the dry runs of purge and migrate repeat it. */
  redisFlag: boolean;
}

/** Exit 2, with a pointer to the usage text. */
export class UsageError extends Error {}
/** Exit 2 without the usage text (the command line was fine; the environment is not). */
export class SetupError extends Error {}
/** Exit 1: the command ran and found trouble. */
export class TroubleError extends Error {}
/** Exit 3: Redis could not be reached in time, or failed. */
export class UnreachableError extends Error {}

/** Shows untrusted text on a terminal: control characters (escape sequences) become visible escapes. */
export function show(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function oneLine(s: string): string {
  return show(s.replace(/\s*\n\s*/g, ' ').trim());
}

/** The URL without its credentials. */
export function redact(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

export function ago(t: number | null, now: number): string {
  return t === null ? '-' : `${human(now - t)} ago`;
}

export function until(t: number | null, now: number): string {
  if (t === null) return '-';
  return t <= now ? 'due' : `in ${human(t - now)}`;
}

function human(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}
