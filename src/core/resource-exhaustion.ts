import { sqlServerErrorNumbers } from './error-numbers.js';

/**
 * A database server (or this machine) ran out of something: disk space, memory, connections. Nothing
 * is wrong with the data or the table, so this is never a rejected row: once the operator frees what
 * ran out, the same work succeeds, and ferry retries it by itself.
 */
export interface ResourceExhaustion {
  /** What ran out, e.g. "out of disk space". */
  readonly problem: string;
  /** The server's own hint first (Postgres: "Check free disk space."), then ferry's. */
  readonly hint: string;
}

const RESUMES = 'ferry retries by itself and resumes where it stopped (a stopped snapshot resumes when ferry starts again)';
const DISK = 'free disk space on that server (or grow its volume)';

/** MySQL/MariaDB error numbers. 3 and 1026: error writing a file; 1030: a storage engine's OS errno. */
const MYSQL_TABLE_FULL = 1114;
const MYSQL_DISK_FULL = 1021;
const MYSQL_WRITE_ERRORS = new Set([3, 1026, 1030]);
const MYSQL_OUT_OF_MEMORY = new Set([1037, 1038, 1041]);
/** errno 28 (ENOSPC) as MySQL/MariaDB print it inside a write error's message. */
const NO_SPACE_TEXT = /No space left on device|errno: 28\b|Errcode: 28\b|error 28\b/i;

export function resourceExhaustion(err: unknown): ResourceExhaustion | null {
  const e = err as { code?: unknown; errno?: unknown; hint?: unknown; message?: unknown } | null | undefined;
  if (!e || typeof e !== 'object') return null;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const errno = typeof e.errno === 'number' ? e.errno : undefined;
  const message = typeof e.message === 'string' ? e.message : '';
  const withServerHint = (ours: string) =>
    typeof e.hint === 'string' && e.hint !== '' ? `${e.hint} Then ${ours}` : ours.charAt(0).toUpperCase() + ours.slice(1);
  const disk = { problem: 'out of disk space', hint: withServerHint(`${DISK}; ${RESUMES}`) };

  if (code === 'ENOSPC') return { problem: 'out of disk space on the machine ferry runs on', hint: `Free disk space where ferry writes its files; ${RESUMES}` };
  // Postgres SQLSTATE class 53: insufficient resources.
  if (code === '53100') return disk;
  if (code === '53200')
    return { problem: 'out of memory', hint: withServerHint(`free memory on that server or lower its memory settings (work_mem); ${RESUMES}`) };
  if (code === '53300') return { problem: 'no free connection slot', hint: withServerHint(`close idle sessions or raise max_connections; ${RESUMES}`) };
  if (code !== undefined && /^53[0-9A-Z]{3}$/.test(code))
    return { problem: 'out of a server resource', hint: withServerHint(`raise the server setting the message names; ${RESUMES}`) };
  if (errno === MYSQL_DISK_FULL) return disk;
  if (errno === MYSQL_TABLE_FULL) {
    return {
      problem: 'a table is full: out of disk space, or at its size limit',
      hint: `Free disk space on that server, or raise the limit (innodb_data_file_path's max size; max_heap_table_size for MEMORY tables); ${RESUMES}`,
    };
  }
  if (errno !== undefined && MYSQL_WRITE_ERRORS.has(errno) && NO_SPACE_TEXT.test(message)) return disk;
  if (errno !== undefined && MYSQL_OUT_OF_MEMORY.has(errno))
    return { problem: 'out of memory', hint: `Free memory on that server or lower its buffer sizes; ${RESUMES}` };
  return sqlServerExhaustion(sqlServerErrorNumbers(err));
}

/**
 * SQL Server error numbers (sys.messages): 1105 a filegroup is full; 9002 the transaction log is
 * full; 40544 an Azure SQL database reached its size quota; 701 insufficient system memory.
 */
function sqlServerExhaustion(numbers: readonly number[]): ResourceExhaustion | null {
  if (numbers.includes(9002)) {
    return {
      problem: 'the transaction log is full',
      hint: `Back up the log (full recovery model) or grow the log file, and check log_reuse_wait_desc in sys.databases; ${RESUMES}`,
    };
  }
  if (numbers.includes(1105)) return { problem: 'a filegroup is full', hint: `Grow the filegroup's files (or allow autogrowth), or ${DISK}; ${RESUMES}` };
  if (numbers.includes(40544))
    return { problem: 'the database reached its size quota', hint: `Raise the database's maximum size (its service tier); ${RESUMES}` };
  if (numbers.includes(701)) return { problem: 'out of memory', hint: `Free memory on that server or lower its memory settings; ${RESUMES}` };
  return null;
}
