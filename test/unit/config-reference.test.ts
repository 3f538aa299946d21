import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configReference } from '../../src/config-reference.js';

describe('docs/config.md, the config reference', () => {
  const reference = configReference();

  it('is what `npm run docs:config` writes from the schema today', () => {
    const committed = readFileSync(new URL('../../docs/config.md', import.meta.url), 'utf8');
    expect(committed, 'docs/config.md is out of date with the schema in src/config.ts: run npm run docs:config').toBe(reference);
  });

  it('lists keys of every section with their allowed values, defaults and descriptions', () => {
    expect(reference).toContain('| `pipeline` | string | required | identity of the checkpoint and the metrics label |');
    expect(reference).toMatch(/\| `snapshot\.tablePrep` \| `create` \\\| `drop-and-create` \\\| `truncate` \\\| `none` \| `create` \| \w/);
    expect(reference).toMatch(/\| `snapshot\.parallelism` \| whole number, 1 to 64 \| `4` \| \w/);
    expect(reference).toContain('### `target` with type `kafka`');
    expect(reference).toMatch(/\| `admin\.token` \| string \| {2}\| when set/);
  });
});
