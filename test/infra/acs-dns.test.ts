// Pure DNS logic of the ACS domain: names, the verification table, TXT merging that never drops what
// a zone already publishes, the apex modes, and the gate of the domain link.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  absoluteName,
  domainTxtPlan,
  formatVerificationTable,
  mergeTxtValues,
  REQUIRED_FOR_LINK,
  txtChunks,
  verificationRows,
  zoneRelativeName,
} from '../../infra/acs-dns.ts';
import { pendingChecks, withDomain } from '../../infra/acs-link.ts';

const ACS_RECORDS = {
  domain: { name: 'contoso.com', type: 'TXT', value: 'ms-domain-verification=abc', ttl: 3600 },
  sPF: {
    name: 'contoso.com',
    type: 'TXT',
    value: 'v=spf1 include:spf.protection.outlook.com -all',
    ttl: 3600,
  },
  dKIM: {
    name: 'selector1-azurecomm-prod-net._domainkey',
    type: 'CNAME',
    value: 'selector1-azurecomm-prod-net._domainkey.azurecomm.net',
    ttl: 3600,
  },
  dKIM2: {
    name: 'selector2-azurecomm-prod-net._domainkey',
    type: 'CNAME',
    value: 'selector2-azurecomm-prod-net._domainkey.azurecomm.net',
    ttl: 3600,
  },
};

describe('names', () => {
  it('makes ACS record names absolute and zone-relative', () => {
    expect(absoluteName('contoso.com', 'contoso.com')).toBe('contoso.com');
    expect(absoluteName('selector1._domainkey', 'mail.contoso.com')).toBe(
      'selector1._domainkey.mail.contoso.com',
    );
    expect(absoluteName('selector1._domainkey.mail.contoso.com.', 'mail.contoso.com')).toBe(
      'selector1._domainkey.mail.contoso.com',
    );
    expect(zoneRelativeName('contoso.com', 'contoso.com')).toBe('@');
    expect(zoneRelativeName('selector1._domainkey.mail.contoso.com', 'contoso.com')).toBe(
      'selector1._domainkey.mail',
    );
    expect(() => zoneRelativeName('contoso.net', 'contoso.com')).toThrow(
      'contoso.net is not inside the DNS zone contoso.com',
    );
    expect(() => zoneRelativeName('evilcontoso.com', 'contoso.com')).toThrow('is not inside the DNS zone');
  });

  it('zone-relative names round-trip for any subdomain', () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
    fc.assert(
      fc.property(fc.array(label, { maxLength: 4 }), label, (labels, zoneLabel) => {
        const zone = `${zoneLabel}.example`;
        const fqdn = [...labels, zone].join('.');
        const rel = zoneRelativeName(fqdn, zone);
        expect(rel === '@' ? zone : `${rel}.${zone}`).toBe(fqdn);
      }),
    );
  });
});

describe('verification table', () => {
  it('lists the records with zone-relative names and adds our DMARC when ACS gives none', () => {
    const rows = verificationRows(ACS_RECORDS, 'contoso.com', 'contoso.com', 'v=DMARC1; p=none');
    expect(rows.map((r) => [r.kind, r.type, r.zoneRelativeName, r.value])).toEqual([
      ['Domain', 'TXT', '@', 'ms-domain-verification=abc'],
      ['SPF', 'TXT', '@', 'v=spf1 include:spf.protection.outlook.com -all'],
      [
        'DKIM',
        'CNAME',
        'selector1-azurecomm-prod-net._domainkey',
        'selector1-azurecomm-prod-net._domainkey.azurecomm.net',
      ],
      [
        'DKIM2',
        'CNAME',
        'selector2-azurecomm-prod-net._domainkey',
        'selector2-azurecomm-prod-net._domainkey.azurecomm.net',
      ],
      ['DMARC', 'TXT', '_dmarc', 'v=DMARC1; p=none'],
    ]);
    expect(formatVerificationTable(rows.slice(0, 2))).toBe(
      [
        'record  type  name  value                                           ttl',
        '------  ----  ----  ----------------------------------------------  ----',
        'Domain  TXT   @     ms-domain-verification=abc                      3600',
        'SPF     TXT   @     v=spf1 include:spf.protection.outlook.com -all  3600',
      ].join('\n'),
    );
  });
});

describe('TXT merge', () => {
  it('adds the ACS includes to an existing SPF record, before its all term', () => {
    const m = mergeTxtValues(
      ['MS=ms1', 'v=spf1 include:_spf.example.net -all'],
      ['ms-domain-verification=abc', 'v=spf1 include:spf.protection.outlook.com -all'],
    );
    expect(m).toEqual({
      values: [
        'MS=ms1',
        'v=spf1 include:_spf.example.net include:spf.protection.outlook.com -all',
        'ms-domain-verification=abc',
      ],
      notes: [],
    });
  });

  it('keeps a soft-fail qualifier and says ACS needs -all', () => {
    const m = mergeTxtValues(
      ['v=spf1 include:spf.protection.outlook.com ~all'],
      ['v=spf1 include:spf.protection.outlook.com -all'],
    );
    expect(m.values).toEqual(['v=spf1 include:spf.protection.outlook.com ~all']);
    expect(m.notes).toEqual([
      'the SPF record ends with "~all"; ACS verifies SPF only with "-all" — change it yourself once every sender of the domain is covered',
    ]);
  });

  it('never drops or changes an existing non-SPF value, and is idempotent', () => {
    const txt = fc
      .string({ minLength: 1, maxLength: 40 })
      .filter((s) => s.trim() !== '' && !/^v=spf1/i.test(s.trim()));
    fc.assert(
      fc.property(fc.array(txt, { maxLength: 5 }), fc.array(txt, { maxLength: 3 }), (existing, wanted) => {
        const once = mergeTxtValues(existing, wanted);
        for (const e of existing) expect(once.values).toContain(e.trim());
        for (const w of wanted) expect(once.values).toContain(w.trim());
        expect(mergeTxtValues(once.values, wanted).values).toEqual(once.values);
      }),
    );
  });

  it('warns about two SPF records', () => {
    expect(mergeTxtValues(['v=spf1 -all', 'v=spf1 a -all'], []).notes).toEqual([
      'more than one SPF record is published at this name (SPF permerror): fix that first',
    ]);
  });

  it('splits long values into 255-octet strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 1200 }), (s) => {
        const chunks = txtChunks(s);
        expect(chunks.join('')).toBe(s);
        for (const c of chunks) expect(c.length).toBeLessThanOrEqual(255);
      }),
    );
  });
});

describe('apex TXT modes', () => {
  const existing = ['MS=ms1', 'v=spf1 include:spf.protection.outlook.com -all'];
  const wanted = ['ms-domain-verification=abc', 'v=spf1 include:spf.protection.outlook.com -all'];
  it('manual never manages the record set but prints the merged values', () => {
    expect(domainTxtPlan('manual', existing, wanted)).toEqual({
      manage: false,
      importExisting: false,
      values: ['MS=ms1', 'v=spf1 include:spf.protection.outlook.com -all', 'ms-domain-verification=abc'],
      notes: ['the TXT record set at the domain is not managed here: publish these values yourself'],
    });
  });
  it('create writes only the ACS values', () => {
    expect(domainTxtPlan('create', [], wanted)).toMatchObject({
      manage: true,
      importExisting: false,
      values: wanted,
    });
  });
  it('adopt imports exactly what exists', () => {
    expect(domainTxtPlan('adopt', existing, wanted)).toMatchObject({
      manage: true,
      importExisting: true,
      values: existing,
    });
  });
  it('merge imports and writes the union', () => {
    expect(domainTxtPlan('merge', existing, wanted)).toMatchObject({
      manage: true,
      importExisting: true,
      values: ['MS=ms1', 'v=spf1 include:spf.protection.outlook.com -all', 'ms-domain-verification=abc'],
    });
  });
});

describe('link gate', () => {
  const verified = { status: 'Verified' };
  const states = { domain: verified, sPF: verified, dKIM: verified, dKIM2: verified };
  it('is open only when Domain, SPF, DKIM and DKIM2 are all Verified (DMARC is not required)', () => {
    expect(pendingChecks(states, REQUIRED_FOR_LINK)).toEqual([]);
    for (const k of ['domain', 'sPF', 'dKIM', 'dKIM2'] as const) {
      const pending = pendingChecks({ ...states, [k]: { status: 'VerificationFailed' } }, REQUIRED_FOR_LINK);
      expect(pending).toHaveLength(1);
      expect(pending[0]).toContain('=VerificationFailed');
    }
    expect(pendingChecks(undefined, REQUIRED_FOR_LINK)).toEqual([
      'Domain=unknown',
      'SPF=unknown',
      'DKIM=unknown',
      'DKIM2=unknown',
    ]);
  });
  it('adds and removes one domain ID, keeping every other link', () => {
    expect(withDomain(['a', 'B'], 'b', true)).toEqual(['a', 'b']);
    expect(withDomain(['a', 'B'], 'b', false)).toEqual(['a']);
    expect(withDomain([], 'd', true)).toEqual(['d']);
  });
});
