import { FerryError } from './errors.js';

/** Node's codes for a server certificate that failed the check (tls.connect with rejectUnauthorized). */
const CERTIFICATE_CODES = /CERT|ISSUER|SIGNATURE/;

/**
 * A connection that failed on TLS (either driver), as a config error that says which side of the
 * handshake to fix; null for any other failure. `where` is "source user@host:port", `end` the config key.
 */
export function tlsConnectError(err: unknown, where: string, end: string): FerryError | null {
  const e = err as { code?: string; message?: string } | undefined;
  const message = e?.message ?? '';
  // mysql2 says HANDSHAKE_NO_SSL_SUPPORT; pg has no code for it, only this message.
  if (e?.code === 'HANDSHAKE_NO_SSL_SUPPORT' || /server does not support SSL/i.test(message)) {
    return new FerryError('config', `${where} does not offer TLS, and ${end} asks for it (tls.mode or the URL's ssl mode)`, {
      cause: err,
      hint: `turn TLS on in the server (MySQL/MariaDB: ssl-cert and ssl-key; Postgres: ssl = on), or set ${end}.tls.mode: disable to connect unencrypted`,
    });
  }
  // mysql2 replaces the code of every TLS handshake failure with HANDSHAKE_SSL_ERROR; the message stays.
  const hostName = e?.code === 'ERR_TLS_CERT_ALTNAME_INVALID' || /certificate's altnames/.test(message);
  const certificate = hostName || CERTIFICATE_CODES.test(e?.code ?? '') || (e?.code === 'HANDSHAKE_SSL_ERROR' && /certificate/i.test(message));
  if (certificate) {
    return new FerryError(
      'config',
      `${where}: the server's TLS certificate failed verification (${hostName ? 'ERR_TLS_CERT_ALTNAME_INVALID' : e?.code}: ${message})`,
      {
        cause: err,
        hint: hostName
          ? `connect by a host name the certificate names (its subjectAltName), or set ${end}.tls.mode: verify-ca to check the chain without the host name`
          : `set ${end}.tls.ca to the CA that signed the server's certificate, or ${end}.tls.mode: require to encrypt without checking it`,
      },
    );
  }
  if (e?.code === 'HANDSHAKE_SSL_ERROR') {
    return new FerryError('config', `${where}: the TLS handshake failed (${message})`, { cause: err, hint: `check the server's TLS setup and ${end}.tls` });
  }
  return null;
}
