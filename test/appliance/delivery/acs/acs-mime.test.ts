import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { acsBody } from '../../../../appliance/src/delivery/acs/acs-body.ts';
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

function message(parts: { type: string; name: string; b64: string }[], subject = 'Scan'): string {
  return (
    `From: scanner@contoso.com\r\nTo: alice@fabrikam.com\r\nSubject: ${subject}\r\nMIME-Version: 1.0\r\n` +
    'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n' +
    parts
      .map(
        (p) =>
          `--b\r\nContent-Type: ${p.type}\r\nContent-Transfer-Encoding: base64\r\n` +
          `Content-Disposition: attachment; filename=${p.name}\r\n\r\n${p.b64}\r\n`,
      )
      .join('') +
    '--b--\r\n'
  );
}

async function all(pieces: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const p of pieces) out.push(p);
  return out;
}

async function body(raw: string) {
  const t = buildTemplate(await parseMime(Buffer.from(raw)), 'scanner@contoso.com', OPTS);
  return acsBody(t, placeRecipients(t, ['alice@fabrikam.com']));
}

describe('streamed ACS request body', () => {
  it('is the EmailMessage JSON with each attachment base64 in place, its size and SHA-256 exact', async () => {
    // RFC 4648 §10 test vectors: "foobar" → Zm9vYmFy, "fo" → Zm8= (padding only at the end).
    const b = await body(
      message([
        { type: 'text/plain', name: 'a.txt', b64: 'Zm9vYmFy' },
        { type: 'text/plain', name: 'b.txt', b64: 'Zm8=' },
      ]),
    );
    const bytes = Buffer.concat(await all(b.chunks()));
    expect(bytes.length).toBe(b.bytes);
    expect(b.hash).toBe(createHash('sha256').update(bytes).digest('base64'));
    const json = JSON.parse(bytes.toString('utf8'));
    expect(json.attachments).toEqual([
      { name: 'a.txt', contentType: 'text/plain', contentInBase64: 'Zm9vYmFy' },
      { name: 'b.txt', contentType: 'text/plain', contentInBase64: 'Zm8=' },
    ]);
    expect(json.recipients).toEqual({ to: [{ address: 'alice@fabrikam.com' }] });
    // A second read gives the same bytes (hash first, then the send).
    expect(Buffer.concat(await all(b.chunks())).equals(bytes)).toBe(true);
  });

  it('encodes a large attachment in pieces that join into one valid base64 string', async () => {
    const data = Buffer.alloc(200_001, 0xab);
    const b64 = data.toString('base64').replace(/.{76}/g, '$&\r\n');
    const b = await body(message([{ type: 'application/pdf', name: 'scan.pdf', b64 }]));
    const pieces = await all(b.chunks());
    expect(pieces.length).toBeGreaterThan(4);
    expect(Math.max(...pieces.map((p) => p.length))).toBeLessThanOrEqual(64 * 1024);
    const json = JSON.parse(Buffer.concat(pieces).toString('utf8'));
    expect(Buffer.from(json.attachments[0].contentInBase64, 'base64').equals(data)).toBe(true);
    expect(json.attachments[0].contentInBase64.length).toBe(266_668); // 4 × ⌈200001 / 3⌉
  });

  it('leaves message text that looks like a placeholder alone', async () => {
    const b = await body(message([{ type: 'text/plain', name: 'a.txt', b64: 'Zm9v' }], '\\u0001 "x"'));
    const json = JSON.parse(Buffer.concat(await all(b.chunks())).toString('utf8'));
    expect(json.content.subject).toBe('\\u0001 "x"');
    expect(json.attachments[0].contentInBase64).toBe('Zm9v');
  });
});
