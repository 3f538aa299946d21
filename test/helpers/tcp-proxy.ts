import { createServer, connect, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** Current connections go silent for good: what they carry is dropped, nothing closes. */
  silence(): void;
  /**
   * A network partition: current connections stop moving (what is sent waits, unacknowledged, as on a
   * blackholed path) and new ones are accepted but reach nothing, until restore().
   */
  blackhole(): void;
  /** The partition heals: held connections move again, and new ones reach the server. */
  restore(): void;
  /** Connections open through the proxy (both ends still open). */
  openConnections(): number;
  close(): Promise<void>;
}

/** A TCP proxy on loopback to `targetPort` that can fail the network between a client and a server the ways a partition does. */
export async function startProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<{ client: Socket; upstream: Socket | null; silent: boolean }>();
  let partitioned = false;
  const join = (pair: { client: Socket; upstream: Socket | null; silent: boolean }) => {
    const upstream = (pair.upstream = connect(targetPort, '127.0.0.1'));
    pair.client.on('data', (d) => !pair.silent && upstream.write(d));
    upstream.on('data', (d) => !pair.silent && pair.client.write(d));
    upstream.on('error', end).on('close', end);
    function end() {
      pair.client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    }
    pair.client.on('error', end).on('close', end);
  };
  const server = createServer((client) => {
    const pair = { client, upstream: null, silent: false };
    pairs.add(pair);
    if (partitioned) {
      client.pause();
      client.on('error', () => client.destroy()).on('close', () => pairs.delete(pair));
      return;
    }
    join(pair);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    silence: () => pairs.forEach((p) => (p.silent = true)),
    blackhole: () => {
      partitioned = true;
      for (const p of pairs) {
        p.client.pause();
        p.upstream?.pause();
      }
    },
    restore: () => {
      partitioned = false;
      for (const p of pairs) {
        if (!p.upstream) join(p);
        p.client.resume();
        p.upstream?.resume();
      }
    },
    openConnections: () => [...pairs].filter((p) => !p.client.destroyed && !p.upstream?.destroyed).length,
    close: async () => {
      pairs.forEach((p) => p.client.destroy());
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
