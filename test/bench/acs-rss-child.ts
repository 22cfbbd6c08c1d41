// Child process of the ACS conversion bench: converts one spooled message the way the ACS transport
// does (MIME parsed from the file as a stream with base64 attachments left in it, the JSON request body
// streamed and read twice: content hash, then the send) and prints how far its RSS rose above the baseline. A process of its own, so
// the figure is the conversion's alone and the heap flags are the ones under test.
import { statSync } from 'node:fs';
import { parseSpooled } from '../../appliance/src/delivery/acs/acs-base64-copy.ts';
import { acsBody } from '../../appliance/src/delivery/acs/acs-body.ts';
import { buildTemplate, parseMime, placeRecipients } from '../../appliance/src/delivery/acs/acs-mime.ts';

const file = process.argv[2] as string;
const opts = {
  sender: { senderAddress: 'DoNotReply@contoso.com', provisionedSenders: [], replyToOriginalSender: true },
  passHeaders: [],
  userEngagementTrackingDisabled: true,
};
const base = process.memoryUsage().rss;
let peak = base;
const sample = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 1);
const t0 = performance.now();
const { mail, spooled } = await parseSpooled(
  { path: file, offset: 0, length: statSync(file).size },
  parseMime,
);
const t = buildTemplate(mail, 'scanner@contoso.com', opts, spooled);
const body = await acsBody(t, placeRecipients(t, ['alice@fabrikam.com']));
let bytes = 0;
for await (const piece of body.chunks()) {
  bytes += piece.length;
  peak = Math.max(peak, process.memoryUsage().rss);
}
const ms = performance.now() - t0;
clearInterval(sample);
peak = Math.max(peak, process.memoryUsage().rss);
process.stdout.write(
  `${JSON.stringify({ grewBytes: peak - base, peakBytes: peak, bodyBytes: bytes, ms, copied: spooled.size })}\n`,
);
