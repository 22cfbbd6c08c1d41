// PEM splitting in one place (RFC 7468 blocks); node:crypto parses what it returns.
import { createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  pemBlocks,
  pemCertificateBlocks,
  pemCertificates,
  pemPrivateKeyBlock,
} from '../../appliance/src/pem.ts';
import { createTestPki } from '../helpers/pki.ts';

const pki = createTestPki();

describe('pem', () => {
  it('splits a bundle into its certificate chain and key, ignoring text between blocks', () => {
    const text = `Bag Attributes: junk\n${pki.client.cert}\nsubject=whatever\n${pki.caCert}${pki.client.key}`;
    expect(pemBlocks(text).map((b) => b.label)).toEqual([
      'CERTIFICATE',
      'CERTIFICATE',
      expect.stringMatching(/PRIVATE KEY$/),
    ]);
    const certs = pemCertificates(text);
    expect(certs.map((c) => c.subject)).toEqual([
      expect.stringContaining('CN=relay.contoso.com'),
      expect.stringContaining('CN=relaykit test CA'),
    ]);
    expect(pemCertificateBlocks(text)).toHaveLength(2);
    const key = pemPrivateKeyBlock(text);
    expect(createPrivateKey(key?.text ?? '').asymmetricKeyType).toBe('ec');
  });

  it('knows the four private key labels and nothing else as a key', () => {
    const block = (label: string) => `-----BEGIN ${label}-----\nAAAA\n-----END ${label}-----\n`;
    for (const label of ['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY', 'ENCRYPTED PRIVATE KEY']) {
      expect(pemPrivateKeyBlock(block(label))?.label).toBe(label);
    }
    expect(pemPrivateKeyBlock(block('PUBLIC KEY') + block('CERTIFICATE REQUEST'))).toBeUndefined();
  });

  it('a block whose END label differs is not a block; a certificate that does not parse is skipped', () => {
    expect(pemBlocks('-----BEGIN CERTIFICATE-----\nAAAA\n-----END PRIVATE KEY-----\n')).toEqual([]);
    const broken = '-----BEGIN CERTIFICATE-----\nnot base64 DER\n-----END CERTIFICATE-----\n';
    expect(pemCertificateBlocks(broken + pki.caCert)).toHaveLength(2);
    expect(pemCertificates(broken + pki.caCert)).toHaveLength(1);
  });
});
