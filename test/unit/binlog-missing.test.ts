import { describe, expect, it } from 'vitest';
import { diagnoseMissingBinlog } from '../../src/sources/mysql/binlog-missing.js';

const files = [
  { name: 'binlog.000007', size: 4000 },
  { name: 'binlog.000008', size: 900 },
];

describe('diagnoseMissingBinlog', () => {
  describe('MariaDB, resuming by GTID', () => {
    const at = { kind: 'mysql' as const, file: 'binlog.000005', pos: 1200, gtid: '0-1-120' };

    it('purged: the oldest binlog starts after ferry’s GTID, and the server went on past it', () => {
      expect(diagnoseMissingBinlog(at, { files, mariadb: { binlogPos: '0-1-300', oldestPos: '0-1-200' } })).toEqual({
        verdict: 'purged',
        reason: "its oldest binlog binlog.000007 starts after GTID 0-1-200, past ferry's checkpoint 0-1-120",
      });
    });

    it('elsewhere: the server’s binlog ends before ferry’s GTID (a new primary behind ferry)', () => {
      const d = diagnoseMissingBinlog(at, { files, mariadb: { binlogPos: '0-1-95', oldestPos: '' } });
      expect(d.verdict).toBe('elsewhere');
      expect(d.reason).toMatch(/ends at GTID 0-1-95, before ferry's checkpoint 0-1-120/);
    });

    it('elsewhere: a domain ferry streamed is unknown to the server', () => {
      expect(diagnoseMissingBinlog({ ...at, gtid: '0-1-120,1-1-4' }, { files, mariadb: { binlogPos: '0-1-500', oldestPos: '0-1-1' } }).verdict).toBe(
        'elsewhere',
      );
    });

    it('elsewhere: the server went past ferry’s sequence number on another history (diverged)', () => {
      const d = diagnoseMissingBinlog(at, { files, mariadb: { binlogPos: '0-2-150', oldestPos: '0-1-100' } });
      expect(d.verdict).toBe('elsewhere');
      expect(d.reason).toMatch(/goes past ferry's checkpoint 0-1-120 \(to 0-2-150\) without holding that GTID/);
    });
  });

  describe('MySQL, resuming by GTID set', () => {
    const uuid = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
    const at = { kind: 'mysql' as const, file: 'binlog.000005', pos: 1200, gtid: `${uuid}:1-77` };

    it('elsewhere: the server never executed all of ferry’s set', () => {
      const d = diagnoseMissingBinlog(at, { files, mysql: { executed: `${uuid}:1-50`, purged: '' } });
      expect(d).toEqual({ verdict: 'elsewhere', reason: `it never executed transactions ferry applied (${uuid}:1-77)` });
    });

    it('purged: the server purged transactions past ferry’s set', () => {
      expect(diagnoseMissingBinlog(at, { files, mysql: { executed: `${uuid}:1-500`, purged: `${uuid}:1-90` } }).verdict).toBe('purged');
    });
  });

  describe('file and offset', () => {
    const at = (file: string, pos = 1200) => ({ kind: 'mysql' as const, file, pos });

    it('purged: ferry’s file comes before the oldest one', () => {
      expect(diagnoseMissingBinlog(at('binlog.000005'), { files })).toEqual({
        verdict: 'purged',
        reason: "its oldest binlog is binlog.000007, after ferry's binlog.000005",
      });
    });

    it('elsewhere: ferry’s file comes after the newest one (the server is behind, or was reset)', () => {
      expect(diagnoseMissingBinlog(at('binlog.000012'), { files }).reason).toMatch(
        /newest binlog binlog\.000008 comes before ferry's binlog\.000012: it is behind ferry/,
      );
    });

    it('elsewhere: the server names its binlogs otherwise', () => {
      expect(diagnoseMissingBinlog(at('mysql-bin.000003'), { files })).toEqual({
        verdict: 'elsewhere',
        reason: 'its binlogs are named binlog.000007 and on, not mysql-bin.*',
      });
    });

    it('elsewhere: the file exists but is shorter than ferry’s offset', () => {
      expect(diagnoseMissingBinlog(at('binlog.000008'), { files }).reason).toMatch(/binlog\.000008 is 900 bytes long, shorter than ferry's offset 1200/);
    });
  });
});
