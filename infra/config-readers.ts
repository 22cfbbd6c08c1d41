// infra/ room: typed readers over the raw stack config strings. Each reader applies its default,
// and on a bad value records one problem naming the key (`relaykit:<key>: …`) instead of throwing,
// so parseTenantConfig can report every bad key at once. Pure.
import { isIP } from 'node:net';
import { CONFIG_NAMESPACE, type ConfigKey, type RawConfig } from './config-keys.ts';

export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const EMAIL = /^[^\s@'"<>]+@[a-z0-9-]+(\.[a-z0-9-]+)+$/i;
export const FQDN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
export const SITE = /^[a-z0-9][a-z0-9-]{0,30}$/;
const DAY_DATE = /^\d{4}-\d{2}-\d{2}$/;

export interface ConfigReaders {
  readonly problems: string[];
  bad(key: ConfigKey, msg: string): void;
  str(key: ConfigKey): string | undefined;
  required(key: ConfigKey, hint: string): string;
  oneOf<T extends string>(key: ConfigKey, allowed: readonly T[], dflt: T): T;
  bool(key: ConfigKey, dflt: boolean): boolean;
  int(key: ConfigKey, dflt: number, min: number, max: number): number;
  list(key: ConfigKey): string[];
  /** A calendar day, YYYY-MM-DD (UTC). */
  day(key: ConfigKey): string | undefined;
  each(key: ConfigKey, items: readonly string[], ok: (s: string) => boolean, what: string): void;
}

export function configReaders(raw: RawConfig): ConfigReaders {
  const problems: string[] = [];
  const bad = (key: ConfigKey, msg: string) => problems.push(`${CONFIG_NAMESPACE}:${key}: ${msg}`);
  const str = (key: ConfigKey): string | undefined => {
    const v = raw[key];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  return {
    problems,
    bad,
    str,
    required(key, hint) {
      const v = str(key);
      if (v === undefined)
        bad(key, `is required (${hint}); set it with \`pulumi config set ${key} <value>\``);
      return v ?? '';
    },
    oneOf(key, allowed, dflt) {
      const v = str(key);
      if (v === undefined) return dflt;
      if (!(allowed as readonly string[]).includes(v)) {
        bad(key, `must be one of ${allowed.join(', ')} (got "${v}")`);
        return dflt;
      }
      return v as typeof dflt;
    },
    bool(key, dflt) {
      const v = str(key);
      if (v === undefined) return dflt;
      if (v === 'true') return true;
      if (v === 'false') return false;
      bad(key, `must be true or false (got "${v}")`);
      return dflt;
    },
    int(key, dflt, min, max) {
      const v = str(key);
      if (v === undefined) return dflt;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        bad(key, `must be a whole number from ${min} to ${max} (got "${v}")`);
        return dflt;
      }
      return n;
    },
    list(key) {
      const v = str(key);
      if (v === undefined) return [];
      let parsed: unknown;
      try {
        parsed = JSON.parse(v);
      } catch {
        bad(key, 'must be a list of strings (YAML list in the stack file, or JSON text)');
        return [];
      }
      if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) {
        bad(key, 'must be a list of strings');
        return [];
      }
      return parsed.map((s) => s.trim());
    },
    day(key) {
      const v = str(key);
      if (v === undefined) return undefined;
      const t = Date.parse(`${v}T00:00:00Z`);
      if (!DAY_DATE.test(v) || Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== v) {
        bad(key, `must be a date written YYYY-MM-DD (got "${v}")`);
        return undefined;
      }
      return v;
    },
    each(key, items, ok, what) {
      for (const item of items) if (!ok(item)) bad(key, `"${item}" is not ${what}`);
    },
  };
}

export function isCidr(s: string): boolean {
  const [addr, bits, extra] = s.split('/');
  if (extra !== undefined || addr === undefined) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/** Exchange connectors and Key Vault IP rules take IPv4 only; connectors accept /24 to /32. */
export function isIpv4OrCidr(s: string): boolean {
  const [addr, bits, extra] = s.split('/');
  if (extra !== undefined || addr === undefined || isIP(addr) !== 4) return false;
  return bits === undefined || (/^\d{2}$/.test(bits) && Number(bits) >= 24 && Number(bits) <= 32);
}

/** The domain part of an address, lower-case. */
export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}
