import { LineCounter, parseDocument, type YAMLError } from 'yaml';
import { configError } from './core/errors.js';

/**
 * The yaml library's messages quote the config's own text: its pretty errors print the source line
 * with a caret, and a few messages end with the token at fault ("Unresolved tag: !…"). A config line
 * may hold a password or token, so ferry reports position and problem only, never source text.
 */
function problemOf(message: string): string {
  return message.split(': ')[0]!.trim();
}

/** Parses a config file's YAML; syntax problems become one config error naming each line and column. */
export function parseConfigYaml(text: string, file: string): unknown {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  // Warnings (an unknown tag) would silently change a value, so they stop ferry as errors do.
  const problems = [...doc.errors, ...doc.warnings].map((e: YAMLError) => {
    const { line, col } = lines.linePos(e.pos[0]);
    return `  line ${line}, column ${col}: ${problemOf(e.message)}`;
  });
  let value: unknown;
  if (problems.length === 0) {
    try {
      value = doc.toJS();
    } catch (err) {
      // An alias (*name) without its anchor: the message would name it, and it may be a secret's start.
      problems.push(`  ${problemOf((err as Error).message)}`);
    }
  }
  if (problems.length > 0) {
    throw configError(
      `config file ${file} is not valid YAML:\n${problems.join('\n')}`,
      'fix the YAML syntax at the lines shown; quote a value that starts with one of * & ! @ ` % | > { [ or holds ": " or " #" (passwords and tokens often do)',
    );
  }
  return value;
}
