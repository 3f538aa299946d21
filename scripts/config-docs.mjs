// `npm run docs:config`: writes docs/config.md from the built config schema (dist/config-reference.js).
import { writeFileSync } from 'node:fs';
import { configReference } from '../dist/config-reference.js';

writeFileSync(new URL('../docs/config.md', import.meta.url), configReference());
