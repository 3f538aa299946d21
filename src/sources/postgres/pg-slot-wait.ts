import type pg from 'pg';
import type { Logger } from 'pino';

/** A transaction holding a transaction id, in any database of the server. */
export interface OpenTransaction {
  readonly pid: number;
  readonly user: string | null;
  readonly application: string | null;
  readonly database: string | null;
  readonly state: string | null;
  readonly ageSeconds: number | null;
  readonly query: string | null;
}

export interface PreparedTransaction {
  readonly gid: string;
  readonly database: string;
  readonly ageSeconds: number;
}

/**
 * Creating a logical slot waits until every transaction that held a transaction id when it began
 * has ended, in every database of the server, prepared ones included: a session left idle in
 * transaction holds the snapshot back for as long as it stays open.
 */
const OPEN_SQL = `SELECT pid, usename AS user, application_name AS application, datname AS database, state,
    extract(epoch FROM now() - xact_start)::int AS "ageSeconds", left(query, 100) AS query
  FROM pg_stat_activity WHERE backend_xid IS NOT NULL ORDER BY xact_start`;
const PREPARED_SQL = `SELECT gid, database, extract(epoch FROM now() - prepared)::int AS "ageSeconds" FROM pg_prepared_xacts ORDER BY prepared`;

const FIRST_REPORT_MS = 3_000;
const REPORT_EVERY_MS = 10_000;

function describeOpen(t: OpenTransaction): string {
  const who = [t.application && `application ${t.application}`, t.user && `user ${t.user}`, t.database && `database ${t.database}`].filter(Boolean).join(', ');
  const what = `${t.state ?? 'open'}${t.ageSeconds === null ? '' : ` for ${t.ageSeconds}s`}${t.query ? `, last statement: ${t.query.replace(/\s+/g, ' ').trim()}` : ''}`;
  return `pid ${t.pid} (${who ? `${who}; ` : ''}${what})`;
}

/** The log line while the slot waits: what it waits for and how to end the wait. */
export function describeSlotWait(slot: string, waitedSeconds: number, open: readonly OpenTransaction[], prepared: readonly PreparedTransaction[]): string {
  const waiting = `creating replication slot ${slot} (the snapshot's starting point) has waited ${waitedSeconds}s`;
  if (open.length === 0 && prepared.length === 0) {
    return (
      `${waiting} for transactions open on the source to end; ferry's role sees none of them; ` +
      "fix: look in pg_stat_activity (backend_xid set) and pg_prepared_xacts as a superuser, or grant ferry's role pg_read_all_stats, and end those transactions"
    );
  }
  const items = [...open.map(describeOpen), ...prepared.map((p) => `prepared transaction '${p.gid}' (database ${p.database}, for ${p.ageSeconds}s)`)];
  const count = items.length;
  const ends = [
    ...(open.length > 0 ? [`commit or roll back in those sessions, or end them: SELECT ${open.map((t) => `pg_terminate_backend(${t.pid})`).join(', ')}`] : []),
    ...(prepared.length > 0 ? [`COMMIT PREPARED or ROLLBACK PREPARED ${prepared.map((p) => `'${p.gid.replace(/'/g, "''")}'`).join(', ')}`] : []),
  ];
  return `${waiting} for ${count} open transaction${count === 1 ? '' : 's'} to end: ${items.join('; ')}; fix: ${ends.join('; ')}. The snapshot starts as soon as they end`;
}

/**
 * While a slot is being created, says every few seconds what it waits for, through `client` (a
 * connection of its own: the replication connection is busy). Returns the function that stops it.
 */
export function watchSlotCreation(client: pg.ClientBase, slot: string, log: Logger): () => void {
  const started = Date.now();
  let stopped = false;
  const report = async () => {
    const [open, prepared] = await Promise.all([
      client.query<OpenTransaction>(OPEN_SQL).then((r) => r.rows),
      client.query<PreparedTransaction>(PREPARED_SQL).then((r) => r.rows),
    ]).catch(() => [[], []] as [OpenTransaction[], PreparedTransaction[]]);
    if (stopped) return;
    const waitedSeconds = Math.round((Date.now() - started) / 1000);
    log.warn(
      { slot, waitedSeconds, transactions: open.map((t) => t.pid), prepared: prepared.map((p) => p.gid) },
      describeSlotWait(slot, waitedSeconds, open, prepared),
    );
  };
  let timer: NodeJS.Timeout = setTimeout(function next() {
    void report().finally(() => {
      if (!stopped) timer = setTimeout(next, REPORT_EVERY_MS);
    });
  }, FIRST_REPORT_MS);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
