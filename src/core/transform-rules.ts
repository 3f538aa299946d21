/** The row filter operators of a transform rule; `null` and `notnull` take no value, `in` a list, `between` two bounds. */
export const FILTER_OPS = ['eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'in', 'between', 'null', 'notnull'] as const;

export type FilterValue = string | number | boolean;

/** One condition of a rule's row filter, on a source column (config `transforms.rules[].filter[]`). */
export interface RowFilter {
  readonly column: string;
  readonly op: (typeof FILTER_OPS)[number];
  readonly value?: FilterValue | readonly FilterValue[] | undefined;
}

/** What a masked column holds (config `transforms.rules[].mask`). */
export type Mask = 'hash' | 'redact' | 'null' | { readonly keepLast: number } | { readonly keepFirst: number };

/** One table mapping rule, as the config writes it (DESIGN §1.2 `transforms`). */
export interface TransformRule {
  readonly match: string;
  readonly rename?: string | undefined;
  readonly columns?:
    | {
        readonly include?: readonly string[] | undefined;
        readonly exclude?: readonly string[] | undefined;
        readonly rename?: Readonly<Record<string, string>> | undefined;
      }
    | undefined;
  readonly mask?: Readonly<Record<string, Mask>> | undefined;
  readonly filter?: readonly RowFilter[] | undefined;
}

/** The config's `transforms`: the rules, and the hash mask's salt (read from saltFile when the config names one). */
export interface TransformsConfig {
  readonly salt?: string;
  readonly rules: readonly TransformRule[];
}
