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
  /**
   * Current connections break on the client's side only: the client sees them reset, the server is
   * told nothing and keeps their sessions (as after a crash of the path) until close().
   */
  sever(): void;
  /** Connections open through the proxy (both ends still open). */
  openConnections(): number;
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  upstream: Socket | null;
  silent: boolean;
}

/** A TCP proxy on loopback to `targetPort` that can fail the network between a client and a server the ways a partition does. */
export async function startProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  /** Server ends of severed connections, left open until close(). */
  const orphans: Socket[] = [];
  let partitioned = false;
  const join = (pair: Pair) => {
    const upstream = (pair.upstream = connect(targetPort, '127.0.0.1'));
    pair.client.on('data', (d) => !pair.silent && upstream.write(d));
    upstream.on('data', (d) => !pair.silent && pair.client.write(d));
    upstream.on('error', end).on('close', end);
    function end() {
      pair.client.destroy();
      if (!orphans.includes(upstream)) upstream.destroy();
      pairs.delete(pair);
    }
    pair.client.on('error', end).on('close', end);
  };
  const server = createServer((client) => {
    const pair: Pair = { client, upstream: null, silent: false };
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
    sever: () => {
      for (const p of pairs) {
        if (p.upstream) orphans.push(p.upstream.pause());
        p.client.resetAndDestroy();
      }
    },
    openConnections: () => [...pairs].filter((p) => !p.client.destroyed && !p.upstream?.destroyed).length,
    close: async () => {
      pairs.forEach((p) => p.client.destroy());
      orphans.forEach((s) => s.destroy());
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
