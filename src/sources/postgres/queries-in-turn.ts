import type pg from 'pg';

/**
 * Makes `client` run its queries one after another, in the order they were issued. The Postgres
 * source's one SQL connection is shared by the stream's setup, the heartbeat, status reads and the
 * cutover's fence, which issue queries without waiting for each other. pg 8 queues such a query but
 * warns that pg 9 will not ("Calling client.query() when the client is already executing a query");
 * this is the same queue, ferry's own. Promise-style queries only (the source's connection runs no
 * COPY or cursor: the snapshot readers have connections of their own).
 */
export function queriesInTurn(client: pg.Client): pg.Client {
  const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
  let previous: Promise<unknown> = Promise.resolve();
  const inTurn = (...args: unknown[]): Promise<unknown> => {
    const result = previous.then(() => query(...args));
    previous = result.catch(() => undefined);
    return result;
  };
  client.query = inTurn as typeof client.query;
  return client;
}
