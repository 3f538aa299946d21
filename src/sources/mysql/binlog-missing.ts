import type { RowDataPacket } from 'mysql2/promise';
import type { Position } from '../../core/position.js';
import { FerryError } from '../../core/errors.js';
import { connect } from '../../engines/mysql/connection.js';

type MysqlPosition = Extract<Position, { kind: 'mysql' }>;

/** What the server says about its binlog, to tell why it cannot send from ferry's checkpoint. */
export interface BinlogState {
  /** SHOW BINARY LOGS, oldest first. */
  readonly files: readonly { readonly name: string; readonly size: number }[];
  /** MariaDB: @@gtid_binlog_pos (the binlog's last GTID per domain) and the GTID position where its oldest file starts. */
  readonly mariadb?: { readonly binlogPos: string; readonly oldestPos: string };
  /** MySQL: @@gtid_executed and @@gtid_purged. */
  readonly mysql?: { readonly executed: string; readonly purged: string };
}

/**
 * 'purged': the server wrote ferry's position once and has deleted that binlog since. 'elsewhere':
 * the server never had it: another server (a new primary after a failover), or its binlog was reset.
 */
export interface MissingBinlog {
  readonly verdict: 'purged' | 'elsewhere';
  readonly reason: string;
}

/** MariaDB GTID position "0-1-100,1-2-7": domain → sequence number. */
export function mariaSeqs(pos: string): Map<string, bigint> {
  const seqs = new Map<string, bigint>();
  for (const gtid of pos
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [domain, , seq] = gtid.split('-');
    if (domain !== undefined && seq !== undefined) seqs.set(domain, BigInt(seq));
  }
  return seqs;
}

/** MySQL GTID set "uuid:1-5:7,uuid:tag:1-3": source (uuid, or uuid:tag) → transaction intervals. */
function mysqlGtidSet(set: string): Map<string, [bigint, bigint][]> {
  const sets = new Map<string, [bigint, bigint][]>();
  for (const part of set.replace(/\s/g, '').split(',').filter(Boolean)) {
    const [uuid, ...rest] = part.split(':');
    let key = uuid!;
    for (const item of rest) {
      const m = /^(\d+)(?:-(\d+))?$/.exec(item);
      if (!m) key = `${uuid}:${item}`;
      else (sets.get(key) ?? sets.set(key, []).get(key)!).push([BigInt(m[1]!), BigInt(m[2] ?? m[1]!)]);
    }
  }
  return sets;
}

/** The transactions of `b` that `a` lacks, as "source:start-end" items (empty when a ⊇ b). */
export function gtidsMissing(a: string, b: string): string[] {
  const have = mysqlGtidSet(a);
  const missing: string[] = [];
  for (const [source, intervals] of mysqlGtidSet(b)) {
    for (const [start, end] of intervals) {
      if (!(have.get(source) ?? []).some(([s, e]) => s <= start && end <= e)) missing.push(`${source}:${start}-${end}`);
    }
  }
  return missing;
}

/** The binlog file's base name and number ("mysql-bin.000042" → ["mysql-bin", 42]). */
export function fileNumber(name: string): [string, number] | null {
  const m = /^(.*)\.(\d+)$/.exec(name);
  return m ? [m[1]!, Number(m[2])] : null;
}

/** Why the server cannot send its binlog from `from`: a pure reading of what the server says. */
export function diagnoseMissingBinlog(from: MysqlPosition, s: BinlogState): MissingBinlog {
  if (from.gtid && !from.gtid.includes(':') && s.mariadb) {
    const server = mariaSeqs(s.mariadb.binlogPos);
    const oldest = mariaSeqs(s.mariadb.oldestPos);
    const ours = mariaSeqs(from.gtid);
    for (const [domain, seq] of ours) {
      const theirs = server.get(domain);
      if (theirs === undefined || theirs < seq) {
        return {
          verdict: 'elsewhere',
          reason: `its binlog ends at GTID ${s.mariadb.binlogPos || '(none)'}, before ferry's checkpoint ${from.gtid}: it never had transactions ferry applied`,
        };
      }
    }
    for (const [domain, seq] of ours) {
      const start = oldest.get(domain);
      if (start !== undefined && seq < start)
        return {
          verdict: 'purged',
          reason: `its oldest binlog ${s.files[0]?.name ?? ''} starts after GTID ${s.mariadb.oldestPos}, past ferry's checkpoint ${from.gtid}`,
        };
    }
    return {
      verdict: 'elsewhere',
      reason: `its binlog goes past ferry's checkpoint ${from.gtid} (to ${s.mariadb.binlogPos}) without holding that GTID: a history other than the one ferry streamed`,
    };
  }
  if (from.gtid?.includes(':') && s.mysql) {
    const lacking = gtidsMissing(s.mysql.executed, from.gtid);
    if (lacking.length > 0) return { verdict: 'elsewhere', reason: `it never executed transactions ferry applied (${lacking.slice(0, 3).join(', ')})` };
    if (gtidsMissing(from.gtid, s.mysql.purged).length > 0)
      return { verdict: 'purged', reason: `it purged transactions ferry has not read (gtid_purged ${s.mysql.purged})` };
  }
  const named = s.files.find((f) => f.name === from.file);
  if (named) {
    return {
      verdict: 'elsewhere',
      reason: `its ${from.file} ${named.size < from.pos ? `is ${named.size} bytes long, shorter than ferry's offset ${from.pos}` : `has no event at ferry's offset ${from.pos}`}: not the binlog ferry read`,
    };
  }
  const ours = fileNumber(from.file);
  const same = s.files.map((f) => fileNumber(f.name)).filter((n): n is [string, number] => n !== null && ours !== null && n[0] === ours[0]);
  if (!ours || s.files.length === 0) return { verdict: 'purged', reason: `it has no ${from.file}` };
  if (same.length === 0) return { verdict: 'elsewhere', reason: `its binlogs are named ${s.files[0]!.name} and on, not ${ours[0]}.*` };
  const newest = Math.max(...same.map(([, n]) => n));
  if (ours[1] > newest)
    return { verdict: 'elsewhere', reason: `its newest binlog ${s.files[s.files.length - 1]!.name} comes before ferry's ${from.file}: it is behind ferry` };
  return { verdict: 'purged', reason: `its oldest binlog is ${s.files[0]!.name}, after ferry's ${from.file}` };
}

export async function binlogState(url: string): Promise<BinlogState> {
  const conn = await connect(url);
  try {
    const [logs] = await conn.query<RowDataPacket[]>('SHOW BINARY LOGS');
    const files = logs.map((r) => ({ name: String(r.Log_name), size: Number(r.File_size) }));
    const [[vars]] = await conn.query<RowDataPacket[]>('SELECT VERSION() AS version');
    if (/mariadb/i.test(String(vars?.version))) {
      const [[pos]] = await conn.query<RowDataPacket[]>('SELECT @@gtid_binlog_pos AS binlogPos, BINLOG_GTID_POS(?, 4) AS oldestPos', [files[0]?.name ?? '']);
      return { files, mariadb: { binlogPos: String(pos?.binlogPos ?? ''), oldestPos: String(pos?.oldestPos ?? '') } };
    }
    const [[gtids]] = await conn.query<RowDataPacket[]>('SELECT @@GLOBAL.gtid_executed AS executed, @@GLOBAL.gtid_purged AS purged');
    return { files, mysql: { executed: String(gtids?.executed ?? ''), purged: String(gtids?.purged ?? '') } };
  } finally {
    conn.destroy();
  }
}

/**
 * The fatal error for a server that cannot send the binlog from `from` (error 1236), after asking it
 * why: a purged binlog and a different server (a failover to a new primary) need different fixes.
 */
export async function missingBinlogError(url: string, from: Position, err: Error): Promise<FerryError> {
  const purged = (reason: string) =>
    new FerryError('fatal', `the source no longer has the binlog ferry must resume from${reason} (${err.message})`, {
      cause: err,
      hint: 'the binlog was purged while ferry was behind; re-snapshot with snapshot.mode: always (and keep binlogs longer: binlog_expire_logs_seconds)',
    });
  if (from.kind !== 'mysql') return purged('');
  let found: MissingBinlog;
  try {
    found = diagnoseMissingBinlog(from, await binlogState(url));
  } catch {
    return purged('');
  }
  if (found.verdict === 'purged') return purged(`: ${found.reason}`);
  const byGtid = from.gtid !== undefined;
  return new FerryError(
    'fatal',
    `the source is a different server than the one ferry streamed from (a failover to a new primary?): ${found.reason} (${err.message})`,
    {
      cause: err,
      hint:
        `${
          byGtid
            ? 'ferry resumes by GTID, which a new primary can serve only if it has every transaction ferry applied (a replica with log_slave_updates=ON that had caught up); this one lacks some, so the target holds changes this source does not'
            : 'ferry resumes by binlog file and offset, which mean something only on the server that wrote them'
        }. ` +
        'Point source.url back at the server ferry streamed from if it still exists; otherwise take a new snapshot (snapshot.mode: always with snapshot.tablePrep: truncate), then set snapshot.mode back to initial',
    },
  );
}
