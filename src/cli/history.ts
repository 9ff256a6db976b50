/** `syncwheel history <id>`: a fabric's last runs (newest first), as a table or JSON. */
import type { RedisStorage } from '../redis/storage.js';
import { MAX_HISTORY_SIZE } from '../scheduler/options.js';
import { TroubleError, ago, show, type Cmd, type Io } from './shared.js';

/** Entries shown when --limit is not given. */
export const DEFAULT_HISTORY_LIMIT = 20;

export async function history(storage: RedisStorage, cmd: Cmd, io: Io): Promise<number> {
  const id = cmd.id!;
  const limit = cmd.limit ?? DEFAULT_HISTORY_LIMIT;
  const [record, entries] = await Promise.all([storage.get(id), storage.readHistory(id, Math.min(limit, MAX_HISTORY_SIZE))]);
  if (!record && entries.length === 0) throw new TroubleError(`unknown fabric ${show(JSON.stringify(id))} under prefix ${show(JSON.stringify(cmd.prefix))}`);
  const now = Date.now();
  if (cmd.json) {
    io.out(JSON.stringify({ at: now, prefix: cmd.prefix, fabricId: id, runs: entries }, null, 2));
    return 0;
  }
  const paint = (code: string, s: string) => (cmd.colour ? `\x1b[${code}m${s}\x1b[0m` : s);
  if (entries.length === 0) {
    io.out(`No runs recorded for ${show(id)} (history starts with this version; historySize 0 keeps none).`);
    return 0;
  }
  const header = ['FINISHED', 'AGO', 'TRIGGER', 'OUTCOME', 'DURATION', 'LATE', 'TOKEN', 'REPLICA', 'ERROR'];
  const rows = entries.map((e) => [
    new Date(e.finishedAt).toISOString(),
    ago(e.finishedAt, now),
    e.trigger,
    e.outcome === 'succeeded' ? 'succeeded' : `failed (${e.reason ?? 'error'})`,
    `${e.durationMs} ms`,
    `${e.startedAt - e.scheduledAt} ms`,
    String(e.fencingToken),
    show(e.replica ?? '-'),
    show(e.error ?? '').replace(/\s*\n\s*/g, ' ').slice(0, 100),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[], failed?: boolean) =>
    cells.map((c, i) => {
      const padded = i === cells.length - 1 ? c : c.padEnd(widths[i]!);
      return i === 3 && failed !== undefined ? paint(failed ? '31' : '32', padded) : padded;
    }).join('  ').trimEnd();
  io.out(paint('1', line(header)));
  entries.forEach((e, i) => io.out(line(rows[i]!, e.outcome === 'failed')));
  io.out(`${entries.length} run(s) of ${show(id)}, newest first`);
  return 0;
}
