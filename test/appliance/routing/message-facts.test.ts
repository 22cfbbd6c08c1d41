import { beforeAll, describe, expect, it } from 'vitest';
import { prepareMessage } from '../../../appliance/src/routing/message-facts.ts';
import { loadHeaderDecoder } from '../../../appliance/src/routing/patterns.ts';
import { routeMessage } from '../../../appliance/src/routing/router.ts';
import { message, rulesWith } from '../../helpers/routing/factories.ts';

// Header rules decode RFC 2047 text with mime-text.ts, loaded on demand (as the appliance does at start).
beforeAll(loadHeaderDecoder);

describe('message facts: only the header fields rules name are prepared', () => {
  const headers = [
    { name: 'Subject', value: '=?UTF-8?B?U2NhbiDDpA==?=' },
    { name: 'X-Mailer', value: '=?UTF-8?Q?caf=C3=A9?=' },
    { name: 'Received', value: 'from a by b' },
  ];
  const input = { identity: 'scanner', sourceIp: '10.0.0.5', mailFrom: 'a@contoso.test', size: 10, headers };

  it('compiled rules list the field names their header conditions use, lower-cased', () => {
    const rules = rulesWith([
      { name: 's', match: { header: { name: 'Subject', value: 'scan*' } }, action: { route: 'acs' } },
      { name: 'x', match: { header: { name: 'X-Scan-Id', value: '*' } }, action: { route: 'acs' } },
      { name: 'm', match: { mailFrom: ['*@contoso.test'] }, action: { route: 'acs' } },
    ]);
    expect([...rules.headerNames].sort()).toEqual(['subject', 'x-scan-id']);
    expect(rulesWith([]).headerNames.size).toBe(0);
  });

  it('a field no rule names is neither decoded nor kept; a named one is decoded (RFC 2047)', () => {
    const facts = prepareMessage(input, new Set(['subject']));
    expect([...(facts.headers?.keys() ?? [])]).toEqual(['subject']);
    expect(facts.headers?.get('subject')?.[0]?.shown).toBe('Scan ä');
    expect(prepareMessage(input, new Set()).headers?.size).toBe(0);
    // Without a filter every field is prepared (explanations).
    expect(prepareMessage(input).headers?.get('x-mailer')?.[0]?.shown).toBe('café');
  });

  it('a header rule still matches through the router when other fields are skipped', () => {
    const rules = rulesWith([
      { name: 's', match: { header: { name: 'SUBJECT', value: 'scan ä' } }, action: { route: 'acs' } },
    ]);
    const d = routeMessage(rules, message({ headers, recipients: ['x@fabrikam.test'] }));
    expect(d.perRecipient[0]).toMatchObject({ type: 'route', route: 'acs' });
  });
});
