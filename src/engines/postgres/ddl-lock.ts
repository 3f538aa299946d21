/**
 * Key of the advisory lock under which ferry processes change the target's catalog: CREATE … IF NOT
 * EXISTS is not safe against itself in Postgres (two sessions can both miss, and one then fails), and
 * several ferry processes (the appliers of a consumer group) may start at once.
 */
export const DDL_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('ferry target ddl'))";
