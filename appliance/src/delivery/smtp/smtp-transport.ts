// SMTP smarthost transport: hands the spooled bytes unchanged to a smarthost with nodemailer's SMTP
// client (which dot-stuffs and normalises line ends), using the leg's envelope, never the headers.
// TLS is verified (STARTTLS required or implicit), AUTH is PLAIN/LOGIN with a credential or XOAUTH2
// with a client-credentials token, and a client certificate can be presented for an Exchange Online
// certificate connector. Replies are classified per transaction and per recipient (smtp-errors.ts).
// Touches only the network, credentials and tokens; never the spool.
import { readFileSync } from 'node:fs';
import { type ConnectionOptions, rootCertificates } from 'node:tls';
import nodemailer from 'nodemailer';
import type { NodemailerError } from 'nodemailer/lib/errors';
import type { SMTPTransportOptions } from 'nodemailer/lib/smtp-transport';
import { RelayError } from '../../errors.ts';
import { pemCertificateBlocks, pemPrivateKeyBlock } from '../../pem.ts';
import type { FailureFacts } from '../failure.ts';
import { chunk, combineOutcomes, type LegFailure, type RecipientResult } from '../recipient-outcomes.ts';
import {
  type DeliveryJob,
  type DeliveryOutcome,
  openMessage,
  type Transport,
  type TransportDeps,
  type TransportHealth,
} from '../transport.ts';
import { classifySmtpFailure } from './smtp-errors.ts';
import { type ResolvedSmtp, resolveSmtpRoute, type SmtpRouteConfig } from './smtp-presets.ts';

const CERT_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME|UNABLE_TO_GET_ISSUER/;

/** "550 5.7.68 text" → "5.7.68". */
export function enhancedCode(response: string | undefined): string | undefined {
  return /^\d{3}[ -](\d\.\d{1,3}\.\d{1,3})\b/.exec(response ?? '')?.[1];
}

/** The facts of one nodemailer error, for the classification table. */
export function smtpFacts(err: NodemailerError): FailureFacts {
  const original = typeof err.originalCode === 'string' ? err.originalCode : '';
  const certProblem = CERT_ERROR.test(original) || (err.code === 'ESOCKET' && CERT_ERROR.test(err.message));
  const enhanced = enhancedCode(err.response);
  return {
    transport: 'smtp',
    ...(err.responseCode === undefined ? {} : { smtpCode: err.responseCode }),
    ...(enhanced === undefined ? {} : { smtpEnhanced: enhanced }),
    message: err.response ?? err.message,
    // EABORT is our own shutdown signal: the generic ABORT row.
    ...(certProblem
      ? { errno: 'CERT' }
      : err.code === 'EABORT'
        ? { errno: 'ABORT' }
        : err.code === undefined
          ? {}
          : { errno: err.code }),
  };
}

function failureOf(err: NodemailerError, context: string): LegFailure {
  const c = classifySmtpFailure(smtpFacts(err));
  const said = err.response ?? err.message;
  return {
    outcome: c.outcome,
    code: c.code,
    reason: `${context}: ${said}`,
    ...(c.hint === undefined ? {} : { hint: c.hint }),
    ...(c.fallbackEligible === undefined ? {} : { fallbackEligible: c.fallbackEligible }),
  };
}

/** Splits "-----BEGIN CERTIFICATE-----…" chains from the private key in one PEM bundle. */
export function splitPem(pem: string): { cert: string; key: string } {
  const cert = pemCertificateBlocks(pem).join('\n');
  const key = pemPrivateKeyBlock(pem)?.text;
  if (cert === '' || key === undefined) {
    throw new RelayError(
      'RELAY_CREDENTIAL_UNAVAILABLE',
      'the client certificate credential must hold a PEM certificate and its private key',
    );
  }
  return { cert, key };
}

export class SmtpTransport implements Transport {
  readonly route: string;
  readonly type = 'smtp' as const;
  readonly settings: ResolvedSmtp;
  private readonly deps: TransportDeps;
  private readonly ca: string | undefined;
  private forceTokenRefresh = false;
  /** Last credential or TLS failure, until a transaction succeeds: config the operator must fix. */
  private problem: string | undefined;

  constructor(cfg: SmtpRouteConfig, deps: TransportDeps) {
    this.route = cfg.name;
    this.deps = deps;
    this.settings = resolveSmtpRoute(cfg);
    if (this.settings.ca !== undefined) {
      try {
        this.ca = readFileSync(this.settings.ca, 'utf8');
      } catch (err) {
        throw new RelayError(
          'RELAY_CONFIG_REFERENCE',
          `routes.${cfg.name}.tls.ca: cannot read ${this.settings.ca}`,
          {
            cause: err,
          },
        );
      }
    }
  }

  health(): TransportHealth {
    return this.problem === undefined ? { ok: true } : { ok: false, detail: this.problem };
  }

  async deliver(job: DeliveryJob): Promise<DeliveryOutcome> {
    const s = this.settings;
    if (s.maxMessageSize !== undefined && job.message.length > s.maxMessageSize) {
      return {
        kind: 'permanent',
        code: 'RELAY_SMTP_TOO_LARGE',
        reason: `the message is ${job.message.length} bytes; preset ${s.preset} takes ${s.maxMessageSize}`,
        fallbackEligible: true,
      };
    }
    let options: SMTPTransportOptions;
    try {
      options = await this.connectionOptions(job.signal);
    } catch (err) {
      const relay = err instanceof RelayError ? err : undefined;
      return {
        kind: 'transient',
        code: relay?.code ?? 'RELAY_TOKEN_FAILED',
        reason: `cannot prepare SMTP credentials: ${(err as Error).message}`,
      };
    }

    const seen = new Set<string>();
    const recipients = job.recipients.filter((r) => !seen.has(r.toLowerCase()) && seen.add(r.toLowerCase()));
    const results: RecipientResult[] = [];
    const responses: string[] = [];
    let stop: LegFailure | undefined;
    for (const group of chunk(recipients, s.maxRecipients)) {
      if (stop !== undefined) {
        for (const r of group)
          results.push({ recipient: r, ok: false, failure: { ...stop, reason: `not sent: ${stop.reason}` } });
        continue;
      }
      const r = await this.sendTransaction(job, options, group);
      results.push(...r.results);
      if (r.results.some((x) => x.ok)) this.problem = undefined;
      if (
        r.stop !== undefined &&
        (r.stop.code === 'RELAY_SMTP_AUTH_FAILED' || r.stop.code === 'RELAY_SMTP_TLS')
      ) {
        this.problem = r.stop.reason;
      }
      this.deps.logger.debug(
        {
          id: job.id,
          leg: job.leg,
          smarthost: `${s.host}:${s.port}`,
          recipients: group.length,
          refused: r.results.filter((x) => !x.ok).length,
          ...(r.response === undefined ? {} : { response: r.response }),
        },
        'smtp: transaction',
      );
      if (r.response !== undefined) responses.push(r.response);
      if (r.stop !== undefined) stop = r.stop;
    }
    return combineOutcomes(
      results,
      (accepted, total) =>
        `${s.host}:${s.port} accepted ${accepted === total ? total : `${accepted} of ${total}`} recipient(s)`,
      responses.join(' | ').slice(0, 500),
    );
  }

  /**
   * Connect, EHLO, STARTTLS and AUTH exactly as a delivery would, then QUIT: proves the route without
   * sending mail (`check --online`). Throws what nodemailer throws; smtpFacts classifies it.
   */
  async verify(signal: AbortSignal): Promise<void> {
    const transporter = nodemailer.createTransport(await this.connectionOptions(signal));
    try {
      await transporter.verify();
    } finally {
      transporter.close();
    }
  }

  private async connectionOptions(signal: AbortSignal): Promise<SMTPTransportOptions> {
    const s = this.settings;
    const tls: ConnectionOptions = {
      rejectUnauthorized: true,
      minVersion: s.minVersion,
      // Node's `ca` replaces the built-in roots: keep them, so a private CA only adds trust.
      ...(this.ca === undefined ? {} : { ca: [...rootCertificates, this.ca] }),
      ...(s.servername === undefined ? {} : { servername: s.servername }),
    };
    if (s.clientCertificate !== undefined) {
      Object.assign(tls, splitPem(await this.deps.credentials.get(s.clientCertificate)));
    }
    const options: SMTPTransportOptions = {
      host: s.host,
      port: s.port,
      secure: s.tls === 'implicit',
      requireTLS: s.tls === 'starttls',
      ignoreTLS: s.tls === 'none',
      tls,
      ...(s.servername === undefined ? {} : { servername: s.servername }),
      ...(s.ehloName === undefined ? {} : { name: s.ehloName }),
      connectionTimeout: s.connectionTimeout,
      greetingTimeout: s.greetingTimeout,
      socketTimeout: s.socketTimeout,
      logger: false,
      debug: false,
    };
    const auth = s.auth;
    if (auth.type === 'password') {
      options.auth = {
        type: 'login',
        user: auth.username,
        pass: await this.deps.credentials.get(auth.password),
        ...(auth.method === undefined ? {} : { method: auth.method }),
      };
    } else if (auth.type === 'xoauth2') {
      const force = this.forceTokenRefresh;
      this.forceTokenRefresh = false;
      let accessToken: string;
      try {
        accessToken = await this.deps.tokens
          .forApp(auth.app)
          .getToken(s.scope, { signal, forceRefresh: force });
      } catch (err) {
        throw new RelayError('RELAY_TOKEN_FAILED', (err as Error).message, { cause: err });
      }
      options.auth = { type: 'OAuth2', user: auth.user, accessToken };
    }
    return options;
  }

  private async sendTransaction(
    job: DeliveryJob,
    options: SMTPTransportOptions,
    recipients: readonly string[],
  ): Promise<{ results: RecipientResult[]; response?: string; stop?: LegFailure }> {
    const transporter = nodemailer.createTransport(options);
    try {
      const info = await transporter.sendMail({
        envelope: { from: job.mailFrom, to: [...recipients] },
        raw: openMessage(job.message),
        signal: job.signal,
      });
      const refused = new Map<string, LegFailure>();
      for (const e of info.rejectedErrors ?? []) {
        if (e.recipient !== undefined)
          refused.set(e.recipient.toLowerCase(), failureOf(e, `RCPT ${e.recipient}`));
      }
      for (const r of info.rejected) {
        if (!refused.has(r.toLowerCase())) {
          refused.set(r.toLowerCase(), {
            outcome: 'permanent',
            code: 'RELAY_SMTP_REJECTED',
            reason: `RCPT ${r} refused`,
          });
        }
      }
      return {
        results: recipients.map((r): RecipientResult => {
          const f = refused.get(r.toLowerCase());
          return f === undefined ? { recipient: r, ok: true } : { recipient: r, ok: false, failure: f };
        }),
        response: info.response,
      };
    } catch (e) {
      const err = e as NodemailerError;
      if (err.code === 'EAUTH' && this.settings.auth.type === 'xoauth2') this.forceTokenRefresh = true;
      if (err.code === 'EAUTH' && this.settings.auth.type === 'password') {
        this.deps.credentials.invalidate(this.settings.auth.password);
      }
      // Every RCPT refused: judge each one by its own reply.
      if (err.code === 'EENVELOPE' && err.rejectedErrors !== undefined && err.rejectedErrors.length > 0) {
        const byRcpt = new Map(
          err.rejectedErrors.map((r) => [
            (r.recipient ?? '').toLowerCase(),
            failureOf(r, `RCPT ${r.recipient}`),
          ]),
        );
        const fallback = failureOf(err, 'RCPT');
        return {
          results: recipients.map((r) => ({
            recipient: r,
            ok: false,
            failure: byRcpt.get(r.toLowerCase()) ?? fallback,
          })),
        };
      }
      const failure = failureOf(
        err,
        `${this.settings.host}:${this.settings.port}${err.command ? ` ${err.command}` : ''}`,
      );
      return {
        results: recipients.map((r) => ({ recipient: r, ok: false, failure })),
        // A connection, TLS or AUTH problem will hit the next transaction too.
        ...(failure.outcome === 'transient' ? { stop: failure } : {}),
      };
    } finally {
      transporter.close();
    }
  }
}

export function createSmtpTransport(route: SmtpRouteConfig, deps: TransportDeps): Transport {
  return new SmtpTransport(route, deps);
}
