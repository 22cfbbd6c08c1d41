// Remote syslog, the wire format: one log line (the JSON pino printed, already redacted) as an RFC 5424
// message framed for a stream by octet counting (RFC 6587 §3.4.1, the framing RFC 5425 mandates over
// TLS). Pure; the sender (sender.ts) owns the sockets.
//
//   SYSLOG-FRAME = MSG-LEN SP SYSLOG-MSG
//   SYSLOG-MSG   = PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP
//                  STRUCTURED-DATA SP MSG
//
// PRI is facility × 8 + severity; MSGID is the line's `event` (received, delivered, dead-lettered, …)
// so a collector can filter without parsing JSON; STRUCTURED-DATA carries the IANA-registered
// `meta sequenceId` (gaps show lines dropped while the collector was away) and `origin software
// swVersion` (RFC 5424 §7); MSG is the JSON line as UTF-8 with the BOM the RFC asks for.

/** RFC 5424 §6.2.1 severities for pino's level labels. */
const SEVERITY: Readonly<Record<string, number>> = {
  fatal: 2, // critical
  error: 3,
  warn: 4, // warning
  info: 6, // informational
  debug: 7,
  trace: 7,
};

const NIL = '-';
const BOM = '\uFEFF';

export interface SyslogHeader {
  /** 0–23; 16 = local0. */
  readonly facility: number;
  readonly hostname: string;
  readonly appName: string;
  readonly procId: string;
  readonly software: string;
  readonly swVersion: string;
}

/** PRINTUSASCII (%d33-126), 1 to `max` characters, else the NILVALUE. */
function printable(value: unknown, max: number): string {
  return typeof value === 'string' && value.length <= max && /^[!-~]+$/.test(value) ? value : NIL;
}

/** PARAM-VALUE: '"', '\' and ']' escaped with a backslash (§6.3.3). */
function paramValue(v: string): string {
  return v.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/**
 * TIMESTAMP from the line's ISO `time` (pino's isoTime: millisecond precision, "Z"), or `now`.
 * FULL-DATE "T" FULL-TIME with at most six fractional digits (§6.2.3).
 */
function timestamp(time: unknown, now: number): string {
  const ms = typeof time === 'string' ? Date.parse(time) : typeof time === 'number' ? time : Number.NaN;
  return new Date(Number.isFinite(ms) ? ms : now).toISOString();
}

/** The octet-counted frame of one log line. `seq` is the meta sequenceId (1 … 2147483647). */
export function syslogFrame(line: string, h: SyslogHeader, seq: number, now: number): Buffer {
  const text = line.endsWith('\n') ? line.slice(0, -1) : line;
  let fields: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object') fields = parsed as Record<string, unknown>;
  } catch {
    // Not JSON (never from pino): sent as it is, at "notice" with no MSGID.
  }
  const severity = typeof fields.level === 'string' ? (SEVERITY[fields.level] ?? 5) : 5;
  const pri = h.facility * 8 + severity;
  const sd =
    `[meta sequenceId="${seq}"]` +
    `[origin software="${paramValue(h.software)}" swVersion="${paramValue(h.swVersion)}"]`;
  const msg =
    `<${pri}>1 ${timestamp(fields.time, now)} ${printable(h.hostname, 255)} ${printable(h.appName, 48)} ` +
    `${printable(h.procId, 128)} ${printable(fields.event, 32)} ${sd} ${BOM}${text}`;
  const body = Buffer.from(msg, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}

/** meta sequenceId after `seq`: it wraps from 2147483647 back to 1 (§7.3.1). */
export function nextSequenceId(seq: number): number {
  return seq >= 2_147_483_647 ? 1 : seq + 1;
}
