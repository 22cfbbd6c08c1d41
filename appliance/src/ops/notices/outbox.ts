// Puts a message the appliance writes itself (a DSN, an alert) into the spool like any received
// message: null envelope sender (so it can never be answered by another notice), one leg on
// notices.route sending as notices.from. From there the engine retries and dead-letters it like any
// other mail; a notice that fails is dead-lettered once and nothing answers it.
import { open } from 'node:fs/promises';
import { RelayError } from '../../errors.ts';
import { newEntryId } from '../../spool/entry-name.ts';
import type { MessageSource, SpoolHeader } from '../../spool/record.ts';
import type { Spool, SpoolEntry } from '../../spool/spool.ts';

export interface NoticeOutbox {
  send(raw: string, to: readonly string[], kind: 'dsn' | 'alert'): Promise<string>;
}

export function createOutbox(deps: {
  readonly spool: Spool;
  readonly route: string;
  readonly from: string;
  readonly now: () => number;
  readonly onSpooled: (entry: SpoolEntry) => void;
}): NoticeOutbox {
  return {
    async send(raw, to, kind) {
      const now = deps.now();
      const id = newEntryId(now);
      const writer = await deps.spool.begin(id);
      try {
        await writer.write(Buffer.from(raw, 'utf8'));
      } catch (err) {
        await writer.abort();
        throw new RelayError('RELAY_SPOOL_WRITE', undefined, { cause: err });
      }
      const header: SpoolHeader = {
        version: 1,
        id,
        receivedAt: now,
        envelope: { mailFrom: '', rcptTo: [...to] },
        identity: `relaykit-${kind}`,
        sourceIp: '127.0.0.1',
        listener: 'notices',
        messageId: /^Message-ID: (.+)$/m.exec(raw)?.[1]?.trim() ?? id,
        subject: /^Subject: (.+)$/m.exec(raw)?.[1]?.trim() ?? kind,
        deliveries: [
          {
            route: deps.route,
            recipients: [...to],
            sendAs: deps.from,
            rule: `notices.${kind}`,
            status: 'pending',
            attempts: [],
            nextAttemptAt: now,
          },
        ],
      };
      deps.onSpooled(await writer.commit(header));
      return id;
    },
  };
}

/** The header block of a spooled message (at most the first 64 KiB are read). */
export async function readHeaderBlock(msg: MessageSource): Promise<string> {
  const fh = await open(msg.path, 'r');
  try {
    const len = Math.min(msg.length, 64 * 1024);
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, msg.offset);
    const text = buf.toString('latin1');
    const end = text.search(/\r?\n\r?\n/);
    return (end < 0 ? text : text.slice(0, end)).replace(/\r?\n/g, '\r\n');
  } finally {
    await fh.close();
  }
}
