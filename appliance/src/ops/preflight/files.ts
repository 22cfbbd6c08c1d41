// Preflight, files: each file the config names exists, is readable and parses as what its key says
// (PEM certificate chain, private key, both in one file, CA bundle), and a certificate matches its
// key. Also the SMTP AUTH password hashes. Reads files; never writes.
import { createPrivateKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type FileReference, fileReferences } from '../../config/references.ts';
import type { Config } from '../../config/schema.ts';
import { pemCertificates, pemPrivateKeyBlock } from '../../pem.ts';
import { isPasswordHash } from '../../receiver/password.ts';
import type { PreflightIssue } from './issue.ts';

export async function readText(path: string): Promise<{ text: string } | { problem: string }> {
  try {
    return { text: await readFile(path, 'utf8') };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { problem: `${path} does not exist` };
    if (code === 'EACCES' || code === 'EPERM') return { problem: `${path} is not readable by this user` };
    if (code === 'EISDIR') return { problem: `${path} is a directory, not a file` };
    return { problem: `${path} cannot be read (${code ?? (err as Error).message})` };
  }
}

export interface PemParts {
  readonly certificates: X509Certificate[];
  readonly key?: KeyObject;
  readonly problems: string[];
}

/** The certificates and private key in one PEM text, with a sentence per part that did not parse. */
export function parsePem(text: string, want: { cert: boolean; key: boolean }): PemParts {
  const problems: string[] = [];
  const blocks = text.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
  const certificates = pemCertificates(text);
  if (want.cert && blocks === 0) problems.push('holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
  else if (certificates.length < blocks)
    problems.push(`${blocks - certificates.length} certificate block(s) do not parse`);
  let key: KeyObject | undefined;
  if (want.key) {
    const block = pemPrivateKeyBlock(text)?.text;
    if (block === undefined) problems.push('holds no PEM private key (-----BEGIN PRIVATE KEY-----)');
    else if (/ENCRYPTED/.test(block))
      problems.push('the private key is encrypted; give it without a passphrase');
    else {
      try {
        key = createPrivateKey(block);
      } catch (err) {
        problems.push(`the private key does not parse (${(err as Error).message})`);
      }
    }
  }
  return { certificates, ...(key === undefined ? {} : { key }), problems };
}

/** Whether the leaf certificate belongs to the key; a sentence when it does not. */
export function pairProblem(
  cert: X509Certificate | undefined,
  key: KeyObject | undefined,
): string | undefined {
  if (cert === undefined || key === undefined) return undefined;
  return cert.checkPrivateKey(key)
    ? undefined
    : `the certificate (${cert.subject.replace(/\n/g, ', ')}) does not match the private key`;
}

async function checkFile(ref: FileReference): Promise<{ issues: PreflightIssue[]; parts?: PemParts }> {
  const read = await readText(ref.path);
  if ('problem' in read) return { issues: [{ key: ref.key, message: read.problem }] };
  const want = {
    cert: ref.kind !== 'privateKey',
    key: ref.kind === 'privateKey' || ref.kind === 'certificateAndKey',
  };
  const parts = parsePem(read.text, want);
  const issues = parts.problems.map((p) => ({ key: ref.key, message: `${ref.path} ${p}` }));
  if (ref.kind === 'certificateAndKey') {
    const mismatch = pairProblem(parts.certificates[0], parts.key);
    if (mismatch) issues.push({ key: ref.key, message: `${ref.path}: ${mismatch}` });
  }
  return { issues, parts };
}

export async function fileIssues(config: Config): Promise<PreflightIssue[]> {
  const refs = fileReferences(config);
  const issues: PreflightIssue[] = [];
  const parsed = new Map<string, PemParts>();
  for (const ref of refs) {
    const r = await checkFile(ref);
    issues.push(...r.issues);
    if (r.parts && r.issues.length === 0) parsed.set(ref.key, r.parts);
  }
  for (const ref of refs) {
    if (ref.pairedWith === undefined) continue;
    const mismatch = pairProblem(parsed.get(ref.key)?.certificates[0], parsed.get(ref.pairedWith)?.key);
    if (mismatch) issues.push({ key: ref.key, message: `${mismatch} in ${ref.pairedWith}` });
  }
  const hash = (key: string, h: string) => {
    if (!isPasswordHash(h)) {
      issues.push({
        key,
        message:
          'is not a complete scrypt hash (scrypt$N$r$p$salt$hash); make one with `relaykit-appliance hash-password`',
      });
    }
  };
  config.identities.forEach((id, i) => {
    id.users.forEach((u, j) => {
      hash(`identities[${i}].users[${j}].passwordHash`, u.passwordHash);
    });
  });
  config.admin.users.forEach((u, j) => {
    hash(`admin.users[${j}].passwordHash`, u.passwordHash);
  });
  return issues;
}
