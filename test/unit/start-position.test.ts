import { describe, expect, it } from 'vitest';
import { parseConfig, sqlSource } from '../../src/config.js';
import { FerryError } from '../../src/core/errors.js';
import { binlogStartProblem } from '../../src/sources/mysql/binlog-start.js';

const cdcOnly = {
  pipeline: 'orders',
  source: { type: 'mysql', url: 'mysql://ferry:secret@db.example:3306/shop' },
  target: { type: 'postgres', url: 'postgres://ferry:secret@pg.example:5432/shop' },
  snapshot: { mode: 'never', tablePrep: 'none' },
};
const pgSource = { type: 'postgres', url: 'postgres://ferry:secret@db.example:5432/shop' };

function problemOf(doc: unknown): string {
  try {
    parseConfig(doc);
  } catch (err) {
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).kind).toBe('config');
    return `${(err as FerryError).message}\n${(err as FerryError).hint ?? ''}`;
  }
  throw new Error('expected parseConfig to reject the document');
}

describe('source.startPosition in the config', () => {
  it('takes each engine its own shapes', () => {
    for (const startPosition of [
      { file: 'mysql-bin.000042', pos: 81723 },
      { gtid: '0-1-9913' },
      { gtid: '0-1-9913,1-2-7' },
      { gtidSet: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77' },
    ]) {
      expect(sqlSource(parseConfig({ ...cdcOnly, source: { ...cdcOnly.source, startPosition } })).startPosition).toEqual(startPosition);
    }
    expect(sqlSource(parseConfig({ ...cdcOnly, source: { ...pgSource, startPosition: { lsn: '0/1A2B3C' } } })).startPosition).toEqual({ lsn: '0/1A2B3C' });
  });

  it('is valid only with snapshot.mode never, and says how to fix it', () => {
    const p = problemOf({ ...cdcOnly, snapshot: { mode: 'initial' }, source: { ...cdcOnly.source, startPosition: { gtid: '0-1-9' } } });
    expect(p).toMatch(/source\.startPosition: a start position is for a cdc-only pipeline, and snapshot\.mode is initial/);
    expect(p).toMatch(/set snapshot\.mode: never/);
  });

  it('refuses malformed positions with what to write', () => {
    expect(problemOf({ ...cdcOnly, source: { ...cdcOnly.source, startPosition: { file: 'mysql-bin.000042', pos: 2 } } })).toMatch(
      /a binlog offset is at least 4/,
    );
    expect(problemOf({ ...cdcOnly, source: { ...cdcOnly.source, startPosition: { file: 'mysql-bin', pos: 4 } } })).toMatch(/e\.g\. mysql-bin\.000042/);
    expect(problemOf({ ...cdcOnly, source: { ...cdcOnly.source, startPosition: { gtid: '0-1' } } })).toMatch(/domain-server-sequence/);
    expect(problemOf({ ...cdcOnly, source: { ...cdcOnly.source, startPosition: { position: 5 } } })).toMatch(/give \{ file, pos \}/);
    expect(problemOf({ ...cdcOnly, source: { ...pgSource, startPosition: { lsn: '1A2B3C' } } })).toMatch(/write an LSN as Postgres prints it/);
    expect(problemOf({ ...cdcOnly, source: { ...pgSource, startPosition: { file: 'mysql-bin.000001', pos: 4 } } })).toMatch(/startPosition/);
  });
});

describe('binlogStartProblem', () => {
  const files = [
    { name: 'binlog.000007', size: 4000 },
    { name: 'binlog.000008', size: 900 },
  ];
  const mariadb = { binlogPos: '0-1-300', oldestPos: '0-1-200' };

  it('accepts a file and offset the server has', () => {
    expect(binlogStartProblem({ file: 'binlog.000008', pos: 900 }, { files, mariadb })).toBeNull();
  });

  it('names the oldest binlog when the file was purged', () => {
    expect(binlogStartProblem({ file: 'binlog.000003', pos: 400 }, { files, mariadb })).toBe(
      'it no longer has binlog.000003: its oldest binlog is binlog.000007',
    );
  });

  it('refuses an offset past the end of its file, and a file it never wrote', () => {
    expect(binlogStartProblem({ file: 'binlog.000008', pos: 901 }, { files, mariadb })).toMatch(/900 bytes long, shorter than offset 901/);
    expect(binlogStartProblem({ file: 'binlog.000009', pos: 4 }, { files, mariadb })).toBe(
      'it has no binlog binlog.000009: its binlogs are binlog.000007 to binlog.000008',
    );
  });

  it('MariaDB GTID: accepted from the oldest binlog’s start on, refused before it (naming it) or past the end', () => {
    expect(binlogStartProblem({ gtid: '0-1-200' }, { files, mariadb })).toBeNull();
    expect(binlogStartProblem({ gtid: '0-1-300' }, { files, mariadb })).toBeNull();
    expect(binlogStartProblem({ gtid: '0-1-199' }, { files, mariadb })).toBe(
      'it no longer has GTID 0-1-199: its oldest binlog binlog.000007 starts after GTID 0-1-200',
    );
    expect(binlogStartProblem({ gtid: '0-1-301' }, { files, mariadb })).toMatch(/its binlog ends at GTID 0-1-300, before 0-1-301/);
  });

  it('MySQL GTID set: refused when purged transactions follow it, or it holds some never executed', () => {
    const uuid = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
    const mysql = { executed: `${uuid}:1-100`, purged: `${uuid}:1-40` };
    expect(binlogStartProblem({ gtidSet: `${uuid}:1-77` }, { files, mysql })).toBeNull();
    expect(binlogStartProblem({ gtidSet: `${uuid}:1-30` }, { files, mysql })).toMatch(
      /purged transactions after .*:1-30: its oldest binlog binlog\.000007 starts after gtid_purged/,
    );
    expect(binlogStartProblem({ gtidSet: `${uuid}:1-120` }, { files, mysql })).toMatch(/never executed/);
  });
});
