import type { ChangeStream } from './change-stream.js';
import type { Fencing } from './fencing.js';
import type { Heartbeat } from './heartbeat.js';
import type { LiveRows } from './row-reader.js';
import type { SnapshotReader } from './snapshot-reader.js';
import type { SourceCatalogue } from './source-catalogue.js';
import type { SourceLog } from './source-log.js';
import type { Verifiable } from './verify-side.js';

/**
 * A database source: every capability, on one set of connections (the capabilities share them, and
 * the Postgres slot that the snapshot creates is the one the stream reads). It extends the capability
 * ports rather than holding them as members, so an engine's adapter is one object and each consumer
 * takes only the ports it uses (`startHeartbeat(source: Heartbeat & SourceLog, …)`); whoever opens a
 * source closes it. What an engine lacks is an optional member (`retainedBytes`, `acknowledge`), never a stub.
 */
export interface Source extends SourceCatalogue, SnapshotReader, ChangeStream, SourceLog, Heartbeat, Fencing, Verifiable, LiveRows {
  close(): Promise<void>;
}
