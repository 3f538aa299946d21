import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { Position } from '../../core/position.js';

const PAGE = 1000;

/** The sequence number of a binlog file (base.NNNNNN). */
function fileNumber(file: string): number {
  return Number(/\.(\d+)$/.exec(file)?.[1] ?? -1);
}

/**
 * Row events on `tables` (schema.table) in the binlog after `from`, as far as it goes now: the
 * cutover's last check that nothing replicated was written after the position ferry stopped at.
 * Reads SHOW BINLOG EVENTS (REPLICATION SLAVE), a page at a time.
 */
export async function rowEventsAfter(conn: Connection, from: Extract<Position, { kind: 'mysql' }>, tables: ReadonlySet<string>): Promise<number> {
  const [logs] = await conn.query<RowDataPacket[]>('SHOW BINARY LOGS');
  const files = logs
    .map((l) => String(l.Log_name))
    .filter((f) => fileNumber(f) >= fileNumber(from.file))
    .sort((a, b) => fileNumber(a) - fileNumber(b));
  const tableOf = new Map<string, string>();
  let count = 0;
  for (const file of files) {
    let pos = file === from.file ? from.pos : 4;
    for (;;) {
      const [events] = await conn.query<RowDataPacket[]>(`SHOW BINLOG EVENTS IN ? FROM ? LIMIT ${PAGE}`, [file, pos]);
      for (const e of events) {
        const type = String(e.Event_type);
        const info = String(e.Info ?? '');
        const id = /table_id: (\d+)/.exec(info)?.[1];
        if (type.startsWith('Table_map') && id) tableOf.set(id, /\((.*)\)$/.exec(info)?.[1] ?? '');
        else if (/^(Write|Update|Delete)_rows/.test(type) && id && tables.has(tableOf.get(id) ?? '')) count++;
      }
      if (events.length < PAGE) break;
      pos = Number(events[events.length - 1]!.End_log_pos);
    }
  }
  return count;
}
