// A credential in config is never the secret itself but a reference to where it lives: a file, an
// environment variable, or a Key Vault secret. credentials/ resolves references at run time.
import { z } from 'zod';

export const credentialRef = z.union([
  z.strictObject({
    file: z.string().min(1).describe('path to a file holding the secret (trailing newline trimmed)'),
  }),
  z.strictObject({
    env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .describe('environment variable name'),
  }),
  z.strictObject({
    keyVault: z.strictObject({
      secret: z
        .string()
        .regex(/^[0-9a-zA-Z-]{1,127}$/, 'Key Vault secret names are 1-127 letters, digits and dashes'),
      version: z.string().optional(),
    }),
  }),
]);

export type CredentialRef = z.infer<typeof credentialRef>;
