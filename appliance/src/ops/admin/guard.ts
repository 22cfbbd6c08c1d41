// The admin surface's front door, before any route runs: which Host names it answers (DNS-rebinding
// defence), which requests may change state (CSRF defence), how big a body may be, and the headers
// every answer carries. Pure functions over node:http requests; no relaykit room below ops is touched.
//
// Host: IP literals and loopback names always pass (a rebinding page can only send its own DNS name,
// which the attacker controls; an IP literal means the page came from that address), other names only
// when configured. This is Transmission's rpc-host-whitelist rule (2018, Project Zero issue 1447).
// State changes: POST/DELETE only, Content-Type application/json (a cross-site <form> can send only
// text/plain, urlencoded or multipart without a preflight, and we answer no preflight), a matching
// Origin or Sec-Fetch-Site same-origin, and the session's CSRF token from the page (OWASP CSRF
// Prevention Cheat Sheet). Requests with none of Origin, Sec-Fetch-Site or a session cookie come from
// a non-browser client (the CLI); they are accepted only where the caller says so (loopback).
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { safeEqual } from './secret.ts';

/** Largest request body the API reads (JSON of a login or an action is well under 1 KiB). */
export const MAX_BODY_BYTES = 16 * 1024;

export class HttpError extends Error {
  readonly status: number;
  readonly headers: OutgoingHttpHeaders;
  constructor(status: number, message: string, headers: OutgoingHttpHeaders = {}) {
    super(oneLine(message));
    this.status = status;
    this.headers = headers;
  }
}

/** Error text for an answer: one line, no control characters, bounded. */
export function oneLine(text: string): string {
  const flat = text.replace(/\p{Cc}+/gu, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 297)}...` : flat;
}

/** The host part of a Host header ("[::1]:8025" → "::1"), lower-cased, without a trailing dot. */
export function hostOf(header: string | undefined): string | undefined {
  if (header === undefined || header === '') return undefined;
  let host = header.trim().toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end < 0) return undefined;
    host = host.slice(1, end);
  } else if (host.split(':').length === 2) {
    host = host.slice(0, host.indexOf(':'));
  } else if (host.includes(':')) {
    return undefined; // an unbracketed IPv6 literal is not a valid Host
  }
  return host.replace(/\.$/, '');
}

const LOOPBACK_NAMES = new Set(['localhost']);

export function hostAllowed(header: string | undefined, names: ReadonlySet<string>): boolean {
  const host = hostOf(header);
  if (host === undefined || host === '') return false;
  if (isIP(host) !== 0) return true;
  return LOOPBACK_NAMES.has(host) || names.has(host);
}

export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = address.replace(/^::ffff:/i, '');
  return a === '::1' || /^127\./.test(a);
}

/** Media type of a Content-Type header without parameters ("application/json; charset=utf-8" → …json). */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

export function isBrowserRequest(req: IncomingMessage, hasSessionCookie: boolean): boolean {
  return req.headers.origin !== undefined || req.headers['sec-fetch-site'] !== undefined || hasSessionCookie;
}

export interface StateChangeContext {
  readonly scheme: 'http' | 'https';
  /** The session's CSRF token when the request carries a valid session cookie. */
  readonly csrfToken: string | undefined;
  /** A non-browser client (no Origin, no Sec-Fetch-Site, no cookie) may act: true on loopback. */
  readonly allowNonBrowser: boolean;
  /** Login has no session yet: Origin and content type are checked, the CSRF token is not. */
  readonly login?: boolean;
}

/** Throws HttpError unless a POST/DELETE may change state. */
export function checkStateChange(req: IncomingMessage, ctx: StateChangeContext): void {
  if (req.method !== 'POST' && req.method !== 'DELETE') {
    throw new HttpError(405, `${req.method} cannot change anything here; use POST or DELETE`, {
      allow: 'GET, HEAD, POST, DELETE',
    });
  }
  if (mediaType(req.headers['content-type']) !== 'application/json') {
    throw new HttpError(415, 'state-changing requests need Content-Type: application/json');
  }
  const origin = req.headers.origin;
  const site = req.headers['sec-fetch-site'];
  const browser = isBrowserRequest(req, ctx.csrfToken !== undefined);
  if (origin !== undefined) {
    const expected = `${ctx.scheme}://${(req.headers.host ?? '').toLowerCase()}`;
    if (origin.toLowerCase() !== expected) {
      throw new HttpError(403, `cross-origin request refused (Origin ${origin} is not ${expected})`);
    }
  }
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new HttpError(403, `cross-site request refused (Sec-Fetch-Site: ${site})`);
  }
  if (!browser) {
    if (ctx.allowNonBrowser) return;
    throw new HttpError(403, 'a browser request with Origin or Sec-Fetch-Site is required here');
  }
  if (origin === undefined && site !== 'same-origin') {
    throw new HttpError(403, 'request without Origin or Sec-Fetch-Site: same-origin refused');
  }
  if (ctx.login) return;
  const token = req.headers['x-csrf-token'];
  if (ctx.csrfToken === undefined) throw new HttpError(403, 'no session: reload the page (or log in)');
  if (typeof token !== 'string' || !safeEqual(token, ctx.csrfToken)) {
    throw new HttpError(403, 'missing or wrong CSRF token: reload the page');
  }
}

/** Reads a JSON object body of at most MAX_BODY_BYTES; an empty body is {}. */
export async function readJsonBody(
  req: IncomingMessage,
  limit = MAX_BODY_BYTES,
): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    req.resume();
    throw new HttpError(413, `request body over ${limit} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      req.resume();
      throw new HttpError(413, `request body over ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'request body is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new HttpError(400, 'request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

/** Headers on every answer: nothing cached, nothing framed or sniffed, no CORS (none is ever sent). */
export const BASE_HEADERS: OutgoingHttpHeaders = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
};

/** CSP of an HTML page: only its own inline script and style (by nonce), only same-origin fetches. */
export function pageCsp(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: OutgoingHttpHeaders = {},
): void {
  res.writeHead(status, { ...BASE_HEADERS, 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}

export function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  type: string,
  headers: OutgoingHttpHeaders = {},
): void {
  res.writeHead(status, { ...BASE_HEADERS, 'content-type': type, ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, err: HttpError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(
    res,
    err.status,
    { error: err.message },
    { ...err.headers, connection: err.status === 413 ? 'close' : 'keep-alive' },
  );
}
