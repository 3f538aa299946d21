import { readFileSync } from 'node:fs';

/** ferry's version, from the package.json it ships with (dist/ sits beside it, in the image too). */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
