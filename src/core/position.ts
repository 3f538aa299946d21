/**
 * A point in the source's log, always at the end of a committed transaction.
 * Postgres LSNs exceed 2^53, so they are bigints and never compared as strings.
 */
export type Position =
  | { readonly kind: 'mysql'; readonly file: string; readonly pos: number; readonly gtid?: string }
  | { readonly kind: 'pg'; readonly lsn: bigint };

/**
 * Where an operator asks a cdc-only stream to start (source.startPosition), as the source's own tools
 * print it: a restored backup's binlog file and offset, MariaDB GTID position, MySQL GTID set, or LSN.
 * The source checks it still has the log from there and turns it into a Position.
 */
export type StartPosition =
  | { readonly file: string; readonly pos: number }
  | { readonly gtid: string }
  | { readonly gtidSet: string }
  | { readonly lsn: string };

export function formatStartPosition(s: StartPosition): string {
  if ('file' in s) return `${s.file}:${s.pos}`;
  if ('gtid' in s) return `GTID ${s.gtid}`;
  if ('gtidSet' in s) return `GTID set ${s.gtidSet}`;
  return `LSN ${s.lsn}`;
}

/** -1, 0 or 1. Positions of different kinds never meet in one pipeline. */
export function comparePositions(a: Position, b: Position): number {
  if (a.kind === 'mysql' && b.kind === 'mysql') {
    const fa = binlogFileNumber(a.file);
    const fb = binlogFileNumber(b.file);
    if (fa !== fb) return fa < fb ? -1 : 1;
    return Math.sign(a.pos - b.pos);
  }
  if (a.kind === 'pg' && b.kind === 'pg') return a.lsn === b.lsn ? 0 : a.lsn < b.lsn ? -1 : 1;
  throw new Error(`cannot compare a ${a.kind} position with a ${b.kind} position`);
}

export function earliest(a: Position | undefined, b: Position): Position {
  return a === undefined || comparePositions(b, a) < 0 ? b : a;
}

/** Binlog files are named base.NNNNNN; the number orders them. */
function binlogFileNumber(file: string): number {
  const m = /\.(\d+)$/.exec(file);
  if (!m) throw new Error(`binlog file name without a sequence number: ${file}`);
  return Number(m[1]);
}

export function formatPosition(p: Position): string {
  if (p.kind === 'mysql') return `${p.file}:${p.pos}${p.gtid ? ` (gtid ${p.gtid})` : ''}`;
  return formatLsn(p.lsn);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** JSON form for the checkpoint store: bigints become strings, and come back. */
export function positionToJson(p: Position): unknown {
  return p.kind === 'pg' ? { kind: 'pg', lsn: p.lsn.toString() } : p;
}

export function positionFromJson(value: unknown): Position {
  const v = value as Record<string, unknown>;
  if (v.kind === 'pg') return { kind: 'pg', lsn: BigInt(String(v.lsn)) };
  if (v.kind === 'mysql' && typeof v.file === 'string' && typeof v.pos === 'number') {
    return typeof v.gtid === 'string' && v.gtid !== ''
      ? { kind: 'mysql', file: v.file, pos: v.pos, gtid: v.gtid }
      : { kind: 'mysql', file: v.file, pos: v.pos };
  }
  throw new Error(`not a position: ${JSON.stringify(value)}`);
}
