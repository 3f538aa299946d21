/** read_only_sql_transaction: default_transaction_read_only is on (a cutover fence) or the server is a standby. */
export function isReadOnlyRefusal(err: unknown): boolean {
  return (err as { code?: string } | undefined)?.code === '25006';
}
