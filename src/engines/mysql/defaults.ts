import type { ColumnDefault, ColumnType } from '../../core/schema.js';
import { normalizeValue } from './types.js';

/** The current time as MySQL and MariaDB print it in a default: `CURRENT_TIMESTAMP`, `current_timestamp(6)`, `now()`. */
const NOW = /^(current_timestamp|now|localtimestamp|localtime)(\(\d*\))?$/i;
const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

/**
 * A column's default from INFORMATION_SCHEMA.COLUMNS, as something a target can declare: MariaDB
 * quotes literal defaults and prints expressions bare; MySQL 8 prints literals bare and flags
 * expressions DEFAULT_GENERATED. Generated and AUTO_INCREMENT columns have none of their own.
 */
export function columnDefault(type: ColumnType, rawDefault: string | null, extra: string, flavor: 'mariadb' | 'mysql'): ColumnDefault | undefined {
  if (rawDefault === null || rawDefault === 'NULL') return undefined;
  if (/\b(VIRTUAL|STORED|PERSISTENT)\b|auto_increment/i.test(extra)) return undefined;
  if (NOW.test(rawDefault)) return { kind: 'now', text: rawDefault };
  let literal: string | null;
  if (flavor === 'mysql') {
    literal = /DEFAULT_GENERATED/i.test(extra) ? null : rawDefault;
  } else {
    const bits = /^b'([01]*)'$/.exec(rawDefault);
    if (bits && type.kind === 'bit') return { kind: 'literal', value: bits[1]!.padStart(type.length, '0').slice(-type.length), text: rawDefault };
    const quoted = /^'(.*)'$/s.exec(rawDefault);
    literal = quoted ? unescapeMariaDbLiteral(quoted[1]!) : NUMBER.test(rawDefault) ? rawDefault : null;
  }
  if (literal === null || type.kind === 'bit') return { kind: 'expression', text: rawDefault };
  // A zero date normalizes to NULL (ferry's zero-date policy): a literal NULL, no default a target declares.
  return { kind: 'literal', value: type.kind === 'binary' ? Buffer.from(literal, 'latin1') : normalizeValue(type, literal), text: rawDefault };
}

/** MariaDB prints string defaults with \0 \n \r \\ escaped and quotes doubled: undone in one pass. */
function unescapeMariaDbLiteral(text: string): string {
  const escapes: Record<string, string> = { '0': '\u0000', n: '\n', r: '\r', t: '\t', Z: '\u001a', b: '\b' };
  return text.replace(/''|\\(.)/gs, (m: string, c?: string) => (m === "''" ? "'" : (escapes[c!] ?? c!)));
}
