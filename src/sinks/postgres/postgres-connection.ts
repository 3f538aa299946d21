import pg from 'pg';

/**
 * A connected pg client whose connection failures surface through its queries: an 'error' event
 * with no listener (the server dying while the client is idle) would end the process.
 */
export async function connectClient(url: string, options: Omit<pg.ClientConfig, 'connectionString'> = {}): Promise<pg.Client> {
  const client = new pg.Client({ ...options, connectionString: url });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
  return client;
}
