// ACS attachments copied as base64 from the spool file (issue 15 item 4): the copied text is the
// canonical base64 of the original bytes whatever the source's line lengths, line ends and padding;
// text that is not base64 is refused with a reason before anything is sent; and what the ACS
// simulator receives decodes to the original attachments byte for byte.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { routeSchema } from '../../../../appliance/src/config/schema.ts';
import { parseSpooled } from '../../../../appliance/src/delivery/acs/acs-base64-copy.ts';
import { acsBody } from '../../../../appliance/src/delivery/acs/acs-body.ts';
import {
  buildTemplate,
  parseMime,
  placeRecipients,
} from '../../../../appliance/src/delivery/acs/acs-mime.ts';
import { type AcsRouteConfig, AcsTransport } from '../../../../appliance/src/delivery/acs/acs-transport.ts';
import { AcsSimulator } from '../../../helpers/sim/acs.ts';
import { credentialFiles, deps, job, messageFile, tempDir } from '../../../helpers/transport-job.ts';

const SENDER = 'DoNotReply@contoso.com';
const OPTS = {
  sender: { senderAddress: SENDER, provisionedSenders: [], replyToOriginalSender: true },
  passHeaders: [],
  userEngagementTrackingDisabled: true,
};

interface Part {
  type: string;
  name?: string;
  /** The part's body exactly as it stands in the message. */
  body: string;
  encoding?: string;
  disposition?: string;
  cid?: string;
}

function mime(parts: Part[], outer = 'mixed'): string {
  return (
    `From: scanner@contoso.com\r\nTo: alice@fabrikam.com\r\nSubject: copy\r\nMIME-Version: 1.0\r\n` +
    `Content-Type: multipart/${outer}; boundary="=_b"\r\n\r\npreamble\r\n` +
    parts
      .map(
        (p) =>
          `--=_b\r\nContent-Type: ${p.type}\r\nContent-Transfer-Encoding: ${p.encoding ?? 'base64'}\r\n` +
          (p.cid ? `Content-ID: <${p.cid}>\r\n` : '') +
          `Content-Disposition: ${p.disposition ?? 'attachment'}${p.name ? `; filename="${p.name}"` : ''}\r\n\r\n${p.body}\r\n`,
      )
      .join('') +
    '--=_b--\r\nepilogue\r\n'
  );
}

/** Converts a message the way the transport does; returns the JSON and how many parts were copied. */
async function convert(raw: string | Buffer) {
  const dir = tempDir();
  const { mail, spooled } = await parseSpooled(messageFile(dir, raw), parseMime);
  const t = buildTemplate(mail, 'scanner@contoso.com', OPTS, spooled);
  const body = await acsBody(t, placeRecipients(t, ['alice@fabrikam.com']));
  const pieces: Buffer[] = [];
  for await (const p of body.chunks()) pieces.push(p);
  const bytes = Buffer.concat(pieces);
  expect(bytes.length).toBe(body.bytes);
  return { json: JSON.parse(bytes.toString('utf8')), copied: spooled.size };
}

/** Breaks `text` into lines of the given lengths in turn, joined by `eol`. */
function lines(text: string, lengths: number[], eol = '\r\n'): string {
  const out: string[] = [];
  for (let i = 0, k = 0; i < text.length; k++) {
    const n = lengths[k % lengths.length] as number;
    out.push(text.slice(i, i + n));
    i += n;
  }
  return out.join(eol);
}

describe('base64 copied from the spool file', () => {
  // RFC 4648 §10.
  const VECTORS: [string, string][] = [
    ['', ''],
    ['f', 'Zg=='],
    ['fo', 'Zm8='],
    ['foo', 'Zm9v'],
    ['foob', 'Zm9vYg=='],
    ['fooba', 'Zm9vYmE='],
    ['foobar', 'Zm9vYmFy'],
  ];

  it('gives the RFC 4648 test vectors, with the source padded, unpadded or broken into odd lines', async () => {
    for (const [plain, encoded] of VECTORS) {
      const sources = [
        encoded,
        encoded.replace(/=+$/, ''),
        lines(encoded, [1, 3], '\r\n'),
        lines(encoded, [3], '\n'),
      ];
      for (const source of sources) {
        const { json, copied } = await convert(
          mime([{ type: 'application/octet-stream', name: 'v.bin', body: source }]),
        );
        // An empty body has no bytes to copy: mailparser's empty attachment is sent as it is.
        expect(copied, `source ${JSON.stringify(source)}`).toBe(plain === '' ? 0 : 1);
        expect(json.attachments[0].contentInBase64, `"${plain}" from ${JSON.stringify(source)}`).toBe(
          encoded,
        );
      }
    }
  });

  it('clears the unused bits of the last group (RFC 4648 §3.5): "Zm9=" is sent as "Zm8="', async () => {
    const { json } = await convert(mime([{ type: 'application/pdf', name: 'a.pdf', body: 'Zm9=' }]));
    expect(json.attachments[0].contentInBase64).toBe('Zm8=');
  });

  it('copies a large attachment whose lines are of odd and changing lengths, CRLF, LF and trailing blanks', async () => {
    const data = randomBytes(300_007);
    const b64 = data.toString('base64');
    for (const [lengths, eol] of [
      [[76], '\r\n'],
      [[77, 1, 63, 150, 5], '\r\n'],
      [[57], '\n'],
      [[61], ' \r\n'],
    ] as [number[], string][]) {
      const { json, copied } = await convert(
        mime([{ type: 'application/pdf', name: 'scan.pdf', body: lines(b64, lengths, eol) }]),
      );
      expect(copied).toBe(1);
      const sent: string = json.attachments[0].contentInBase64;
      expect(sent.length).toBe(400_012); // 4 × ⌈300007 / 3⌉
      expect(Buffer.from(sent, 'base64').equals(data)).toBe(true);
      expect(sent).toBe(b64);
    }
  });

  it('decodes what is not base64, or not an attachment, as before', async () => {
    const { json, copied } = await convert(
      mime(
        [
          { type: 'text/plain; charset=utf-8', body: 'SGVsbG8sIGJvZHk=', disposition: 'inline' },
          { type: 'text/plain', name: 'notes.txt', encoding: 'quoted-printable', body: 'caf=C3=A9' },
          { type: 'image/png', name: 'logo.png', body: 'iVBORw0KGgo=', disposition: 'inline', cid: 'logo' },
        ],
        'related',
      ),
    );
    expect(copied).toBe(1); // the PNG only
    expect(json.content.plainText).toBe('Hello, body');
    expect(json.attachments).toEqual([
      {
        name: 'notes.txt',
        contentType: 'text/plain',
        contentInBase64: Buffer.from('café').toString('base64'),
      },
      { name: 'logo.png', contentType: 'image/png', contentInBase64: 'iVBORw0KGgo=', contentId: 'logo' },
    ]);
  });
});

describe('ACS transport with copied attachments, against the simulator', () => {
  let sim: AcsSimulator;
  afterEach(async () => {
    await sim?.close();
  });

  async function transport() {
    sim = new AcsSimulator({ senders: [SENDER] });
    await sim.start();
    const dir = tempDir();
    const creds = credentialFiles(dir, { 'acs-key': sim.connectionString });
    const route = routeSchema.parse({
      name: 'acs',
      type: 'acs',
      auth: { type: 'accessKey', connectionString: 'acs-key' },
      senderAddress: SENDER,
      pollInterval: '10ms',
    }) as AcsRouteConfig;
    return { t: new AcsTransport(route, deps({ credentials: creds.store })), dir };
  }

  it('delivers attachments that decode at the service to the original bytes', async () => {
    const { t, dir } = await transport();
    const pdf = randomBytes(1_000_001);
    const png = randomBytes(4_099);
    const raw = mime([
      { type: 'text/plain', body: 'U2Nhbm5lZA==', disposition: 'inline' },
      { type: 'application/pdf', name: 'scan.pdf', body: lines(pdf.toString('base64'), [76]) },
      { type: 'image/png', name: 'p.png', body: lines(png.toString('base64'), [33, 71], '\n') },
    ]);
    const out = await t.deliver(job(messageFile(dir, raw)));
    expect(out.kind).toBe('delivered');
    const m = sim.sent[0]!.message;
    expect(m.content.plainText).toBe('Scanned');
    expect(m.attachments?.map((a) => a.name)).toEqual(['scan.pdf', 'p.png']);
    expect(Buffer.from(m.attachments![0]!.contentInBase64, 'base64').equals(pdf)).toBe(true);
    expect(Buffer.from(m.attachments![1]!.contentInBase64, 'base64').equals(png)).toBe(true);
  });

  it.each([
    ['a byte outside the alphabet', 'Zm9v\r\nYm%y', "'%' at byte 8 is not base64"],
    ['a letter after the padding', 'Zg==Zg==', "a letter after '=' padding at byte 4"],
    ['a truncated last group', 'Zm9vY', 'it ends in a single letter (5 letters: truncated)'],
  ])('refuses %s with the reason, sends nothing, and lets a fallback take it', async (_what, body, why) => {
    const { t, dir } = await transport();
    const raw = mime([{ type: 'application/pdf', name: 'bad.pdf', body }]);
    const out = await t.deliver(job(messageFile(dir, raw)));
    expect(out).toMatchObject({ kind: 'permanent', code: 'RELAY_ACS_MIME_INVALID', fallbackEligible: true });
    expect(out.kind === 'permanent' && out.reason).toBe(
      `attachment 1 (bad.pdf) is not valid base64 in the message: ${why}; not sent rather than sent corrupt`,
    );
    expect(sim.sent).toHaveLength(0);
  });
});
