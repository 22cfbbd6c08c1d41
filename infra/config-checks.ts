// infra/ room: the collision checks of the stack config — values that are each well-formed but would
// collide with something once resources exist (ACS's own DoNotReply sender, two senders mapping to
// one resource, a mailbox outside the client's domains, a domain another ACS Email service already
// claims, an SMTP username on a domain the Communication Service does not link). They run inside
// parseTenantConfig, so a colliding stack is refused before any resource is created. Pure.
import { ACS_RESERVED_SENDER, type ConfigKey } from './config-keys.ts';
import { domainOf } from './config-readers.ts';

type Bad = (key: ConfigKey, msg: string) => void;

/** Logical-name slug of a sender username (acs-email.ts names the SenderUsername resource with it). */
export function senderSlug(username: string): string {
  return username.toLowerCase().replace(/[^a-z0-9-]/g, '-');
}

/** Sender usernames: not ACS's reserved DoNotReply, no two equal ignoring case or mapping to one slug. */
export function checkSenderUsernames(usernames: readonly string[], bad: Bad): void {
  const seen = new Map<string, string>();
  for (const u of usernames) {
    if (u.toLowerCase() === ACS_RESERVED_SENDER) {
      bad(
        'acsSenderUsernames',
        `"${u}" is the DoNotReply sender ACS creates on every domain itself; remove it (the stack sends as DoNotReply without managing it when the list is empty)`,
      );
      continue;
    }
    const slug = senderSlug(u);
    const other = seen.get(slug);
    if (other !== undefined) {
      bad(
        'acsSenderUsernames',
        `"${u}" collides with "${other}" (sender names are compared ignoring case and punctuation)`,
      );
    } else seen.set(slug, u);
  }
}

/** Every address the stack sends as or administers must be in one of the tenant's accepted domains. */
export function checkTenantDomains(
  tenantDomains: readonly string[],
  addresses: ReadonlyArray<readonly [ConfigKey, string | undefined]>,
  bad: Bad,
): void {
  if (tenantDomains.length === 0) return;
  const domains = new Set(tenantDomains.map((d) => d.toLowerCase()));
  for (const [key, address] of addresses) {
    if (address === undefined || domains.has(domainOf(address))) continue;
    bad(key, `"${address}" is outside the tenant's domains (tenantDomains: ${[...domains].join(', ')})`);
  }
}

/**
 * An `ms-domain-verification=` value already published at the sending domain means another ACS
 * Email service has claimed it; this stack's domain would get a second claim and the two services
 * would fight over the link. The operator settles that first.
 */
export function checkDomainClaims(
  acsDomain: string | undefined,
  existingApexTxt: readonly string[],
  bad: Bad,
): void {
  const claim = existingApexTxt.find((v) => /^ms-domain-verification=/i.test(v.trim()));
  if (acsDomain === undefined || claim === undefined) return;
  bad(
    'dnsExistingApexTxt',
    `lists "${claim.trim()}": ${acsDomain} is already claimed by another ACS Email service; remove that domain there (and its TXT value) or choose another acsDomain`,
  );
}

/**
 * ACS SMTP usernames are free-form or an e-mail address; an address must be on a domain the
 * Communication Service links (learn: ACS smtp-authentication). The stack links only acsDomain, and
 * only in phase 2.
 */
export function checkSmtpUsername(
  smtpUsername: string | undefined,
  acs: { domain?: string; azureManaged: boolean; linkDomain: boolean },
  bad: Bad,
): void {
  if (smtpUsername === undefined) return;
  if (!smtpUsername.includes('@')) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(smtpUsername)) {
      bad(
        'acsSmtpUsername',
        `"${smtpUsername}" must be an e-mail address on acsDomain or 1-64 letters, digits, ".", "_" or "-"`,
      );
    }
    return;
  }
  if (acs.azureManaged || acs.domain === undefined) {
    bad(
      'acsSmtpUsername',
      'an e-mail address needs a customer-managed acsDomain (the Azure-managed domain name is not known in advance); use a free-form name',
    );
    return;
  }
  if (domainOf(smtpUsername) !== acs.domain) {
    bad(
      'acsSmtpUsername',
      `"${smtpUsername}" is not on acsDomain ${acs.domain}, the only domain this stack links`,
    );
    return;
  }
  if (!acs.linkDomain) {
    bad(
      'acsSmtpUsername',
      'an e-mail address works only once its domain is linked: set it in phase 2 (acsLinkDomain true) or use a free-form name',
    );
  }
}
