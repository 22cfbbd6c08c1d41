// Receiving room: what the receiver knows about one SMTP session beyond smtp-server's own session,
// written by the command gates (session-gates.ts) and read by the DATA path (data-path.ts).
import type { IdentityConfig } from '../config/schema.ts';

export interface SessionState {
  identity?: IdentityConfig;
  /** How the identity was established. */
  via?: 'network' | 'certificate' | 'auth';
  authUser?: string;
  /** Verified client certificate, when one identified the session. */
  cert?: { subject?: string; fingerprint?: string };
  /** Negotiated TLS version (getProtocol); smtp-server's tlsOptions.version is the cipher's minimum. */
  tlsProtocol?: string;
  /** Envelope sender of the current transaction after the identity's rewrite. */
  mailFrom?: string;
  readonly ip: string;
}
