import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { signature } from '../../src/notify/signature.js';

/** A notification as a receiver takes it. */
export interface Received {
  readonly id: string;
  readonly kind: string;
  readonly sequence: number;
  readonly [field: string]: unknown;
}

export interface WebhookReceiverForTests {
  readonly url: string;
  /** Every notification taken, in the order it came, with when it came (Date.now()). */
  readonly got: Received[];
  readonly gotAt: number[];
  /** The bodies whose X-Ferry-Signature was not sha256=HMAC(secret, body). */
  readonly badSignatures: string[];
  /** `silent`: accepts and never answers; `connections`: how many ferry opened. */
  readonly state: { silent?: boolean; connections: number };
  /** Really down: the server stops listening and drops its connections, so ferry's tries are refused. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** A webhook receiver on loopback that records what it takes and checks each signature against `secret`. */
export async function startReceiver(secret: string, mode: { silent?: boolean } = {}): Promise<WebhookReceiverForTests> {
  const got: Received[] = [];
  const gotAt: number[] = [];
  const badSignatures: string[] = [];
  const sockets = new Set<Socket>();
  const state = { ...mode, connections: 0 };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (state.silent) return;
      if (req.headers['x-ferry-signature'] !== signature(secret, body)) badSignatures.push(body);
      got.push(JSON.parse(body) as Received);
      gotAt.push(Date.now());
      res.writeHead(204).end();
    });
  });
  server.on('connection', (socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const listen = (port: number) => new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  await listen(0);
  const port = (server.address() as AddressInfo).port;
  const stop = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return {
    url: `http://127.0.0.1:${port}/ferry`,
    got,
    gotAt,
    badSignatures,
    state,
    stop,
    restart: () => listen(port),
    close: () => (server.listening ? stop() : Promise.resolve()),
  };
}
