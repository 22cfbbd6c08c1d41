// Request signing for the ACS Email transport: the access-key HMAC-SHA256 scheme of the ACS data
// plane (string-to-sign = VERB \n pathAndQuery \n date;host;content-hash) and connection string
// parsing. Pure functions; the simulator in test/helpers/sim/acs.ts verifies with its own code.
import { createHash, createHmac } from 'node:crypto';
import { RelayError } from '../../errors.ts';

/** The Entra scope of the ACS data plane (reference B2); here so naming it loads no transport. */
export const ACS_SCOPE = 'https://communication.azure.com/.default';

export interface AcsConnection {
  readonly endpoint: string;
  readonly accessKey: string;
}

/** `endpoint=https://x.communication.azure.com/;accessKey=<base64>` (keys case-insensitive). */
export function parseConnectionString(text: string): AcsConnection {
  const parts = new Map<string, string>();
  for (const piece of text.trim().split(';')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    if (eq <= 0) continue;
    parts.set(piece.slice(0, eq).trim().toLowerCase(), piece.slice(eq + 1).trim());
  }
  const endpoint = parts.get('endpoint');
  const accessKey = parts.get('accesskey');
  // Never echo the text: it holds the key.
  if (!endpoint || !accessKey) {
    throw new RelayError(
      'RELAY_CREDENTIAL_UNAVAILABLE',
      'the ACS connection string must have the form endpoint=https://<resource>.communication.azure.com/;accessKey=<key>',
    );
  }
  if (!URL.canParse(endpoint)) {
    throw new RelayError('RELAY_CREDENTIAL_UNAVAILABLE', 'the ACS connection string endpoint is not a URL');
  }
  return { endpoint, accessKey };
}

export function contentHash(body: string | Uint8Array): string {
  return createHash('sha256').update(body).digest('base64');
}

export function stringToSign(method: string, url: URL, date: string, hash: string): string {
  return `${method.toUpperCase()}\n${url.pathname}${url.search}\n${date};${url.host};${hash}`;
}

/** Headers that authenticate one request with the access key. */
export function hmacHeaders(
  method: string,
  url: URL,
  body: string | Uint8Array,
  accessKey: string,
  now: Date,
): Record<string, string> {
  return hmacHeadersFor(method, url, contentHash(body), accessKey, now);
}

/** The same, for a body hashed as it was streamed (`hash` = contentHash of its bytes). */
export function hmacHeadersFor(
  method: string,
  url: URL,
  hash: string,
  accessKey: string,
  now: Date,
): Record<string, string> {
  const date = now.toUTCString();
  const signature = createHmac('sha256', Buffer.from(accessKey, 'base64'))
    .update(stringToSign(method, url, date, hash), 'utf8')
    .digest('base64');
  return {
    'x-ms-date': date,
    'x-ms-content-sha256': hash,
    authorization: `HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=${signature}`,
  };
}
