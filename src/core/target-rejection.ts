import { sqlServerErrorNumbers } from './error-numbers.js';
import { resourceExhaustion } from './resource-exhaustion.js';

/** Why a target refused a row: the `reason` of ferry_dead_letter_rows_total and of a dead letter. */
export const REJECTION_REASONS = ['unique', 'not-null', 'check', 'foreign-key', 'too-long', 'out-of-range', 'invalid-value', 'constraint'] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

export interface Rejection {
  readonly reason: RejectionReason;
  /** The server's own code (SQLSTATE, MySQL errno, SQL Server number), as text. */
  readonly code: string;
  /** The server's message. */
  readonly message: string;
}

/** Postgres SQLSTATEs of class 23 (integrity constraint violation) ferry names. */
const PG_CONSTRAINTS: Readonly<Record<string, RejectionReason>> = {
  '23505': 'unique',
  '23P01': 'unique', // exclusion constraint: a row that conflicts with another
  '23502': 'not-null',
  '23514': 'check',
  '23503': 'foreign-key',
};

/** Postgres SQLSTATEs of class 22 (data exception) ferry names; the rest of the class is an invalid value. */
const PG_DATA: Readonly<Record<string, RejectionReason>> = {
  '22001': 'too-long',
  '22003': 'out-of-range',
  '22008': 'out-of-range',
};

/** MySQL/MariaDB error numbers of a row the table refuses (in strict mode, which ferry's sessions use). */
const MYSQL: ReadonlyMap<number, RejectionReason> = new Map([
  [1062, 'unique'], // ER_DUP_ENTRY
  [1586, 'unique'], // ER_DUP_ENTRY_WITH_KEY_NAME
  [1048, 'not-null'], // ER_BAD_NULL_ERROR
  [1364, 'not-null'], // ER_NO_DEFAULT_FOR_FIELD
  [3819, 'check'], // MySQL 8: ER_CHECK_CONSTRAINT_VIOLATED
  [4025, 'check'], // MariaDB: ER_CONSTRAINT_FAILED
  [1451, 'foreign-key'], // ER_ROW_IS_REFERENCED_2
  [1452, 'foreign-key'], // ER_NO_REFERENCED_ROW_2
  [1406, 'too-long'], // ER_DATA_TOO_LONG
  [1264, 'out-of-range'], // ER_WARN_DATA_OUT_OF_RANGE
  [1690, 'out-of-range'], // ER_DATA_OUT_OF_RANGE
  [1265, 'invalid-value'], // WARN_DATA_TRUNCATED
  [1292, 'invalid-value'], // ER_TRUNCATED_WRONG_VALUE
  [1366, 'invalid-value'], // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
  [1367, 'invalid-value'], // ER_ILLEGAL_VALUE_FOR_TYPE
]);

/** SQL Server error numbers (sys.messages) of a row the table refuses. */
const SQL_SERVER: ReadonlyMap<number, RejectionReason> = new Map([
  [2627, 'unique'],
  [2601, 'unique'],
  [515, 'not-null'],
  [547, 'constraint'], // a CHECK or FOREIGN KEY constraint: the message says which
  [8152, 'too-long'],
  [2628, 'too-long'],
  [220, 'out-of-range'],
  [8115, 'out-of-range'],
  [245, 'invalid-value'],
  [241, 'invalid-value'],
  [8114, 'invalid-value'], // error converting data type … to …
]);

/**
 * Whether `err` (or an error it was made from: `cause`) is the target refusing a row for its values:
 * a constraint, a value too long or out of range, NULL in a NOT NULL column. Null for everything the
 * same work may survive when tried again (a lost connection, a deadlock, a full disk), and for what
 * no row of the change causes (a missing table, a missing grant, ferry's own divergence stops):
 * those are never dead-lettered.
 */
export function targetRejection(err: unknown): Rejection | null {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (resourceExhaustion(e)) return null;
    const found = ownRejection(e as { code?: unknown; errno?: unknown; message?: unknown; sqlMessage?: unknown });
    if (found) return found;
  }
  return null;
}

function ownRejection(e: { code?: unknown; errno?: unknown; message?: unknown; sqlMessage?: unknown }): Rejection | null {
  const message = String(e.sqlMessage ?? e.message ?? '');
  // A Postgres error's code is its SQLSTATE; mysql2's is a name (ER_DUP_ENTRY) next to its errno.
  if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && typeof e.errno !== 'number') {
    const reason = PG_CONSTRAINTS[e.code] ?? PG_DATA[e.code] ?? (e.code.startsWith('23') ? 'constraint' : e.code.startsWith('22') ? 'invalid-value' : null);
    return reason ? { reason, code: e.code, message } : null;
  }
  if (typeof e.errno === 'number') {
    const reason = MYSQL.get(e.errno);
    return reason ? { reason, code: String(e.errno), message } : null;
  }
  for (const n of sqlServerErrorNumbers(e)) {
    const reason = SQL_SERVER.get(n);
    if (reason) return { reason, code: String(n), message };
  }
  return null;
}
