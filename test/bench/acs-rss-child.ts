// Child process of the ACS conversion bench: converts one spooled message the way the ACS transport
// does (MIME parsed from the file as a stream, the JSON request body streamed and read twice: content
// hash, then the send) and prints how far its RSS rose above the baseline. A process of its own, so
// the figure is the conversion's alone and the heap flags are the ones under test.
import { createReadStream } from 'node:fs';
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
const t = buildTemplate(await parseMime(createReadStream(file)), 'scanner@contoso.com', opts);
const body = acsBody(t, placeRecipients(t, ['alice@fabrikam.com']));
let bytes = 0;
for (const piece of body.chunks()) {
  bytes += piece.length;
  peak = Math.max(peak, process.memoryUsage().rss);
}
const ms = performance.now() - t0;
clearInterval(sample);
peak = Math.max(peak, process.memoryUsage().rss);
process.stdout.write(
  `${JSON.stringify({ grewBytes: peak - base, peakBytes: peak, bodyBytes: bytes, ms })}\n`,
);
