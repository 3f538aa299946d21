import type { Savepoints } from '../sql-driver.js';

/**
 * Savepoints on SQL Server: SAVE TRANSACTION and ROLLBACK TRANSACTION to its name (T-SQL has no
 * RELEASE; a later SAVE of the same name shadows the earlier one until the transaction ends).
 *
 * The sink's sessions run with XACT_ABORT ON (mssql-sink.ts), under which any error rolls back the
 * whole transaction, savepoints and all. A write under a savepoint runs with it OFF, so the errors a
 * rejected row raises (2627 and 2601 duplicate key, 547 CHECK or FOREIGN KEY, 515 NULL, 8152 and 2628
 * too long) end only their statement, and the transaction can be rolled back to the savepoint.
 * Errors that abort the batch (conversion errors such as 245, 241 and 8114; an arithmetic overflow,
 * 8115 or 220, under ARITHABORT ON) still end the whole transaction: mssql then fails any further
 * request in it ("Transaction has been aborted"), so `rollback` fails and sql-transaction.ts stops,
 * naming the row where the write held one. `release` puts XACT_ABORT back ON. A transaction the
 * server ended while it was OFF leaves its connection OFF in mssql's pool: statements there still
 * fail their request (and ferry rolls back), and the next write under a savepoint sets it again.
 */
export const MSSQL_SAVEPOINTS: Savepoints = {
  save: 'SET XACT_ABORT OFF; SAVE TRANSACTION [ferry_rows]',
  rollback: 'ROLLBACK TRANSACTION [ferry_rows]',
  release: 'SET XACT_ABORT ON',
};
