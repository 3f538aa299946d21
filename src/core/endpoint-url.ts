import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { configError } from './errors.js';

/**
 * A database URL as ferry reads it (DESIGN §1.2): user and password percent-decoded, TLS from the
 * engine's own URL parameters (its UrlStyle: libpq's `sslmode`… on postgres URLs, MySQL's `ssl-mode`… on mysql
 * URLs), any other parameter refused. The config (source/target `tls`, `passwordFile`) is folded into
 * the URL once at startup (withEndpointSettings), so every connection, SQL and replication alike,
 * reads its settings from this one parser.
 */
export type TlsMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';
export const TLS_MODES: readonly TlsMode[] = ['disable', 'require', 'verify-ca', 'verify-full'];

/** require = encrypted, certificate not checked; verify-ca = chain checked against ca; verify-full = chain and host name. */
export interface TlsSettings {
  readonly mode: TlsMode;
  /** File paths (PEM). */
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
}

export interface Endpoint {
  readonly host: string;
  readonly port: number;
  readonly user: string | undefined;
  readonly password: string | undefined;
  /** The path without its slash, decoded; '' when the URL names none. */
  readonly database: string;
  readonly tls: TlsSettings;
}

type TlsField = keyof TlsSettings;

/** How one engine writes its URLs, as its own clients spell them (engines/<db>/connection.ts has its engine's). */
export interface UrlStyle {
  /** The URL schemes, the usual one first. */
  readonly schemes: readonly string[];
  readonly defaultPort: number;
  /** The URL parameter of each TLS setting. */
  readonly params: Readonly<Record<TlsField, string>>;
  /** Each mode's name as the mode parameter takes it. */
  readonly modeNames: Readonly<Record<TlsMode, string>>;
  /** The mode names are upper case and read without regard to case. */
  readonly modesIgnoreCase: boolean;
  /** Modes that fall back to plain text without saying so: ferry makes the operator choose. */
  readonly fallbackModes: readonly string[];
  /** Why verify-full cannot hold against an IP address, when the engine's driver cannot check it there. */
  readonly verifyFullByIp?: string;
  /** Modes the engine's driver cannot keep as ferry defines them, each with why and what to write instead. */
  readonly refusedModes?: Partial<Record<TlsMode, { readonly why: string; readonly hint: string }>>;
}

const ENCODE_HINT =
  'percent-encode the user and password (@ as %40, # as %23, / as %2F, ? as %3F, % as %25, : as %3A), or leave the password out of the URL and set passwordFile';

/**
 * What is wrong with a URL's text, or null. A password interpolated from ${VAR} with raw URL
 * characters breaks the URL: `#`, `/` or `?` end the user:password part early, and the rest turns
 * into host, path or fragment. Caught here from the raw text, since a broken URL often still parses
 * (to a host named after part of the password). The message never repeats the URL: it holds the password.
 */
export function urlProblem(raw: string): string | null {
  const rest = raw.slice(raw.indexOf('://') + 3);
  const at = rest.lastIndexOf('@');
  const delimiter = rest.search(/[/?#]/);
  if (raw.includes('://') && at >= 0 && delimiter >= 0 && delimiter < at) {
    return `the user or password holds a raw '${rest[delimiter]}' (from \${…}?), which ends the user:password part early; ${ENCODE_HINT}`;
  }
  if (raw.includes('#')) return `a database URL has no #fragment; write a '#' in a password as %23, or set passwordFile`;
  if (!URL.canParse(raw)) return 'not a URL; write it as scheme://user:password@host:port/database';
  return null;
}

function decode(part: string, what: string, key: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw configError(`${key}: the ${what} holds a '%' not followed by two hex digits`, ENCODE_HINT);
  }
}

/** Parses a URL of the engine whose `style` it is; a config error names `key` and never the password. */
export function parseEndpointUrl(raw: string, style: UrlStyle, key = 'url'): Endpoint {
  const problem = urlProblem(raw);
  if (problem) throw configError(`${key}: ${problem}`);
  const u = new URL(raw);
  const [scheme] = style.schemes;
  if (!style.schemes.includes(u.protocol.replace(/:$/, ''))) throw configError(`${key}: ${u.protocol}// is not a ${scheme} URL`, `write ${scheme}://…`);
  const names = style.params;
  const accepted = Object.values(names);
  const tls: Partial<Record<TlsField, string>> = {};
  for (const [name, value] of u.searchParams) {
    const field = (Object.keys(names) as TlsField[]).find((f) => names[f] === name);
    if (!field)
      throw configError(`${key}: unknown URL parameter '${name}'`, `a ${scheme} URL accepts ${accepted.join(', ')}; TLS can also be set with the tls key`);
    tls[field] = value;
  }
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const mode = tls.mode === undefined ? 'disable' : modeOf(style, tls.mode, `${key} ${names.mode}`);
  const refused = style.refusedModes?.[mode];
  if (refused) throw configError(`${key}: TLS mode ${mode}: ${refused.why}`, refused.hint);
  if (style.verifyFullByIp && mode === 'verify-full' && isIP(host)) {
    throw configError(
      `${key}: TLS mode verify-full against the IP address ${host}: ${style.verifyFullByIp}`,
      'connect by a host name the server certificate names, or use verify-ca (the chain is checked, the host name is not)',
    );
  }
  return {
    host,
    port: u.port ? Number(u.port) : style.defaultPort,
    user: u.username ? decode(u.username, 'user', key) : undefined,
    password: u.password ? decode(u.password, 'password', key) : undefined,
    database: decode(u.pathname.slice(1), 'database', key),
    tls: { ...tls, mode },
  };
}

function modeOf(style: UrlStyle, value: string, where: string): TlsMode {
  const wanted = style.modesIgnoreCase ? value.toUpperCase() : value;
  const mode = TLS_MODES.find((m) => style.modeNames[m] === wanted);
  if (mode) return mode;
  const choices = TLS_MODES.map((m) => style.modeNames[m]).join(', ');
  if (style.fallbackModes.includes(wanted)) {
    throw configError(
      `${where}=${value} falls back to an unencrypted connection without saying so; ferry does not`,
      `write ${choices.replace(/, ([^,]*)$/, ' or $1')}`,
    );
  }
  throw configError(`${where}=${value}: unknown mode`, `write one of ${choices}`);
}

export interface EndpointSettings {
  readonly passwordFile?: string | undefined;
  readonly tls?: TlsSettings | undefined;
}

/**
 * The URL with `passwordFile`'s password and the `tls` key written into it, in the engine's own
 * parameter names: what every connection of this end reads. `end` is the config key ("source").
 * A URL parameter and the tls key that disagree, or a password in both places, are config errors.
 */
export function withEndpointSettings(raw: string, style: UrlStyle, settings: EndpointSettings, end: string): string {
  const endpoint = parseEndpointUrl(raw, style, `${end}.url`);
  const u = new URL(raw);
  if (settings.passwordFile !== undefined) {
    if (endpoint.password !== undefined) {
      throw configError(`${end}.passwordFile: ${end}.url has a password too`, `leave the password out of ${end}.url (user@host) or drop ${end}.passwordFile`);
    }
    u.password = encodeURIComponent(readSecretFile(settings.passwordFile, `${end}.passwordFile`));
  }
  const names = style.params;
  const fromUrl = new Map(u.searchParams);
  const tls: TlsSettings = { ...endpoint.tls, ...settings.tls };
  for (const field of ['mode', 'ca', 'cert', 'key'] as const) {
    const written = fromUrl.get(names[field]);
    const wanted = settings.tls?.[field];
    if (written === undefined || wanted === undefined) continue;
    const same = field === 'mode' ? endpoint.tls.mode === wanted : written === wanted;
    if (!same) {
      throw configError(
        `${end}.tls.${field}: ${wanted}, but ${end}.url says ${names[field]}=${written}`,
        `keep one of them (the tls key or the URL parameter)`,
      );
    }
  }
  checkTls(tls, end);
  u.search = '';
  if (tls.mode !== 'disable') u.searchParams.set(names.mode, style.modeNames[tls.mode]);
  for (const field of ['ca', 'cert', 'key'] as const) if (tls[field] !== undefined) u.searchParams.set(names[field], tls[field]);
  parseEndpointUrl(u.toString(), style, `${end}.url`);
  return u.toString();
}

/** The secret file's content without its trailing newline (as `echo` and most secret stores write one). */
/** A secret kept in a file (Docker/Kubernetes secrets), its trailing newline trimmed; `key` is the config key naming the file. */
export function readSecretFile(path: string, key: string, what = 'password'): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw configError(
      `${key}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      'mount the secret at that path, readable by the user ferry runs as, or fix the path',
    );
  }
  const secret = text.replace(/[\r\n]+$/, '');
  if (!secret) throw configError(`${key}: ${path} is empty`, `write the ${what} into the file`);
  return secret;
}

function checkTls(tls: TlsSettings, end: string): void {
  if (tls.mode === 'disable' && (tls.ca || tls.cert || tls.key)) {
    throw configError(`${end}.tls: certificate files given, but TLS is disabled`, `set ${end}.tls.mode (require, verify-ca or verify-full) or drop the files`);
  }
  if (tls.mode === 'require' && tls.ca) {
    throw configError(
      `${end}.tls.ca: given, but mode require does not check the server's certificate`,
      `set ${end}.tls.mode: verify-full (or verify-ca) to check it against this CA, or drop ${end}.tls.ca`,
    );
  }
  if (Boolean(tls.cert) !== Boolean(tls.key)) {
    throw configError(`${end}.tls: a client certificate needs both cert and key`, `set both ${end}.tls.cert and ${end}.tls.key, or neither`);
  }
  readTlsFiles(tls, `${end}.tls`);
}

/** The PEM contents of the TLS files, read at each connection (a renewed certificate takes effect without a restart). */
export function readTlsFiles(tls: TlsSettings, key = 'tls'): { ca?: Buffer; cert?: Buffer; key?: Buffer } {
  const files: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  for (const field of ['ca', 'cert', 'key'] as const) {
    const path = tls[field];
    if (path === undefined) continue;
    try {
      files[field] = readFileSync(path);
    } catch (err) {
      throw configError(
        `${key}.${field}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
        'mount the file at that path, readable by the user ferry runs as, or fix the path',
      );
    }
  }
  return files;
}

/** The server a database URL reaches, as `host:port`, every loopback name as one: two ends that name it share that server. */
export function serverOf(raw: string, defaultPort: number): string {
  const u = new URL(raw);
  const host = ['localhost', '127.0.0.1', '::1', '[::1]'].includes(u.hostname) ? 'loopback' : u.hostname;
  return `${host}:${u.port || defaultPort}`;
}
