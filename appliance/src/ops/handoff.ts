// Ops room: hand a stopped pod's spool to a peer before its volume goes away (Kubernetes scale-down,
// a VM being retired). Each queued message is resent by SMTP, with its envelope's still-pending
// recipients, to a peer relay, and removed from this spool only after the peer's 250 for it (the
// peer fsynced it). A refusal or an outage keeps the entry here: running it again is safe, at worst a
// message whose 250 was lost on the wire arrives twice. Reads the spool and delivery's message reader.
import { openMessage } from '../delivery/transport.ts';
import type { Spool, SpoolEntry } from '../spool/spool.ts';

export interface HandoffPeer {
  readonly host: string;
  readonly port: number;
  /** Name sent in EHLO. */
  readonly name: string;
  /** Verify the peer's certificate when it offers STARTTLS (off only for a private CA you cannot pass). */
  readonly verifyTls: boolean;
  readonly timeoutMs: number;
}

export interface HandoffOutcome {
  readonly id: string;
  readonly ok: boolean;
  /** The peer's reply (or the error) for this message. */
  readonly reply: string;
}

/** The recipients a handoff resends: those of legs not yet delivered or dead-lettered. */
export function pendingRecipients(entry: SpoolEntry): string[] {
  const out = new Set<string>();
  for (const d of entry.deliveries) if (d.status === 'pending') for (const r of d.recipients) out.add(r);
  return [...out];
}

/** Hands every queued entry to `peer`; calls `onEach` per message as it happens. */
export async function handoffQueue(
  spool: Spool,
  peer: HandoffPeer,
  onEach: (o: HandoffOutcome) => void = () => {},
): Promise<HandoffOutcome[]> {
  // Loaded here, not with the CLI: the relay itself never hands off, and nodemailer is ~0.4 MB of RSS.
  const { default: nodemailer } = await import('nodemailer');
  const transport = nodemailer.createTransport({
    host: peer.host,
    port: peer.port,
    secure: false,
    name: peer.name,
    pool: true,
    maxConnections: 1,
    connectionTimeout: peer.timeoutMs,
    greetingTimeout: peer.timeoutMs,
    socketTimeout: peer.timeoutMs,
    tls: { rejectUnauthorized: peer.verifyTls, minVersion: 'TLSv1.2' },
  });
  const results: HandoffOutcome[] = [];
  try {
    for (const entry of await spool.list('queue')) {
      const id = entry.header.id;
      const to = pendingRecipients(entry);
      let outcome: HandoffOutcome;
      if (to.length === 0) {
        outcome = { id, ok: false, reply: 'no pending recipient; left for the relay to finish' };
      } else {
        try {
          const info = await transport.sendMail({
            envelope: { from: entry.header.envelope.mailFrom, to },
            raw: openMessage(entry.message),
          });
          const accepted = info.rejected.length === 0 && /^250[ -]/.test(info.response);
          if (accepted) await spool.delete('queue', id);
          outcome = { id, ok: accepted, reply: info.response };
        } catch (err) {
          outcome = { id, ok: false, reply: (err as Error).message };
        }
      }
      results.push(outcome);
      onEach(outcome);
    }
  } finally {
    transport.close();
  }
  return results;
}
