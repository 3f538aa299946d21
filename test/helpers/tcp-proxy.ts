import { createServer, connect, type Socket } from 'node:net';

/**
 * A TCP proxy on loopback that can make its current connections go silent without closing them,
 * as a network partition does to a TCP session: nothing arrives, nothing errors.
 */
export async function startProxy(targetPort: number): Promise<{ port: number; silence(): void; close(): Promise<void> }> {
  const pairs: { client: Socket; upstream: Socket; silent: boolean }[] = [];
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const pair = { client, upstream, silent: false };
    pairs.push(pair);
    client.on('data', (d) => !pair.silent && upstream.write(d));
    upstream.on('data', (d) => !pair.silent && client.write(d));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    silence: () => pairs.forEach((p) => (p.silent = true)),
    close: async () => {
      pairs.forEach((p) => p.client.destroy());
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
