// Whether the VM's first boot has edge-pair work to do (ha-setup.ts): the installed config has
// `ha:`, or a keepalived.conf is there to remove. Decided with the YAML parser first boot loads
// anyway, so a single VM boots without loading ha-setup.ts and the config schema behind it.
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

export const KEEPALIVED_CONF = '/etc/keepalived/keepalived.conf';

export function haWanted(configText: string, confExists: boolean): boolean {
  const doc = parseYaml(configText) as unknown;
  return confExists || (typeof doc === 'object' && doc !== null && 'ha' in doc);
}

/** haWanted for the installed files; a config that cannot be read is the relay's problem, not ours. */
export function haWantedOnDisk(configPath: string, confPath = KEEPALIVED_CONF): boolean {
  let text = '';
  try {
    text = readFileSync(configPath, 'utf8');
  } catch {
    return existsSync(confPath);
  }
  try {
    return haWanted(text, existsSync(confPath));
  } catch {
    // Not YAML: ha-setup reports it (the config schema names the problem) and keeps keepalived off.
    return true;
  }
}
