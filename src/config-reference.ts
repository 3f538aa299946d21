import { z } from 'zod';
import { configSchema, pipelinesFileSchema } from './config.js';

/** The parts of a JSON Schema (as zod writes it) the reference prints. */
interface JsonSchema {
  readonly type?: string;
  readonly description?: string;
  readonly default?: unknown;
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly items?: JsonSchema;
  readonly additionalProperties?: JsonSchema | boolean;
  readonly properties?: Record<string, JsonSchema>;
  readonly required?: readonly string[];
  readonly oneOf?: readonly JsonSchema[];
}

/** Markdown table cell text: `|` would end the cell, and `<name>` would be read as an HTML tag. */
const cell = (text: string) => text.replace(/[|<]/g, '\\$&').replace(/\n/g, ' ');

const code = (v: unknown) => `\`${typeof v === 'string' ? v : JSON.stringify(v)}\``;

/** zod writes the safe-integer limits of .int() as bounds; they bound nothing a user would write. */
const bound = (n: number | undefined) => (n === undefined || Math.abs(n) >= Number.MAX_SAFE_INTEGER ? undefined : n);

function typeOf(s: JsonSchema): string {
  if (s.const !== undefined) return code(s.const);
  if (s.enum) return s.enum.map(code).join(' \\| ');
  if (s.type === 'array') return `list of ${typeOf(s.items ?? {})}s`;
  if (s.type === 'object' && !s.properties && typeof s.additionalProperties === 'object') return `map of names to ${typeOf(s.additionalProperties)}`;
  const [min, max, above] = [bound(s.minimum), bound(s.maximum), bound(s.exclusiveMinimum)];
  const range =
    min !== undefined && max !== undefined
      ? `${min} to ${max}`
      : min !== undefined
        ? `at least ${min}`
        : above !== undefined
          ? `above ${above}`
          : max !== undefined
            ? `at most ${max}`
            : '';
  return `${s.type === 'integer' ? 'whole number' : (s.type ?? 'any')}${range ? `, ${range}` : ''}`;
}

/** One row per key under `prefix`; a nested object gives a row of its own (when described) and its keys', a list of objects its items' keys (`rules[].match`). */
function rows(s: JsonSchema, prefix: string): string[] {
  return Object.entries(s.properties ?? {}).flatMap(([key, p]) => {
    const path = `${prefix}${key}`;
    const need = s.required?.includes(key) ? 'required' : p.default === undefined || typeof p.default === 'object' ? '' : code(p.default);
    const own = `| \`${path}\` | ${p.properties ? 'section' : typeOf(p)} | ${need} | ${cell(p.description ?? '')} |`;
    if (p.items?.properties) return [own, ...rows(p.items, `${path}[].`)];
    if (!p.properties) return [own];
    return [...(p.description ? [own] : []), ...rows(p, `${path}.`)];
  });
}

const HEADER = '| key | value | default | description |\n|---|---|---|---|';

function table(s: JsonSchema, prefix: string): string {
  return `${HEADER}\n${rows(s, prefix).join('\n')}`;
}

/** docs/config.md: every config key with its type, default and description, from the schema itself. */
export function configReference(): string {
  const root = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const file = z.toJSONSchema(pipelinesFileSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const entries = Object.entries(root.properties ?? {});
  const plain = { properties: Object.fromEntries(entries.filter(([, s]) => !s.properties && !s.oneOf)), required: root.required ?? [] };
  const sections = entries
    .filter(([, s]) => s.properties || s.oneOf)
    .map(([key, s]) => {
      const forms = (s.oneOf ?? [s]).map((form) => {
        const type = form.properties?.type;
        const which = type && s.oneOf ? `### \`${key}\` with type ${typeOf(type)}\n\n` : '';
        return `${which}${table(form, `${key}.`)}`;
      });
      return `## \`${key}\`${root.required?.includes(key) ? ' (required)' : ''}\n\n${forms.join('\n\n')}`;
    });
  return [
    '# Config reference',
    '',
    "Every key of ferry's config file (YAML), generated from the schema in `src/config.ts` by",
    '`npm run docs:config`: do not edit by hand. Any string value may use `${NAME}` or `${NAME:-default}`',
    'to read an environment variable. Unknown keys are refused.',
    '',
    table(plain, ''),
    '',
    ...sections.flatMap((s) => [s, '']),
    '## `pipelines` (several pipelines in one file)',
    '',
    table({ properties: { pipelines: file.properties!.pipelines! } }, ''),
    '',
  ].join('\n');
}
