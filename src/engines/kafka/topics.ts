import type { TableId } from '../../core/change-event.js';

/**
 * The topics of one prefix. Tables: `<prefix>.<schema>.<table>`, keyed by primary key. ferry's own:
 * `<prefix>.ferry.schema` (each table's schema, by version) and `<prefix>.ferry.checkpoint` (the
 * producing process's position), both one partition and meant to be compacted. A table named like
 * them cannot exist: ferry never replicates its own schema.
 */
export class Topics {
  constructor(readonly prefix: string) {}

  table(t: TableId): string {
    return `${this.prefix}.${t.schema}.${t.name}`;
  }

  /** Single-topic mode: every change, in source order, in one partition. */
  get changes(): string {
    return `${this.prefix}.changes`;
  }

  get schema(): string {
    return `${this.prefix}.ferry.schema`;
  }

  get checkpoint(): string {
    return `${this.prefix}.ferry.checkpoint`;
  }

  /** Whether `topic` carries change events of this prefix (a table's, or the single topic). */
  carriesChanges(topic: string): boolean {
    return topic.startsWith(`${this.prefix}.`) && topic !== this.schema && topic !== this.checkpoint;
  }
}
