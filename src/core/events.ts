import { EventEmitter } from 'node:events';
import type { Position } from './position.js';
import type { FerryError } from '../errors.js';

export type Phase = 'starting' | 'preflight' | 'snapshot' | 'streaming' | 'stopping' | 'stopped' | 'failed';

/** What ferry tells its observers (logs, progress bars, metrics). The seam between work and watching. */
export interface FerryEvents {
  phase: { phase: Phase };
  'snapshot-table-started': { table: string; estimatedRows: number; resumedRows: number };
  'snapshot-chunk-loaded': { table: string; rows: number; totalRows: number };
  'snapshot-table-done': { table: string; rows: number; ms: number };
  'snapshot-done': { rows: number; ms: number; position: Position };
  /** An interrupted snapshot that cannot resume starts over, every table emptied. */
  'snapshot-restarted': { reason: string };
  'batch-applied': { transactions: number; events: number; position: Position; commitTime: Date; ms: number };
  'schema-changed': { table: string; addedColumns: string[] };
  'stream-retry': { error: FerryError; attempt: number; delayMs: number; from: Position | null };
  'stream-started': { from: Position };
}

type Listener<K extends keyof FerryEvents> = (payload: FerryEvents[K]) => void;

export class FerryEventBus {
  readonly #emitter = new EventEmitter();

  emit<K extends keyof FerryEvents>(name: K, payload: FerryEvents[K]): void {
    this.#emitter.emit(name, payload);
  }

  on<K extends keyof FerryEvents>(name: K, listener: Listener<K>): () => void {
    this.#emitter.on(name, listener);
    return () => this.#emitter.off(name, listener);
  }
}
