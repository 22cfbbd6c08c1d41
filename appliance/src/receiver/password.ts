// SMTP AUTH passwords are stored only as scrypt hashes (node:crypto): "scrypt$N$r$p$salt$hash" with
// base64 salt and hash. Verification is constant-time. Cost N=2^15 keeps a guess at ~50 ms of CPU.
import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';

const DEFAULTS = { N: 2 ** 15, r: 8, p: 1, keyLength: 32 };

function scrypt(
  password: string,
  salt: Buffer,
  keyLength: number,
  opts: { N: number; r: number; p: number },
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(password, salt, keyLength, { ...opts, maxmem: 256 * opts.N * opts.r }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

export async function hashPassword(password: string, cost: Partial<typeof DEFAULTS> = {}): Promise<string> {
  const { N, r, p, keyLength } = { ...DEFAULTS, ...cost };
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, keyLength, { N, r, p });
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export function isPasswordHash(text: string): boolean {
  return /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/.test(text);
}

export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const parts = hash.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (!Number.isInteger(N) || N < 2 || N > 2 ** 20 || !Number.isInteger(r) || !Number.isInteger(p))
    return false;
  const salt = Buffer.from(parts[4] as string, 'base64');
  const expected = Buffer.from(parts[5] as string, 'base64');
  const key = await scrypt(password, salt, expected.length, { N, r, p });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A fixed hash to verify against when the user does not exist, so timing does not reveal names. */
export const DUMMY_HASH =
  'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
