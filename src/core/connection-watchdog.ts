import type { Socket } from 'node:net';
import { CONNECTION_SILENT, FerryError } from './errors.js';

/** What the watchdog needs of one database connection (engine adapters supply it). */
export interface WatchedSession {
  readonly socket: Socket;
  /** A statement was sent and its answer has not fully arrived. */
  busy(): boolean;
  /** Whether the server is executing a statement in this session, asked on a connection of its own that may take `timeoutMs` to connect. */
  running(timeoutMs: number): Promise<boolean>;
}

export interface WatchdogOptions {
  /** Silence on a busy connection after which it is presumed dead, at most: `source.stallTimeoutSeconds`. */
  readonly stallMs: number;
  /** Names the connection in messages, e.g. "target ferry@db2:5432/app". */
  readonly name: string;
  /** Where a statement the server is still running after the stall timeout is reported (a lock wait, an index build). */
  readonly warn: (message: string) => void;
}

/**
 * Ends a connection that stopped answering. TCP keepalive cannot notice a blackhole while a statement
 * is unanswered (retransmission rules then, ~15 minutes on Linux), and a statement or lock timeout
 * would also kill legitimately long statements (a snapshot chunk's COPY, an index build, a cutover's
 * VALIDATE). So: when a statement has waited a third of the stall timeout with no byte moving either
 * way, the server is asked on a new connection whether it is still running it. Running: wait on
 * (logged once past the stall timeout). Not running, or no answer within a third of the timeout: the
 * socket is destroyed with a retriable error that the waiting statement fails with, at most
 * `stallMs` after the last byte. Stops by itself when the socket closes.
 */
export function watchConnection(session: WatchedSession, o: WatchdogOptions): void {
  const period = Math.max(1000, Math.floor(o.stallMs / 3));
  const { socket } = session;
  const moved = () => socket.bytesRead + socket.bytesWritten;
  let last = moved();
  let quietSince = Date.now();
  let probing = false;
  let reported = false;
  const progressed = (): boolean => {
    const now = moved();
    if (now === last && session.busy()) return false;
    last = now;
    quietSince = Date.now();
    reported = false;
    return true;
  };
  const timer = setInterval(() => {
    if (probing || progressed()) return;
    probing = true;
    void probe().finally(() => (probing = false));
  }, period);
  timer.unref();
  socket.once('close', () => clearInterval(timer));

  async function probe(): Promise<void> {
    let verdict: string;
    try {
      if (await withDeadline(session.running(period), period)) {
        const seconds = Math.round((Date.now() - quietSince) / 1000);
        if (!reported && seconds * 1000 >= o.stallMs) {
          o.warn(
            `${o.name}: a statement has been running for ${seconds} s (waiting for a lock, or long work such as an index build); the server is still on it, so ferry waits`,
          );
        }
        reported ||= seconds * 1000 >= o.stallMs;
        return;
      }
      // An answer the server sent just before the probe looked may still be on its way.
      await new Promise((resolve) => setTimeout(resolve, 1000).unref());
      verdict = 'and the server is not running it';
    } catch (err) {
      verdict = `and a new connection could not ask the server about it (${(err as Error).message})`;
    }
    if (progressed() || socket.destroyed) return;
    const seconds = Math.round((Date.now() - quietSince) / 1000);
    const error = new FerryError(
      'retriable',
      `${o.name} stopped answering: no reply for ${seconds} s to a statement on its connection, ${verdict}; the connection is presumed dead (half-open) and was closed`,
      {
        hint: 'ferry reconnects by itself; if this repeats, check the network path (firewalls, NAT or load-balancer idle timeouts)',
      },
    );
    socket.destroy(Object.assign(error, { code: CONNECTION_SILENT }));
  }
}

/**
 * How long a target session may sit idle inside a transaction before the server ends it: ferry keeps
 * one open only while the next piece of a source transaction arrives, which the source's stall
 * timeout bounds; four times that (at least a minute) is never a healthy ferry.
 */
export function idleInTransactionMs(stallMs: number): number {
  return Math.max(60_000, 4 * stallMs);
}

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${Math.round(ms / 1000)} s`)), ms)));
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
