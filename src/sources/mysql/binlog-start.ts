import type { Connection, RowDataPacket } from 'mysql2/promise';
import { configError, FerryError } from '../../core/errors.js';
import { formatStartPosition, type Position, type StartPosition } from '../../core/position.js';
import { binlogPosition, type Flavor } from '../../engines/mysql/binlog-position.js';
import { binlogState, fileNumber, gtidsMissing, mariaSeqs, type BinlogState } from './binlog-missing.js';

type BinlogStart = Exclude<StartPosition, { lsn: string }>;

/**
 * Why the server cannot send its binlog from an operator's start position, or null when it can: a
 * pure reading of what the server says. A position it no longer has names the oldest one it has, so
 * the operator knows whether an older backup or a new one is needed.
 */
export function binlogStartProblem(start: BinlogStart, s: BinlogState): string | null {
  const first = s.files[0];
  const last = s.files[s.files.length - 1];
  if (!first || !last) return 'the source has no binlog (SHOW BINARY LOGS is empty)';
  if ('file' in start) {
    const named = s.files.find((f) => f.name === start.file);
    if (named) return named.size < start.pos ? `its ${start.file} is ${named.size} bytes long, shorter than offset ${start.pos}` : null;
    const [ours, oldest] = [fileNumber(start.file), fileNumber(first.name)];
    if (ours && oldest && ours[0] === oldest[0] && ours[1] < oldest[1]) return `it no longer has ${start.file}: its oldest binlog is ${first.name}`;
    return `it has no binlog ${start.file}: its binlogs are ${first.name} to ${last.name}`;
  }
  if ('gtid' in start) {
    if (!s.mariadb) return null;
    const server = mariaSeqs(s.mariadb.binlogPos);
    const oldest = mariaSeqs(s.mariadb.oldestPos);
    for (const [domain, seq] of mariaSeqs(start.gtid)) {
      const theirs = server.get(domain);
      if (theirs === undefined || theirs < seq) return `its binlog ends at GTID ${s.mariadb.binlogPos || '(none)'}, before ${start.gtid}`;
      const from = oldest.get(domain);
      if (from !== undefined && seq < from)
        return `it no longer has GTID ${start.gtid}: its oldest binlog ${first.name} starts after GTID ${s.mariadb.oldestPos}`;
    }
    return null;
  }
  if (!s.mysql) return null;
  const lacking = gtidsMissing(s.mysql.executed, start.gtidSet);
  if (lacking.length > 0) return `it never executed ${lacking.slice(0, 3).join(', ')} (gtid_executed ${s.mysql.executed})`;
  if (gtidsMissing(start.gtidSet, s.mysql.purged).length > 0)
    return `it purged transactions after ${start.gtidSet}: its oldest binlog ${first.name} starts after gtid_purged ${s.mysql.purged}`;
  return null;
}

/**
 * The Position a cdc-only stream starts at for `start`, once the server is known to have its binlog.
 * A GTID start streams by GTID; its file and offset are only the start of the binlog that holds it
 * (the first checkpoint corrects them), since no server maps a GTID to an offset.
 */
export async function binlogStartPosition(conn: Connection, url: string, flavor: Flavor, start: BinlogStart): Promise<Position> {
  if ('gtid' in start && flavor !== 'mariadb')
    throw configError('source.startPosition: { gtid } is a MariaDB GTID position, and the source is MySQL', 'give { gtidSet: "uuid:1-77" } or { file, pos }');
  if ('gtidSet' in start && flavor !== 'mysql')
    throw configError('source.startPosition: { gtidSet } is a MySQL GTID set, and the source is MariaDB', 'give { gtid: "0-1-9913" } or { file, pos }');
  const state = await binlogState(url);
  const problem = binlogStartProblem(start, state);
  if (problem) {
    throw new FerryError('fatal', `the source cannot stream from source.startPosition ${formatStartPosition(start)}: ${problem}`, {
      hint: 'restore a backup taken at a position the source still has (keep binlogs longer: binlog_expire_logs_seconds), or take a snapshot instead (snapshot.mode: initial)',
    });
  }
  if ('file' in start) return binlogPosition(conn, flavor, start.file, start.pos);
  const file = 'gtid' in start ? await fileHoldingGtid(conn, state, start.gtid) : state.files[0]!.name;
  return { kind: 'mysql', file, pos: 4, gtid: 'gtid' in start ? start.gtid : start.gtidSet };
}

/** The newest MariaDB binlog that starts at or before `gtid` in every domain: the one that holds what follows it. */
async function fileHoldingGtid(conn: Connection, state: BinlogState, gtid: string): Promise<string> {
  const ours = mariaSeqs(gtid);
  let holder = state.files[0]!.name;
  for (const { name } of state.files) {
    const [[row]] = await conn.query<RowDataPacket[]>('SELECT BINLOG_GTID_POS(?, 4) AS pos', [name]);
    const startsAt = mariaSeqs(String(row?.pos ?? ''));
    if ([...startsAt].some(([domain, seq]) => seq > (ours.get(domain) ?? -1n))) break;
    holder = name;
  }
  return holder;
}
