// `route explain` applies what the receiver and delivery apply around the rules: the identity's
// sender policy (MAIL, RCPT, end of DATA), whether the planned route or a fallback can carry the size,
// and which mailbox a Graph route sends as. Expected lines written from the config fixture and the
// documented limits (ACS: 10 MB request, 5 % JSON headroom → 9986438 bytes of message).
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../../../appliance/src/main.ts';
import { captureIo } from '../../helpers/io.ts';

const CONFIG = fileURLToPath(new URL('../../fixtures/routing/explain-policy.yaml', import.meta.url));

async function explain(args: string[]) {
  const io = captureIo();
  const code = await main(['route', 'explain', '--config', CONFIG, ...args], io);
  return { code, out: io.out().split('\n').filter(Boolean), err: io.err() };
}

const scanner = ['--identity', 'scanners', '--from', 'mfd@contoso.com'];

describe('route explain: identity policy', () => {
  it('a sender the identity may not use is refused at MAIL FROM, before any rule', async () => {
    const r = await explain(['--identity', 'scanners', '--from', 'x@evil.example', '--to', 'a@contoso.com']);
    expect(r.code).toBe(3);
    expect(r.out).toEqual([
      'REJECT 550 5.7.1  rule=identities.scanners.allowedSenders  to=a@contoso.com  at=MAIL  reply="Sender <x@evil.example> not allowed for scanners"  because: identity "scanners" policy',
    ]);
  });

  it('a recipient domain the identity may not reach is refused at RCPT; the others are routed', async () => {
    const r = await explain([...scanner, '--to', 'a@contoso.com,b@other.example']);
    expect(r.code).toBe(3);
    expect(r.out).toEqual([
      'ROUTE  m365  rule=default  to=a@contoso.com  mailbox=scans@contoso.com  because: no rule matched',
      'REJECT 550 5.7.1  rule=identities.scanners.allowedRecipientDomains  to=b@other.example  at=RCPT  reply="Relay access denied: scanners may not send to <b@other.example>"  because: identity "scanners" policy',
    ]);
  });

  it('recipients over the identity cap get 452 at RCPT (try again in another transaction)', async () => {
    const to = ['a', 'b', 'c', 'd'].map((n) => `${n}@contoso.com`).join(',');
    const r = await explain([...scanner, '--to', to, '--json']);
    const out = JSON.parse(r.out.join('\n')) as {
      legs: { recipients: string[] }[];
      rejections: { rule: string; at: string; responseCode: number; recipients: string[] }[];
    };
    expect(out.legs.map((l) => l.recipients)).toEqual([['a@contoso.com', 'b@contoso.com', 'c@contoso.com']]);
    expect(out.rejections).toMatchObject([
      {
        rule: 'identities.scanners.maxRecipients',
        at: 'RCPT',
        responseCode: 452,
        recipients: ['d@contoso.com'],
      },
    ]);
  });

  it('a message over the identity limit, or the listener cap below it, is refused at end of DATA', async () => {
    const big = await explain([...scanner, '--to', 'a@contoso.com', '--size', '31MB']);
    expect(big.code).toBe(3);
    expect(big.out).toEqual([
      'REJECT 552 5.3.4  rule=identities.scanners.maxMessageSize  to=a@contoso.com  at=DATA  reply="Message exceeds fixed maximum message size 31457280"  because: identity "scanners" policy (a client that declares SIZE= is refused at MAIL FROM)',
    ]);
    const onSmall = await explain([
      ...scanner,
      '--listener',
      'small',
      '--to',
      'a@contoso.com',
      '--size',
      '2MB',
    ]);
    expect(onSmall.out[0]).toContain('reply="Message exceeds fixed maximum message size 1048576"');
    const bad = await explain([...scanner, '--listener', 'nope', '--to', 'a@contoso.com']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^error: --listener: no listener named "nope" \(listeners: smtp, small\)$/m);
  });

  it("the identity's rewriteSender is the MAIL FROM the rules and the mailbox see", async () => {
    const r = await explain(['--identity', 'apps', '--from', '<>', '--to', 'a@contoso.com', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out.join('\n'))).toMatchObject({
      mailFrom: 'erp@contoso.com',
      legs: [{ route: 'shared', carriedBy: 'shared', mailbox: 'relay@contoso.com' }],
    });
  });
});

describe('route explain: route size limits', () => {
  it('a message over the ACS request limit is carried by the fallback Graph route', async () => {
    const r = await explain([...scanner, '--to', 'c@fabrikam.com', '--size', '12MB']);
    expect(r.code).toBe(0);
    expect(r.out).toEqual([
      'ROUTE  acs  rule=external  to=c@fabrikam.com  fallback=m365  carriedBy=m365 (acs takes a message size of at most 9986438, this one 12582912)  mailbox=scans@contoso.com  because: recipient domain "fabrikam.com" is external (not in acceptedDomains)',
    ]);
  });

  it('a message no route of the chain can carry is refused before the 250, naming each limit', async () => {
    const r = await explain([...scanner, '--to', 'c@fabrikam.com', '--size', '26MB']);
    expect(r.code).toBe(3);
    expect(r.out).toEqual([
      'REJECT 552 5.3.4  rule=routes.acs  to=c@fabrikam.com  at=DATA  reply="Message cannot be delivered: route acs takes a message size of at most 9986438 bytes (this one is 27262976); route m365 takes a message size of at most 26214400 bytes (this one is 27262976)"  because: no route of leg acs>m365 can carry it',
    ]);
  });

  it('one leg no route can carry refuses the whole message, every recipient', async () => {
    const r = await explain([...scanner, '--to', 'a@contoso.com,c@fabrikam.com', '--size', '26MB']);
    expect(r.code).toBe(3);
    expect(r.out).toEqual([
      'REJECT 552 5.3.4  rule=routes.m365  to=a@contoso.com,c@fabrikam.com  at=DATA  reply="Message cannot be delivered: route m365 takes a message size of at most 26214400 bytes (this one is 27262976)"  because: no route of leg m365 can carry it',
    ]);
  });
});

describe('route explain: the mailbox a Graph route sends as', () => {
  it('identity sendAs, else the route mailbox, else the envelope sender; none for a bounce', async () => {
    const identity = await explain([...scanner, '--to', 'a@contoso.com']);
    expect(identity.out[0]).toContain('  mailbox=scans@contoso.com  ');
    const route = await explain(['--identity', 'apps', '--from', 'x@contoso.com', '--to', 'a@contoso.com']);
    expect(route.out[0]).toContain('  mailbox=relay@contoso.com  ');
    const sender = await explain(['--from', 'clerk@contoso.com', '--to', 'a@contoso.com']);
    expect(sender.out[0]).toContain('  mailbox=clerk@contoso.com  ');
    const bounce = await explain(['--from', '<>', '--to', 'a@contoso.com']);
    expect(bounce.out[0]).toContain('  mailbox=(none: null sender and no route mailbox; Graph refuses it)  ');
  });
});
