// Shared leaf: PEM texts (a certificate chain, a bundle of certificate and private key, a CA file)
// split into their blocks in one place; node:crypto parses each block (X509Certificate,
// createPrivateKey), so nothing here interprets DER. No relaykit imports.
import { X509Certificate } from 'node:crypto';

export interface PemBlock {
  /** "CERTIFICATE", "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY", ... */
  readonly label: string;
  /** The block from its BEGIN line to its END line. */
  readonly text: string;
}

// RFC 7468 §2: the END label repeats the BEGIN label; text between blocks is ignored.
const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;

export function pemBlocks(text: string): PemBlock[] {
  return [...text.matchAll(BLOCK)].map((m) => ({ label: m[1] as string, text: m[0] }));
}

/** The CERTIFICATE blocks, in order (leaf first in a chain). */
export function pemCertificateBlocks(text: string): string[] {
  return pemBlocks(text)
    .filter((b) => b.label === 'CERTIFICATE')
    .map((b) => b.text);
}

/** The first private key block (PKCS#8, PKCS#1 RSA, SEC1 EC, or encrypted PKCS#8). */
export function pemPrivateKeyBlock(text: string): PemBlock | undefined {
  return pemBlocks(text).find((b) => /^(?:(?:RSA|EC|ENCRYPTED) )?PRIVATE KEY$/.test(b.label));
}

/** Every certificate in a PEM text that parses; unparsable blocks are skipped (callers count them). */
export function pemCertificates(text: string): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const block of pemCertificateBlocks(text)) {
    try {
      out.push(new X509Certificate(block));
    } catch {
      // Skipped: `check` reports blocks that do not parse.
    }
  }
  return out;
}
