import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { acsBody } from '../../../../appliance/src/delivery/acs/acs-body.ts';
import {
  buildTemplate,
  parseMime,
  placeRecipients,
} from '../../../../appliance/src/delivery/acs/acs-mime.ts';

const OPTS = {
  sender: { senderAddress: 'DoNotReply@contoso.com', provisionedSenders: [], replyToOriginalSender: true },
  passHeaders: [],
  userEngagementTrackingDisabled: true,
};

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
    const bytes = Buffer.concat([...b.chunks()]);
    expect(bytes.length).toBe(b.bytes);
    expect(b.hash).toBe(createHash('sha256').update(bytes).digest('base64'));
    const json = JSON.parse(bytes.toString('utf8'));
    expect(json.attachments).toEqual([
      { name: 'a.txt', contentType: 'text/plain', contentInBase64: 'Zm9vYmFy' },
      { name: 'b.txt', contentType: 'text/plain', contentInBase64: 'Zm8=' },
    ]);
    expect(json.recipients).toEqual({ to: [{ address: 'alice@fabrikam.com' }] });
    // A second read gives the same bytes (hash first, then the send).
    expect(Buffer.concat([...b.chunks()]).equals(bytes)).toBe(true);
  });

  it('encodes a large attachment in pieces that join into one valid base64 string', async () => {
    const data = Buffer.alloc(200_001, 0xab);
    const b64 = data.toString('base64').replace(/.{76}/g, '$&\r\n');
    const b = await body(message([{ type: 'application/pdf', name: 'scan.pdf', b64 }]));
    const pieces = [...b.chunks()];
    expect(pieces.length).toBeGreaterThan(4);
    expect(Math.max(...pieces.map((p) => p.length))).toBeLessThanOrEqual(64 * 1024);
    const json = JSON.parse(Buffer.concat(pieces).toString('utf8'));
    expect(Buffer.from(json.attachments[0].contentInBase64, 'base64').equals(data)).toBe(true);
    expect(json.attachments[0].contentInBase64.length).toBe(266_668); // 4 × ⌈200001 / 3⌉
  });

  it('leaves message text that looks like a placeholder alone', async () => {
    const b = await body(message([{ type: 'text/plain', name: 'a.txt', b64: 'Zm9v' }], '\\u0001 "x"'));
    const json = JSON.parse(Buffer.concat([...b.chunks()]).toString('utf8'));
    expect(json.content.subject).toBe('\\u0001 "x"');
    expect(json.attachments[0].contentInBase64).toBe('Zm9v');
  });
});
