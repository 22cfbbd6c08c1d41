// fleet/ room: the MSP's client file (YAML) — one entry per client tenant with its IDs, domains, the
// mailboxes the relay may send as, its sites and their device networks, the routes wanted — read and
// checked before any stack is created or changed. Every problem is one line naming its key.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseCidr } from '../../appliance/src/config/networks.ts';
import { ROUTE_KINDS } from '../../infra/config-keys.ts';
import { CUSTOMER_CODE } from '../../infra/naming.ts';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const SITE = /^[a-z0-9][a-z0-9-]{0,30}$/;
const MAILBOX = /^[^@\s]+@([^@\s]+)$/;

const site = z.strictObject({
  name: z.string().regex(SITE, 'lower-case letters, digits and dashes'),
  publicIp: z.string().optional(),
  deviceNetworks: z.array(z.string()).min(1, 'at least one network'),
  /** The site appliance's read-only status endpoint (https://host:port/status), for fleet status. */
  statusUrl: z.url().optional(),
});

export const clientSchema = z.strictObject({
  name: z.string().regex(CUSTOMER_CODE, '2-12 lower-case letters/digits, starting with a letter'),
  displayName: z.string().min(1).optional(),
  tenantId: z.string().regex(GUID, 'a GUID (the Entra tenant ID)'),
  subscription: z.string().regex(GUID, 'a GUID (the Azure subscription ID)'),
  domains: z.array(z.string().regex(DOMAIN, 'a DNS domain name')).min(1, 'at least one domain'),
  mailboxes: z.array(z.string().regex(MAILBOX, 'an e-mail address')).default([]),
  sites: z.array(site).min(1, 'at least one site'),
  /** Routes the sites need; the first is the default route. */
  routes: z.array(z.enum(ROUTE_KINDS)).min(1).default(['graph']),
  acsDomain: z.string().regex(DOMAIN, 'a DNS domain name').optional(),
  hveAccount: z.string().regex(MAILBOX, 'an e-mail address').optional(),
  /** Name of the environment variable holding the HVE password (never the password itself). */
  hvePasswordEnv: z
    .string()
    .regex(/^[A-Z_][A-Z0-9_]*$/)
    .optional(),
  location: z.string().min(1).optional(),
});
export type Client = z.infer<typeof clientSchema>;

export const clientFileSchema = z.strictObject({ clients: z.array(z.unknown()).min(1) });

/** `clients[0].sites[1].name` from a prefix and a zod issue path. */
function keyPath(prefix: string, path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (at, p) => (typeof p === 'number' ? `${at}[${p}]` : at === '' ? String(p) : `${at}.${String(p)}`),
    prefix,
  );
}

function zodProblems(err: z.ZodError, prefix: string): string[] {
  return err.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys')
      return issue.keys.map((k) => `${keyPath(prefix, [...issue.path, k])}: unknown key`);
    return [`${keyPath(prefix, issue.path) || '(file)'}: ${issue.message}`];
  });
}

function domainOf(address: string): string {
  return (MAILBOX.exec(address)?.[1] ?? '').toLowerCase();
}

/** Problems only the whole client shows: mailboxes outside its domains, overlapping site networks. */
function clientProblems(c: Client, at: string): string[] {
  const problems: string[] = [];
  const domains = new Set(c.domains.map((d) => d.toLowerCase()));
  const inDomains = (addr: string) => {
    const d = domainOf(addr);
    return [...domains].some((own) => d === own || d.endsWith(`.${own}`));
  };
  c.mailboxes.forEach((m, i) => {
    if (!inDomains(m))
      problems.push(`${at}.mailboxes[${i}]: ${m} is outside the client's domains (${c.domains.join(', ')})`);
  });
  if (c.hveAccount !== undefined && !inDomains(c.hveAccount))
    problems.push(`${at}.hveAccount: ${c.hveAccount} is outside the client's domains`);
  if (c.routes.includes('hve') && c.hveAccount === undefined)
    problems.push(`${at}.hveAccount: required when routes include hve`);
  const seenSites = new Map<string, number>();
  const nets: { text: string; site: string; at: string; net: NonNullable<ReturnType<typeof parseCidr>> }[] =
    [];
  c.sites.forEach((s, i) => {
    if (seenSites.has(s.name)) problems.push(`${at}.sites[${i}].name: duplicate site ${s.name}`);
    seenSites.set(s.name, i);
    if (s.publicIp !== undefined && parseCidr(s.publicIp) === undefined)
      problems.push(`${at}.sites[${i}].publicIp: ${s.publicIp} is not an IP address or range`);
    s.deviceNetworks.forEach((text, j) => {
      const key = `${at}.sites[${i}].deviceNetworks[${j}]`;
      const net = parseCidr(text);
      if (net === undefined) {
        problems.push(`${key}: ${text} is not a CIDR range`);
        return;
      }
      for (const other of nets) {
        if (other.net.family === net.family && (cidrCovers(other.net, net) || cidrCovers(net, other.net)))
          problems.push(
            `${key}: ${text} (site ${s.name}) overlaps ${other.text} (site ${other.site}, ${other.at})`,
          );
      }
      nets.push({ text, site: s.name, at: key, net });
    });
  });
  return problems;
}

/** True when range a holds the first address of range b (for same-family ranges: a ⊇ b or overlap). */
function cidrCovers(
  a: NonNullable<ReturnType<typeof parseCidr>>,
  b: NonNullable<ReturnType<typeof parseCidr>>,
): boolean {
  const bits = Math.min(a.bits, b.bits);
  for (let i = 0; i < a.bytes.length; i++) {
    const take = Math.max(0, Math.min(8, bits - i * 8));
    const mask = take === 0 ? 0 : (0xff << (8 - take)) & 0xff;
    if (((a.bytes[i] ?? 0) & mask) !== ((b.bytes[i] ?? 0) & mask)) return false;
  }
  return true;
}

export class ClientFileError extends Error {
  readonly problems: readonly string[];
  constructor(source: string, problems: string[]) {
    super(
      `${source}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'ClientFileError';
    this.problems = problems;
  }
}

/** Checks parsed clients; throws ClientFileError listing every problem, else returns the clients. */
export function checkClients(raw: readonly unknown[], source: string, prefix = 'clients'): Client[] {
  const problems: string[] = [];
  const clients: Client[] = [];
  const names = new Map<string, number>();
  raw.forEach((entry, i) => {
    const at = `${prefix}[${i}]`;
    const r = clientSchema.safeParse(entry);
    if (!r.success) {
      problems.push(...zodProblems(r.error, at));
      return;
    }
    const prev = names.get(r.data.name);
    if (prev !== undefined)
      problems.push(`${at}.name: duplicate client ${r.data.name} (also ${prefix}[${prev}])`);
    else names.set(r.data.name, i);
    problems.push(...clientProblems(r.data, at));
    clients.push(r.data);
  });
  if (problems.length > 0) throw new ClientFileError(source, problems);
  return clients;
}

/** Reads and checks a client file: `clients:` a list of clients. */
export function readClientFile(path: string): Client[] {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ClientFileError(path, [`not readable YAML: ${(err as Error).message.split('\n')[0]}`]);
  }
  const top = clientFileSchema.safeParse(doc);
  if (!top.success) throw new ClientFileError(path, zodProblems(top.error, ''));
  return checkClients(top.data.clients, path);
}
