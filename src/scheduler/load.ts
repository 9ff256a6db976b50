/** What `start()` finds in the storage: a runtime for every stored fabric. */
import { StorageError } from '../errors.js';
import { CONTROL_RECORD_ID } from '../ops/control.js';
import type { Core } from './core.js';
import type { Dispatcher } from './dispatcher.js';

/**
 * Makes a runtime (missed reason `downtime`) for every stored fabric that was not upserted or
 * removed while the listing was read, a page at a time where the storage can
 * (`Storage.listPage`): each runtime keeps its record's numbers, not the record, so a million
 * listed records never all live at once. Unreadable records are reported. Resolves to false when
 * `starting()` turned false between pages (stop() came first; it forgets the runtimes made so far).
 */
export async function loadStored(core: Core, dispatcher: Dispatcher, starting: () => boolean): Promise<boolean> {
  for await (const { records, corrupt } of core.io.listPages()) {
    for (const bad of corrupt) {
      core.reportError('load', new StorageError('read', `unreadable record for fabric ${JSON.stringify(bad.id)}: ${bad.reason}; it starts over as never synced when its host defines it again`, { fabricId: bad.id }), bad.id);
    }
    if (!starting()) return false;
    for (const record of records) {
      const id = record.definition.id;
      // Skip what was upserted (it has its runtime) or removed while the list was read.
      if (id === CONTROL_RECORD_ID || core.fabrics.has(id) || dispatcher.isRemoved(id)) continue;
      const rt = dispatcher.ensure(record.definition, record);
      rt.missedReason = 'downtime';
      rt.release();
    }
  }
  return true;
}
