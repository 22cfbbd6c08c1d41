// fleet/ room: the exact next steps after `tenant add` — which Exchange script runs, by whom, in which
// tenant; which DNS records go to an outside host; which image each site flashes with which bundle.
// Pure text from the client entry and the stack outputs.
import type { Client } from './client-file.ts';

function names(value: unknown): string[] {
  return value !== null && typeof value === 'object' ? Object.keys(value).sort() : [];
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

export function nextSteps(c: Client, dir: string, outputs: Record<string, unknown>): string[] {
  const lines = [`Next steps for ${c.name} (files in ${dir}):`];
  let n = 0;
  const step = (text: string) => lines.push(`${++n}. ${text}`);
  for (const script of names(outputs.exchangeScripts)) {
    step(
      `Exchange Administrator of tenant ${c.tenantId} runs ${dir}/exchange/${script} in PowerShell ` +
        `(Connect-ExchangeOnline -Organization ${c.domains[0]} first).`,
    );
  }
  if (c.routes.includes('acs')) {
    step(
      `At the DNS host of ${c.acsDomain ?? c.domains[0]} (outside Azure unless dnsZoneName is set), add the records in ` +
        `${dir}/acs-verification-records.txt; then \`pulumi config set acsRecordsPublished true\` on stack ${c.name} ` +
        `and \`relaykit tenant status ${c.name}\` until every record reads Verified.`,
    );
    for (const note of strings(outputs.dnsNotes)) lines.push(`   ${note}`);
  }
  for (const s of c.sites) {
    step(
      `Site ${s.name}: flash the relaykit appliance image (README "Appliance images": VM disk or OCI image) with ` +
        `${dir}/bundles/${s.name}.json as relaykit-bundle.json (on the cidata volume, or mounted at ` +
        `/etc/relaykit/relaykit-bundle.json); it holds a private key.`,
    );
  }
  step(
    `Check the fleet: relaykit fleet status (set the sites' statusUrl in the client file to see their health).`,
  );
  return lines;
}
