// The spool record: the one thing receive, route and deliver share. A spooled message is an
// immutable header (who sent what to whom, how it was routed) plus the raw message bytes, and a
// mutable state (attempt history per delivery) kept beside it. No room passes anything else to
// another.
import type { ErrorCode } from '../errors.ts';

export interface Envelope {
  /** MAIL FROM; "" for the null sender. */
  readonly mailFrom: string;
  /** Every RCPT TO, in order. Bcc recipients exist only here. */
  readonly rcptTo: readonly string[];
}

export type AttemptOutcome = 'delivered' | 'transient' | 'permanent';

export interface Attempt {
  /** ISO time the attempt started. */
  readonly at: string;
  readonly route: string;
  readonly outcome: AttemptOutcome;
  readonly code?: ErrorCode;
  readonly reason: string;
  readonly hint?: string;
  readonly durationMs: number;
  /** The request may have reached the service before it failed (504, timeout after send). */
  readonly possibleDuplicate?: boolean;
  /** Id the remote service gave the message (Graph draft id, ACS operation id, SMTP queue id). */
  readonly remoteId?: string;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'dead';

/** One leg of a message: the recipients that go out through one route. */
export interface Delivery {
  readonly route: string;
  readonly recipients: readonly string[];
  /** Mailbox to send as, when a rule or identity fixes one (Graph). */
  readonly sendAs?: string;
  /** Envelope sender rewrite decided by a rule. */
  readonly mailFrom?: string;
  /** Name of the rule that chose this route ("default" when none matched). */
  readonly rule: string;
  readonly status: DeliveryStatus;
  readonly attempts: readonly Attempt[];
  /** Epoch ms before which no attempt is made. */
  readonly nextAttemptAt: number;
  /** Routes already tried for this leg, in order, when a fallback took over. */
  readonly via?: readonly string[];
  /** Why the leg was dead-lettered. */
  readonly deadReason?: string;
}

export interface SpoolHeader {
  readonly version: 1;
  readonly id: string;
  /** Epoch ms when DATA completed. */
  readonly receivedAt: number;
  readonly envelope: Envelope;
  readonly identity: string;
  readonly authUser?: string;
  readonly sourceIp: string;
  readonly listener: string;
  readonly heloName?: string;
  readonly tls?: { readonly protocol?: string; readonly cipher?: string };
  /** Message-ID header value, for operators and duplicate detection. */
  readonly messageId?: string;
  readonly subject?: string;
  /** Routing decided at intake; progress lives in the state file. */
  readonly deliveries: readonly Delivery[];
}

export interface SpoolState {
  readonly deliveries: readonly Delivery[];
  readonly updatedAt: number;
}

/** A message's bytes inside its spool file. */
export interface MessageSource {
  readonly path: string;
  /** Byte offset of the message within the file. */
  readonly offset: number;
  /** Message length in bytes (trace header included). */
  readonly length: number;
}
