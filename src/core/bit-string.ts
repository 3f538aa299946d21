/**
 * BIT(n) values between their two canonical forms: the big-endian bytes MySQL sends (a Buffer) and
 * the string of bits Postgres prints ('0101').
 */

/** '0101…' → big-endian bytes, as a BIT column takes them. */
export function bitBytes(bits: string): Buffer {
  const padded = bits.padStart(Math.ceil(bits.length / 8) * 8, '0');
  const out = Buffer.alloc(padded.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(padded.slice(i * 8, i * 8 + 8), 2);
  return out;
}

/** Big-endian bytes → their bits, eight a byte. */
export function bitsOf(bytes: Buffer): string {
  return [...bytes].map((b) => b.toString(2).padStart(8, '0')).join('');
}
