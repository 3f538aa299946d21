import { FerryError } from '../../errors.js';
import { TableCodec, type SchemaMessage } from '../../kafka/envelope.js';
import type { KafkaTransport } from '../../kafka/transport.js';
import { targetTableId } from '../../pipeline/table-mapping.js';

/**
 * The table schemas the producing process published in `<prefix>.ferry.schema`, by version, as
 * codecs whose tables land where this applier's `target.schema` says. A version not seen yet reads
 * the topic again: the producer publishes a schema before any change that refers to it.
 */
export class SchemaCatalog {
  readonly #codecs = new Map<string, TableCodec>();
  /** The read in flight: partitions applied at once wait for the same one. */
  #reading: Promise<void> | null = null;

  constructor(private readonly transport: KafkaTransport, private readonly topic: string, private readonly targetSchema: string | undefined) {}

  async codec(version: string): Promise<TableCodec> {
    if (!this.#codecs.has(version)) {
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

  async #refresh(): Promise<void> {
    for (const m of await this.transport.readAll(this.topic)) {
      if (!m.value) continue;
      const { version, table } = JSON.parse(m.value.toString()) as SchemaMessage;
      if (!this.#codecs.has(version)) this.#codecs.set(version, new TableCodec({ ...table, target: targetTableId(table.source, this.targetSchema) }));
    }
  }
}
