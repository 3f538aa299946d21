/** What the tuple decoder needs of pg-logical-replication's binary reader: its message buffer and position. */
interface Reader {
  readonly _b: Buffer;
  _p: number;
}

interface Relation {
  readonly columns: readonly { readonly name: string; readonly parser: (text: string) => unknown }[];
}

const TEXT = 0x74;
const NULL = 0x6e;
const UNCHANGED_TOAST = 0x75;
const BINARY = 0x62;

/**
 * pgoutput TupleData as pg-logical-replication's parser reads it, and to the same object (column name
 * → the column parser's value of its text, a Buffer, null, or for an unchanged TOAST datum the
 * fallback's value), but each text sliced from the message buffer in one native step rather than
 * through a TextDecoder over a subarray: the hot path of a WAL stream. Installed over the library's
 * readTuple; the library still speaks the protocol.
 */
export function readTuple(reader: Reader, relation: Relation, unchangedToastFallback?: Record<string, unknown> | null): Record<string, unknown> {
  const b = reader._b;
  let p = reader._p;
  const need = (n: number) => {
    if (p + n > b.length) throw new Error('unexpected end of message');
  };
  need(2);
  const fields = b.readUInt16BE(p);
  p += 2;
  const tuple: Record<string, unknown> = Object.create(null);
  for (let i = 0; i < fields; i++) {
    const { name, parser } = relation.columns[i]!;
    need(1);
    const kind = b[p++];
    if (kind === TEXT || kind === BINARY) {
      need(4);
      const size = b.readInt32BE(p);
      p += 4;
      need(size);
      tuple[name] = kind === TEXT ? parser(b.toString('utf8', p, p + size)) : b.subarray(p, p + size);
      p += size;
    } else if (kind === NULL) {
      tuple[name] = null;
    } else if (kind === UNCHANGED_TOAST) {
      tuple[name] = unchangedToastFallback?.[name];
    } else {
      throw new Error(`unknown attribute kind ${String.fromCharCode(kind ?? 0)}`);
    }
  }
  reader._p = p;
  return tuple;
}
