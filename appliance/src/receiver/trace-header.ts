// The Received: trace header the appliance prepends (RFC 5321 §4.4), so a message's path through
// the relay is visible downstream. Protocol keywords per RFC 3848 (ESMTP, ESMTPS, ESMTPA, ESMTPSA).

export interface TraceInfo {
  readonly heloName?: string;
  readonly sourceIp: string;
  readonly hostname: string;
  readonly id: string;
  readonly esmtp: boolean;
  readonly tls: boolean;
  readonly authenticated: boolean;
  readonly tlsProtocol?: string;
  readonly tlsCipher?: string;
  readonly recipient?: string;
  readonly date: Date;
}

function sanitize(s: string): string {
  return s.replace(/[^\x21-\x7e]/g, '?').slice(0, 200);
}

/** RFC 5322 date-time in UTC. */
export function rfc5322Date(d: Date): string {
  return d.toUTCString().replace(/GMT$/, '+0000');
}

export function receivedHeader(t: TraceInfo): string {
  const proto = `${t.esmtp ? 'ESMTP' : 'SMTP'}${t.tls ? 'S' : ''}${t.authenticated ? 'A' : ''}`;
  const from = `from ${sanitize(t.heloName || 'unknown')} ([${t.sourceIp}])`;
  const tls =
    t.tls && t.tlsProtocol
      ? `\r\n\t(using ${sanitize(t.tlsProtocol)}${t.tlsCipher ? ` with cipher ${sanitize(t.tlsCipher)}` : ''})`
      : '';
  const forPart = t.recipient ? `\r\n\tfor <${sanitize(t.recipient)}>` : '';
  return `Received: ${from}\r\n\tby ${sanitize(t.hostname)} (relaykit) with ${proto} id ${t.id}${tls}${forPart};\r\n\t${rfc5322Date(t.date)}\r\n`;
}
