// infra/ room: pure DNS logic for an ACS Email custom domain — turning the domain's verification
// records into a table and into zone-relative Azure DNS record sets, merging the domain-level TXT
// with whatever TXT values the zone already publishes (SPF especially) without clobbering them, and
// which records must be Verified before the domain is linked (acs-link.ts). No Pulumi, no I/O.

export const VERIFICATION_KINDS = ['Domain', 'SPF', 'DKIM', 'DKIM2', 'DMARC'] as const;
export type VerificationKind = (typeof VERIFICATION_KINDS)[number];

export interface DnsRecord {
  readonly name: string;
  readonly type: string;
  readonly value: string;
  readonly ttl: number;
}

/** Shape of Domain.verificationRecords (note the SDK's casing: sPF, dKIM, dKIM2, dMARC). */
export interface VerificationRecordsOutput {
  readonly domain?: DnsRecord;
  readonly sPF?: DnsRecord;
  readonly dKIM?: DnsRecord;
  readonly dKIM2?: DnsRecord;
  readonly dMARC?: DnsRecord;
}

export interface VerificationStatesOutput {
  readonly domain?: { readonly status: string };
  readonly sPF?: { readonly status: string };
  readonly dKIM?: { readonly status: string };
  readonly dKIM2?: { readonly status: string };
  readonly dMARC?: { readonly status: string };
}

const KEY_OF: Record<VerificationKind, keyof VerificationRecordsOutput> = {
  Domain: 'domain',
  SPF: 'sPF',
  DKIM: 'dKIM',
  DKIM2: 'dKIM2',
  DMARC: 'dMARC',
};

export interface VerificationRow {
  readonly kind: VerificationKind;
  readonly type: string;
  /** Fully qualified record name. */
  readonly fqdn: string;
  /** Name relative to the DNS zone ("@" at the apex), when a zone is known. */
  readonly zoneRelativeName?: string;
  readonly value: string;
  readonly ttl: number;
}

/** ACS gives the Domain/SPF names as the FQDN and DKIM names relative to the sending domain. */
export function absoluteName(recordName: string, domain: string): string {
  const n = recordName.replace(/\.$/, '').toLowerCase();
  const d = domain.toLowerCase();
  if (n === '' || n === '@' || n === d) return d;
  if (n.endsWith(`.${d}`)) return n;
  return `${n}.${d}`;
}

/** "@" for the apex, else the labels in front of the zone; throws when the name is outside it. */
export function zoneRelativeName(fqdn: string, zone: string): string {
  const n = fqdn.replace(/\.$/, '').toLowerCase();
  const z = zone.replace(/\.$/, '').toLowerCase();
  if (n === z) return '@';
  if (!n.endsWith(`.${z}`)) throw new Error(`${n} is not inside the DNS zone ${z}`);
  return n.slice(0, -(z.length + 1));
}

/** The verification records as rows (own DMARC record added when ACS returns none and one is wanted). */
export function verificationRows(
  records: VerificationRecordsOutput | undefined,
  domain: string,
  zone?: string,
  dmarcPolicy?: string,
): VerificationRow[] {
  const rows: VerificationRow[] = [];
  for (const kind of VERIFICATION_KINDS) {
    let rec = records?.[KEY_OF[kind]];
    if (kind === 'DMARC' && (rec === undefined || rec.value === '') && dmarcPolicy !== undefined) {
      rec = { name: '_dmarc', type: 'TXT', value: dmarcPolicy, ttl: 3600 };
    }
    if (rec === undefined || rec.value === '') continue;
    const fqdn = absoluteName(rec.name, domain);
    rows.push({
      kind,
      type: rec.type.toUpperCase(),
      fqdn,
      ...(zone === undefined ? {} : { zoneRelativeName: zoneRelativeName(fqdn, zone) }),
      value: rec.value,
      ttl: rec.ttl,
    });
  }
  return rows;
}

/** Plain-text table for the stack output and the README's "publish these records" step. */
export function formatVerificationTable(rows: readonly VerificationRow[]): string {
  const header = ['record', 'type', 'name', 'value', 'ttl'];
  const body = rows.map((r) => [r.kind, r.type, r.zoneRelativeName ?? r.fqdn, r.value, String(r.ttl)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** Splits a TXT value into DNS character-strings of at most 255 octets. */
export function txtChunks(value: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < value.length; i += 255) out.push(value.slice(i, i + 255));
  return out.length === 0 ? [''] : out;
}

const isSpf = (v: string) => /^v=spf1(\s|$)/i.test(v.trim());

export interface TxtMerge {
  /** The values the record set should hold (existing first, order kept). */
  readonly values: string[];
  /** Things the operator must know or do by hand. */
  readonly notes: string[];
}

/**
 * Merges the TXT values ACS wants at the domain name into those already published there. Non-SPF
 * values are kept and the ACS ones appended. A domain has one SPF record, so an existing SPF record
 * gets the ACS include mechanisms added and keeps its own qualifiers and `all` term: changing
 * "~all" to "-all" would affect every other sender of the domain, so that is reported, not done.
 */
export function mergeTxtValues(existing: readonly string[], wanted: readonly string[]): TxtMerge {
  const notes: string[] = [];
  const values = existing.map((v) => v.trim());
  const existingSpfIdx = values.findIndex(isSpf);
  if (values.filter(isSpf).length > 1) {
    notes.push('more than one SPF record is published at this name (SPF permerror): fix that first');
  }
  for (const w of wanted.map((v) => v.trim())) {
    if (values.includes(w)) continue;
    if (isSpf(w) && existingSpfIdx !== -1) {
      const current = values[existingSpfIdx] ?? '';
      const have = current.split(/\s+/);
      const add = w
        .split(/\s+/)
        .slice(1)
        .filter((t) => /^[+?~-]?(include|a|mx|ip4|ip6|exists):/i.test(t) && !have.includes(t));
      if (add.length > 0) {
        const allIdx = have.findIndex((t) => /^[+?~-]?all$/i.test(t));
        const merged =
          allIdx === -1 ? [...have, ...add] : [...have.slice(0, allIdx), ...add, ...have.slice(allIdx)];
        values[existingSpfIdx] = merged.join(' ');
      }
      const all = (values[existingSpfIdx] ?? '').split(/\s+/).find((t) => /^[+?~-]?all$/i.test(t));
      if (all !== '-all') {
        notes.push(
          `the SPF record ends with "${all ?? '(no all term)'}"; ACS verifies SPF only with "-all" — ` +
            'change it yourself once every sender of the domain is covered',
        );
      }
      continue;
    }
    values.push(w);
  }
  return { values, notes };
}

/** What to do with the TXT record set at the domain name, per config dnsApexTxt. */
export interface DomainTxtPlan {
  /** Manage the record set in this stack. */
  readonly manage: boolean;
  /** Bring the existing record set under management (Pulumi import; refuses if values differ). */
  readonly importExisting: boolean;
  readonly values: string[];
  readonly notes: string[];
}

export function domainTxtPlan(
  mode: 'manual' | 'create' | 'adopt' | 'merge',
  existing: readonly string[],
  wanted: readonly string[],
): DomainTxtPlan {
  switch (mode) {
    case 'manual': {
      const m = mergeTxtValues(existing, wanted);
      return {
        manage: false,
        importExisting: false,
        values: m.values,
        notes: [
          'the TXT record set at the domain is not managed here: publish these values yourself',
          ...m.notes,
        ],
      };
    }
    case 'create':
      return { manage: true, importExisting: false, values: [...wanted], notes: [] };
    case 'adopt':
      return {
        manage: true,
        importExisting: true,
        values: existing.map((v) => v.trim()),
        notes: [
          'existing TXT record set adopted unchanged; set dnsApexTxt to merge and run again to add the ACS values',
        ],
      };
    case 'merge': {
      const m = mergeTxtValues(existing, wanted);
      return { manage: true, importExisting: true, values: m.values, notes: m.notes };
    }
  }
}

/** Verification kinds that must be Verified before the domain is linked (and mail leaves signed). */
export const REQUIRED_FOR_LINK: readonly VerificationKind[] = ['Domain', 'SPF', 'DKIM', 'DKIM2'];
