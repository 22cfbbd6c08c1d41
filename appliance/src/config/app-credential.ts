// An Entra app (tenant + client + a named credential) as config: the fields of AppCredentialConfig in
// auth/token-source.ts. Shared by routes that fetch client-credentials tokens (ACS Entra auth, SMTP
// XOAUTH2); secrets are credential names, never values.
import { z } from 'zod';
import { name } from './fields.ts';

const guidOrDomain = z
  .string()
  .regex(
    /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[a-z0-9-]+(\.[a-z0-9-]+)+)$/i,
    'must be a tenant GUID or a domain such as contoso.onmicrosoft.com',
  );

export const appCredential = z
  .strictObject({
    tenantId: guidOrDomain,
    clientId: z.guid({ error: 'must be the app (client) id, a GUID' }),
    /** Name of a credential holding the client secret. */
    clientSecret: name.optional(),
    /** Name of a credential holding a PEM certificate + private key. */
    clientCertificate: name.optional(),
    /** Authority host for national clouds, e.g. https://login.microsoftonline.us. */
    authorityHost: z.url().optional(),
  })
  .refine(
    (a) => (a.clientSecret === undefined) !== (a.clientCertificate === undefined),
    'give exactly one of clientSecret or clientCertificate',
  );

export type AppCredential = z.infer<typeof appCredential>;
