/** `syncwheel status`: the table (or JSON) of every fabric of a prefix. */
import { fabricStatusOf } from '../scheduler/fabric-status.js';
import type { FabricStatus } from '../scheduler/types.js';
import { CONTROL_RECORD_ID, loadControl, type ControlData } from '../ops/control.js';
import type { RedisStorage } from '../redis/storage.js';
import { ago, show, until, type Cmd, type Io } from './shared.js';

export async function status(storage: RedisStorage, cmd: Cmd, io: Io): Promise<number> {
  const [{ records, corrupt }, control] = await Promise.all([storage.list(), loadControl(storage)]);
  const now = Date.now();
  const rows: FabricStatus[] = records
    .filter((r) => r.definition.id !== CONTROL_RECORD_ID)
    .map((r) => fabricStatusOf(r, now, isPaused(control, r.definition.id, r.definition.queue), null))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (cmd.json) {
    io.out(JSON.stringify({ at: now, prefix: cmd.prefix, pauses: { scheduler: control.scheduler !== null, queues: Object.keys(control.queues), fabrics: Object.keys(control.fabrics) }, fabrics: rows, unreadable: corrupt.map((c) => ({ id: c.id, reason: c.reason })) }, null, 2));
    return 0;
  }
  const paint = (code: string, s: string) => (cmd.colour ? `\x1b[${code}m${s}\x1b[0m` : s);
  const COLOURS: Record<string, string> = { in_sync: '32', syncing: '36', error: '31', out_of_sync: '33', never_synced: '90', disabled: '90' };
  const header = ['FABRIC', 'QUEUE', 'STATUS', 'SCHEDULE', 'LAST SYNC', 'NEXT SYNC', 'FAIL', 'LAST ERROR'];
  const table = rows.map((f) => [show(f.id), show(f.queue), f.status + (f.paused ? ' (paused)' : ''), f.cadence, ago(f.lastSyncAt, now), f.enabled ? until(f.nextSyncAt, now) : 'disabled', String(f.consecutiveFailures), show(f.lastError ?? '').slice(0, 80)]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
  const line = (cells: string[], colourStatus?: string) =>
    cells.map((c, i) => {
      const padded = i === cells.length - 1 ? c : c.padEnd(widths[i]!);
      return i === 2 && colourStatus ? paint(COLOURS[colourStatus] ?? '0', padded) : padded;
    }).join('  ').trimEnd();
  io.out(paint('1', line(header)));
  rows.forEach((f, i) => io.out(line(table[i]!, f.status)));
  const c = control;
  const notes = [`${rows.length} fabric(s) under prefix ${show(cmd.prefix)}`];
  if (c.scheduler !== null) notes.push(paint('35', 'ALL SCHEDULERS PAUSED'));
  if (Object.keys(c.queues).length) notes.push(`paused queues: ${Object.keys(c.queues).map(show).join(', ')}`);
  if (corrupt.length) notes.push(paint('31', `${corrupt.length} unreadable record(s): run syncwheel check`));
  io.out(notes.join(' · '));
  return 0;
}

function isPaused(c: ControlData, id: string, queue: string): boolean {
  return c.scheduler !== null || c.queues[queue] !== undefined || c.fabrics[id] !== undefined;
}
