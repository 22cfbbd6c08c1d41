import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { routeSchema } from '../../../appliance/src/config/schema.ts';
import { classify } from '../../../appliance/src/delivery/classify.ts';
import { combineOutcomes, type RecipientResult } from '../../../appliance/src/delivery/recipient-outcomes.ts';
import { createTransport } from '../../../appliance/src/delivery/registry.ts';
import { credentialFiles, deps, tempDir } from '../../helpers/transport-job.ts';

const failure = fc.record({
  outcome: fc.constantFrom('transient' as const, 'permanent' as const),
  code: fc.constantFrom(
    'RELAY_THROTTLED' as const,
    'RELAY_SMTP_REJECTED' as const,
    'RELAY_ACS_TOO_LARGE' as const,
  ),
  reason: fc.string(),
  fallbackEligible: fc.boolean(),
});

const results = fc.uniqueArray(fc.emailAddress(), { minLength: 1, maxLength: 30 }).chain((rcpts) =>
  fc.tuple(
    ...rcpts.map((r) =>
      fc.oneof(
        fc.constant<RecipientResult>({ recipient: r, ok: true }),
        failure.map((f): RecipientResult => ({ recipient: r, ok: false, failure: f })),
      ),
    ),
  ),
);

describe('combineOutcomes', () => {
  it('never loses a recipient: each is delivered, retried or dead-lettered exactly as its own result says', () => {
    fc.assert(
      fc.property(results, (rs) => {
        const out = combineOutcomes(rs, () => 'd');
        for (const r of rs) {
          if (out.kind === 'delivered') {
            const f = out.failedRecipients?.find((x) => x.recipient === r.recipient);
            if (r.ok) expect(f).toBeUndefined();
            else expect(f?.outcome).toBe(r.failure.outcome);
          } else {
            // A whole-leg verdict only when nobody was accepted and everyone failed the same way.
            expect(r.ok).toBe(false);
            if (!r.ok) expect(r.failure.outcome).toBe(out.kind);
          }
        }
        if (out.kind === 'permanent') {
          expect(out.fallbackEligible).toBe(rs.every((r) => !r.ok && r.failure.fallbackEligible));
        }
      }),
    );
  });
});

describe('classification rows of the acs and smtp transports', () => {
  it.each([
    [{ transport: 'acs', httpStatus: 429 }, 'transient', 'RELAY_THROTTLED'],
    [{ transport: 'acs', httpStatus: 401 }, 'transient', 'RELAY_ACS_AUTH_FAILED'],
    [{ transport: 'acs', httpStatus: 403 }, 'transient', 'RELAY_ACS_AUTH_FAILED'],
    [{ transport: 'acs', httpStatus: 413 }, 'permanent', 'RELAY_ACS_TOO_LARGE'],
    [
      { transport: 'acs', httpStatus: 400, serviceCode: 'DomainNotLinked' },
      'permanent',
      'RELAY_ACS_SENDER_NOT_ALLOWED',
    ],
    [
      { transport: 'acs', httpStatus: 400, serviceCode: 'InvalidEmailAddress' },
      'permanent',
      'RELAY_ACS_REJECTED',
    ],
    [{ transport: 'acs', serviceCode: 'EmailDropped' }, 'permanent', 'RELAY_ACS_DROPPED'],
    [{ transport: 'acs', httpStatus: 503 }, 'transient', 'RELAY_DELIVERY_TRANSIENT'],
    [{ transport: 'acs', errno: 'ECONNRESET' }, 'transient', 'RELAY_NETWORK'],
    [
      { transport: 'smtp', smtpCode: 550, smtpEnhanced: '5.7.68' },
      'permanent',
      'RELAY_SMTP_DIRECT_SEND_REJECTED',
    ],
    [
      { transport: 'smtp', smtpCode: 550, smtpEnhanced: '5.5.105' },
      'permanent',
      'RELAY_SMTP_EXTERNAL_NOT_ALLOWED',
    ],
    [{ transport: 'smtp', smtpCode: 535, smtpEnhanced: '5.7.30' }, 'transient', 'RELAY_SMTP_AUTH_FAILED'],
    [{ transport: 'smtp', smtpCode: 535, errno: 'EAUTH' }, 'transient', 'RELAY_SMTP_AUTH_FAILED'],
    [{ transport: 'smtp', errno: 'CERT' }, 'transient', 'RELAY_SMTP_TLS'],
    [{ transport: 'smtp', smtpCode: 552, smtpEnhanced: '5.3.4' }, 'permanent', 'RELAY_SMTP_TOO_LARGE'],
    [
      { transport: 'smtp', smtpCode: 552, smtpEnhanced: '5.2.2', message: '552 5.2.2 Mailbox full' },
      'permanent',
      'RELAY_SMTP_REJECTED',
    ],
    [{ transport: 'smtp', smtpCode: 421 }, 'transient', 'RELAY_DELIVERY_TRANSIENT'],
    [{ transport: 'smtp', smtpCode: 550, smtpEnhanced: '5.1.1' }, 'permanent', 'RELAY_SMTP_REJECTED'],
    [{ transport: 'smtp', errno: 'ESOCKET' }, 'transient', 'RELAY_NETWORK'],
  ] as const)('%o → %s %s', (facts, outcome, code) => {
    expect(classify(facts)).toMatchObject({ outcome, code });
  });
});

describe('registry', () => {
  it('builds the acs and smtp transports from their config', async () => {
    const d = deps({ credentials: credentialFiles(tempDir(), {}).store });
    const acs = await createTransport(
      routeSchema.parse({
        name: 'acs',
        type: 'acs',
        auth: { type: 'accessKey', connectionString: 'k' },
        senderAddress: 'DoNotReply@contoso.com',
      }),
      d,
    );
    expect([acs.type, acs.route]).toEqual(['acs', 'acs']);
    const smtp = await createTransport(routeSchema.parse({ name: 'hve', type: 'smtp', preset: 'hve' }), d);
    expect([smtp.type, smtp.route]).toEqual(['smtp', 'hve']);
    await expect(
      createTransport(routeSchema.parse({ name: 'mx', type: 'smtp', preset: 'exo-connector' }), d),
    ).rejects.toThrow(/routes\.mx\.host: required/);
  });
});
