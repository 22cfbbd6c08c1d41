// Decides and sends DSNs from delivery events: "failed" when a message is dead-lettered, "delayed"
// once when a message is still queued notices.dsn.delayAfter after it arrived (a marker file beside
// the spool remembers it across restarts). Never for the null sender, Auto-Submitted mail or another
// report; only the dead legs' recipients are listed.
import { open as openFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../../config/schema.ts';
import type { DeliveryEvent } from '../../delivery/events.ts';
import type { Logger } from '../../log.ts';
import type { Delivery } from '../../spool/record.ts';
import { type DsnRecipient, noDsnReason, renderDsn, statusFor } from './dsn.ts';
import { type NoticeOutbox, readHeaderBlock } from './outbox.ts';

export interface DsnSenderDeps {
  readonly config: Config;
  readonly outbox: NoticeOutbox;
  readonly logger: Logger;
  readonly now: () => number;
  /** Directory for "delay DSN sent" markers (beside the spool). */
  readonly markerDir: string;
}

function lastAttempt(d: Delivery) {
  return d.attempts[d.attempts.length - 1];
}

export class DsnSender {
  private readonly deps: DsnSenderDeps;

  constructor(deps: DsnSenderDeps) {
    this.deps = deps;
  }

  /** Handles one event; never throws (a notice must not hurt delivery). */
  async onEvent(e: DeliveryEvent): Promise<void> {
    try {
      if (e.kind === 'dead') await this.failed(e);
      if (e.kind === 'deferred') await this.delayed(e);
    } catch (err) {
      this.deps.logger.error({ err, id: e.id, event: 'notice-failed' }, 'notices: could not send a DSN');
    }
  }

  private async eligible(id: string, mailFrom: string, headers: string): Promise<boolean> {
    const why = noDsnReason(mailFrom, headers);
    if (why !== undefined) {
      this.deps.logger.info({ event: 'dsn-skipped', id, reason: why }, 'notices: no DSN');
      return false;
    }
    return true;
  }

  private async failed(e: Extract<DeliveryEvent, { kind: 'dead' }>): Promise<void> {
    const { config } = this.deps;
    if (!config.notices.dsn.enabled || config.notices.route === undefined) return;
    const headers = await readHeaderBlock(e.message);
    if (!(await this.eligible(e.id, e.header.envelope.mailFrom, headers))) return;
    const recipients: DsnRecipient[] = e.deliveries
      .filter((d) => d.status === 'dead')
      .flatMap((d) => {
        const last = lastAttempt(d);
        const reason = d.deadReason ?? last?.reason ?? 'undeliverable';
        const code = /^(RELAY_[A-Z_]+):/.exec(reason)?.[1] as Parameters<typeof statusFor>[1];
        return d.recipients.map((r) => ({
          recipient: r,
          status: statusFor('failed', code ?? last?.code, reason),
          diagnostic: reason,
          ...(last ? { lastAttemptAt: Date.parse(last.at) } : {}),
        }));
      });
    await this.send(e.id, 'failed', e.header, headers, recipients);
  }

  private async delayed(e: Extract<DeliveryEvent, { kind: 'deferred' }>): Promise<void> {
    const { config, now } = this.deps;
    const after = config.notices.dsn.delayAfter;
    if (!config.notices.dsn.enabled || config.notices.route === undefined || after <= 0) return;
    if (now() - e.header.receivedAt < after) return;
    // Once per message, across restarts: the marker's exclusive create is the decision.
    try {
      const fh = await openFile(join(this.deps.markerDir, `${e.id}.delayed`), 'wx');
      await fh.close();
    } catch {
      return;
    }
    const headers = await readHeaderBlock(e.message);
    if (!(await this.eligible(e.id, e.header.envelope.mailFrom, headers))) return;
    const recipients = e.delivery.recipients.map((r) => ({
      recipient: r,
      status: statusFor('delayed', e.code, e.reason),
      diagnostic: `${e.code}: ${e.reason}`,
      lastAttemptAt: now(),
    }));
    await this.send(
      e.id,
      'delayed',
      e.header,
      headers,
      recipients,
      e.header.receivedAt + config.spool.maxAge,
    );
  }

  private async send(
    id: string,
    action: 'failed' | 'delayed',
    header: { envelope: { mailFrom: string }; receivedAt: number; subject?: string; messageId?: string },
    originalHeaders: string,
    recipients: DsnRecipient[],
    willRetryUntil?: number,
  ): Promise<void> {
    const { config } = this.deps;
    const raw = renderDsn({
      action,
      reportingMta: config.appliance.hostname,
      from: config.notices.from as string,
      to: header.envelope.mailFrom,
      arrivalDate: header.receivedAt,
      recipients,
      originalHeaders,
      ...(header.subject === undefined ? {} : { originalSubject: header.subject }),
      ...(header.messageId === undefined ? {} : { originalMessageId: header.messageId }),
      ...(willRetryUntil === undefined ? {} : { willRetryUntil }),
      now: this.deps.now(),
    });
    const dsnId = await this.deps.outbox.send(raw, [header.envelope.mailFrom], 'dsn');
    this.deps.logger.info(
      { event: 'dsn', id, dsn: dsnId, action, to: header.envelope.mailFrom, recipients: recipients.length },
      `notices: ${action} DSN queued`,
    );
  }
}
