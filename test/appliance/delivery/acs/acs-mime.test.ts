import { describe, expect, it } from 'vitest';
import {
  buildTemplate,
  messageFor,
  parseMime,
  placeRecipients,
} from '../../../../appliance/src/delivery/acs/acs-mime.ts';

const OPTS = {
  sender: { senderAddress: 'DoNotReply@contoso.com', provisionedSenders: [], replyToOriginalSender: true },
  passHeaders: [],
  userEngagementTrackingDisabled: true,
};

async function convert(raw: string, envelope: string[], mailFrom = 'dev@contoso.com') {
  const t = buildTemplate(await parseMime(Buffer.from(raw)), mailFrom, OPTS);
  return messageFor(t, placeRecipients(t, envelope));
}

describe('MIME to ACS JSON', () => {
  it('keeps only the first of repeated Content-IDs as contentId', async () => {
    const img =
      'Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\nContent-ID: <logo>\r\nContent-Disposition: inline\r\n\r\nAAAA\r\n';
    const raw = `From: dev@contoso.com\r\nTo: a@fabrikam.com\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=r\r\n\r\n--r\r\nContent-Type: text/html\r\n\r\n<img src="cid:logo">\r\n--r\r\n${img}--r\r\n${img}--r--\r\n`;
    const m = await convert(raw, ['a@fabrikam.com']);
    expect(m.attachments?.map((a) => a.contentId)).toEqual(['logo', undefined]);
  });

  it('puts a recipient listed in both To and Cc once, in To; matches addresses case-insensitively', async () => {
    const raw =
      'From: dev@contoso.com\r\nTo: "A" <A@Fabrikam.com>\r\nCc: a@fabrikam.com, "Grp": g1@fabrikam.com;\r\nSubject: x\r\n\r\nbody\r\n';
    const m = await convert(raw, ['a@fabrikam.com', 'g1@fabrikam.com', 'A@FABRIKAM.COM']);
    expect(m.recipients).toEqual({
      to: [{ address: 'a@fabrikam.com', displayName: 'A' }],
      cc: [{ address: 'g1@fabrikam.com' }],
    });
  });

  it('uses the envelope sender when the message has no From, and the null sender leaves no Reply-To', async () => {
    const raw = 'To: a@fabrikam.com\r\nSubject: x\r\n\r\nbody\r\n';
    expect((await convert(raw, ['a@fabrikam.com'], 'printer@contoso.com')).replyTo).toEqual([
      { address: 'printer@contoso.com' },
    ]);
    expect((await convert(raw, ['a@fabrikam.com'], '')).replyTo).toBeUndefined();
  });

  it('an HTML-only message is sent as html, without a generated text part', async () => {
    const raw =
      'From: dev@contoso.com\r\nTo: a@fabrikam.com\r\nSubject: x\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>hi</p>\r\n';
    expect((await convert(raw, ['a@fabrikam.com'])).content).toEqual({ subject: 'x', html: '<p>hi</p>\n' });
  });

  it('decodes Shift_JIS bodies', async () => {
    const sjis = Buffer.from([0x82, 0xb1, 0x82, 0xf1, 0x82, 0xc9, 0x82, 0xbf, 0x82, 0xcd]); // こんにちは
    const raw = Buffer.concat([
      Buffer.from(
        'From: dev@contoso.com\r\nTo: a@fabrikam.com\r\nSubject: x\r\nContent-Type: text/plain; charset=Shift_JIS\r\n\r\n',
      ),
      sjis,
      Buffer.from('\r\n'),
    ]);
    const t = buildTemplate(await parseMime(raw), 'dev@contoso.com', OPTS);
    expect(t.base.content.plainText).toBe('こんにちは\n');
  });
});
