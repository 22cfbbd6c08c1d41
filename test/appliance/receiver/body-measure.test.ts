// Body measurement before the 250 (receiver/body-measure.ts): the decoded size of the text/HTML a
// transport would send inline, across transfer encodings and MIME shapes, read from a file the way
// the receiver reads the spool's temporary file.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { measureBody } from '../../../appliance/src/receiver/body-measure.ts';

const dir = mkdtempSync(join(tmpdir(), 'relaykit-measure-'));
let n = 0;
async function measure(raw: string) {
  const path = join(dir, `m${n++}.eml`);
  writeFileSync(path, raw, 'latin1');
  return measureBody({ path, offset: 0, length: Buffer.byteLength(raw, 'latin1') });
}

const HEAD = 'From: a@contoso.com\r\nTo: b@contoso.com\r\nSubject: t\r\nMIME-Version: 1.0\r\n';

describe('measureBody', () => {
  it('a single-part 7bit text body counts its bytes', async () => {
    const body = `${'x'.repeat(998)}\r\n`.repeat(1000);
    const m = await measure(`${HEAD}Content-Type: text/plain\r\n\r\n${body}`);
    expect(m.html).toBe(0);
    expect(m.body).toBe(m.text);
    // mailsplit may keep or drop the final line break; the count is the body give or take that.
    expect(Math.abs(m.text - 1_000_000)).toBeLessThanOrEqual(2);
  });

  it('base64 counts decoded bytes (3 per 4 letters)', async () => {
    const raw = Buffer.alloc(300_000, 0x61).toString('base64').replace(/.{76}/g, '$&\r\n');
    const m = await measure(
      `${HEAD}Content-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n${raw}\r\n`,
    );
    expect(m.html).toBe(300_000);
    expect(m.body).toBe(300_000);
  });

  it('quoted-printable counts =XX as one byte and drops soft breaks, across chunk edges', async () => {
    // 64 KiB of "=3D" escapes and soft breaks: chunks of the file stream end mid-escape.
    const line = `${'=3D'.repeat(25)}=\r\n`;
    const m = await measure(
      `${HEAD}Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${line.repeat(4000)}end\r\n`,
    );
    expect(Math.abs(m.text - (25 * 4000 + 3))).toBeLessThanOrEqual(2);
  });

  it('multipart: attachments do not count; HTML wins over text as the draft body', async () => {
    const att = Buffer.alloc(500_000, 1).toString('base64').replace(/.{76}/g, '$&\r\n');
    const raw =
      `${HEAD}Content-Type: multipart/mixed; boundary="B1"\r\n\r\n` +
      `--B1\r\nContent-Type: multipart/alternative; boundary="B2"\r\n\r\n` +
      `--B2\r\nContent-Type: text/plain\r\n\r\n${'t'.repeat(1000)}\r\n` +
      `--B2\r\nContent-Type: text/html\r\n\r\n${'h'.repeat(2000)}\r\n--B2--\r\n` +
      `--B1\r\nContent-Type: application/pdf; name="a.pdf"\r\nContent-Disposition: attachment; filename="a.pdf"\r\n` +
      `Content-Transfer-Encoding: base64\r\n\r\n${att}\r\n--B1--\r\n`;
    const m = await measure(raw);
    expect(m.text).toBeGreaterThanOrEqual(1000);
    expect(m.text).toBeLessThan(1010);
    expect(m.html).toBeGreaterThanOrEqual(2000);
    expect(m.html).toBeLessThan(2010);
    expect(m.body).toBe(m.html);
  });
});
