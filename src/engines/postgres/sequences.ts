/**
 * Every sequence a column of table $1 owns (identity or serial, however the table was made): the
 * column's name and quoted name, the sequence, and its last value handed out (null: none yet).
 */
export const OWNED_SEQUENCES_SQL = `SELECT attname AS name, quote_ident(attname) AS col, s.seq, pg_sequence_last_value(s.seq::regclass)::text AS last
  FROM pg_attribute, LATERAL (SELECT pg_get_serial_sequence($1, attname) AS seq) s
 WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND s.seq IS NOT NULL`;
