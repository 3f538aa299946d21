import { tableKey } from '../../core/change-event.js';
import { FerryError } from '../../core/errors.js';
import { TableCodec, type SchemaMessage } from './envelope.js';
import type { KafkaTransport } from './transport.js';
import { targetTableId } from '../../core/table-mapping.js';

/**
 * The table schemas the producing process published in `<prefix>.ferry.schema`, by version, as
 * codecs whose tables land where this applier's `target.schema` says. A version not seen yet reads
 * the topic again: the producer publishes a schema before any change that refers to it.
 */
export class SchemaCatalog {
  readonly #codecs = new Map<string, TableCodec>();
  /** The read in flight: partitions applied at once wait for the same one. */
  #reading: Promise<void> | null = null;

  constructor(
    private readonly transport: KafkaTransport,
    private readonly topic: string,
    private readonly targetSchema: string | undefined,
  ) {}

  async codec(version: string): Promise<TableCodec> {
    // A read already in flight may have taken its end before `version` was published: then one more.
    for (let reads = 0; reads < 2 && !this.#codecs.has(version); reads++) {
      this.#reading ??= this.#refresh().finally(() => (this.#reading = null));
      await this.#reading;
    }
    const codec = this.#codecs.get(version);
    if (!codec) {
      throw new FerryError('fatal', `schema version ${version} is not in ${this.topic}`, {
        hint: `the topic holds the schemas the producing ferry publishes; it must not be deleted or compacted by time (cleanup.policy=compact, no retention.ms)`,
      });
    }
    return codec;
  }

  /**
   * The widest version of `table` read so far: columns are only ever added, so it is the newest. The
   * target table is made for it, whatever version a partition that is behind still brings.
   */
  widest(table: TableCodec['table']): TableCodec {
    let widest: TableCodec | undefined;
    for (const codec of this.#codecs.values()) {
      if (tableKey(codec.table.source) !== tableKey(table.source)) continue;
      if (!widest || codec.table.columns.length > widest.table.columns.length) widest = codec;
    }
    return widest!;
  }

  async #refresh(): Promise<void> {
    for (const m of await this.transport.readAll(this.topic)) {
      if (!m.value) continue;
      const { version, table } = JSON.parse(m.value.toString()) as SchemaMessage;
      if (!this.#codecs.has(version)) this.#codecs.set(version, new TableCodec({ ...table, target: targetTableId(table.source, this.targetSchema) }));
    }
  }
}
