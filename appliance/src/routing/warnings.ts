// Routing room: rule sets that are valid but probably not what the operator meant, one sentence
// each naming the key. Pure; `relaykit-appliance check` prints them as warnings.
import type { Config } from '../config/schema.ts';

export function routingWarnings(config: Config): string[] {
  const out: string[] = [];
  const types = new Map(config.routes.map((r) => [r.name, r.type]));
  const seen = new Map<string, number>();
  config.rules.forEach((rule, i) => {
    const where = `rules[${i}] (${rule.name})`;
    const route = rule.action.route ?? config.defaultRoute;
    const type = types.get(route);
    if (rule.action.sendAs !== undefined && rule.action.reject === undefined && type !== 'graph') {
      out.push(
        `${where}: sendAs has no effect on route "${route}" (type ${type}); only Graph routes send as a mailbox`,
      );
    }
    if (rule.action.rewriteSender !== undefined && rule.match.mailFrom?.includes('<>')) {
      out.push(
        `${where}: rewriteSender gives bounces (MAIL FROM <>) a real sender, so a failed bounce can bounce back`,
      );
    }
    const key = canonical(rule.match);
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      out.push(
        `${where}: same conditions as rules[${earlier}] (${config.rules[earlier]?.name}), which always matches first`,
      );
    } else {
      seen.set(key, i);
    }
  });
  return out;
}

/** JSON with object keys sorted at every level, so equal conditions give equal text. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
