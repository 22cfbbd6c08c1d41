import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, RelayError } from '../../appliance/src/errors.ts';

const DOC = join(import.meta.dirname, '../../appliance/docs/errors.md');

describe('error-code registry', () => {
  it('is documented exactly: every code in docs/errors.md and nothing else', () => {
    const documented = [...readFileSync(DOC, 'utf8').matchAll(/^\|\s*(RELAY_[A-Z0-9_]+)\s*\|/gm)].map(
      (m) => m[1],
    );
    expect([...documented].sort()).toEqual(Object.keys(ErrorCodes).sort());
  });

  it('documents the SMTP reply of each code that has one', () => {
    const doc = readFileSync(DOC, 'utf8');
    for (const [code, spec] of Object.entries(ErrorCodes)) {
      if (!('smtp' in spec)) continue;
      expect(doc).toMatch(
        new RegExp(
          `^\\|\\s*${code}\\s*\\|\\s*${spec.smtp.code} ${spec.smtp.enhanced.replace(/\./g, '\\.')}\\s*\\|`,
          'm',
        ),
      );
    }
  });

  it('gives SMTP-facing errors a response code and an enhanced status in the text', () => {
    const e = new RelayError('RELAY_SPOOL_WRITE');
    expect(e.responseCode).toBe(452);
    expect(e.temporary).toBe(true);
    expect(e.message).toMatch(/^4\.3\.1 /);
    const p = new RelayError('RELAY_ACCESS_DENIED');
    expect(p.temporary).toBe(false);
    expect(new RelayError('RELAY_AUTH_FAILED', 'x', { responseCode: 421 }).responseCode).toBe(421);
  });
});
