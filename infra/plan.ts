// infra/ room: `npm run plan [Pulumi.<stack>.yaml]` — runs the real program (deployTenant, the same
// function index.ts calls) under Pulumi mocks, with no cloud account and no Pulumi CLI. Prints the
// resource tree and writes the rendered Exchange scripts, the verification table and the appliance
// bundles under var/plan/. The mock cloud (mock-cloud.ts) fills in IDs; the bundle's certificate and
// the ACS verification values are placeholders and are labelled so, so nothing written here can
// reach a real tenant or be published in a real zone.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { parse } from 'yaml';
import { CONFIG_NAMESPACE, SECRET_KEYS } from './config-keys.ts';
import { installMockCloud, MockCloud, outputValue, resourceTree, settle } from './mock-cloud.ts';
import { outputFiles, writeOutputFiles } from './output-files.ts';

/** Stack file config → the flat `relaykit:key` → string map Pulumi hands a program. */
export function stackFileConfig(text: string, file: string): Record<string, string> {
  const doc = parse(text) as { config?: Record<string, unknown> } | null;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc?.config ?? {})) {
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && 'secure' in value) {
      throw new Error(`${file}: ${key} is encrypted; npm run plan only reads plain example values`);
    }
    out[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return out;
}

/** Heads every verification table `npm run plan` prints or writes: its values are the mock cloud's. */
export const PLACEHOLDER_NOTE =
  'PLACEHOLDER values from the mock cloud of npm run plan — do not publish them; the real records come from ACS after pulumi up (pulumi stack output acsVerificationTable)';

export function stackNameOf(file: string): string {
  const m = /^Pulumi\.(.+)\.ya?ml$/.exec(basename(file));
  return m?.[1] ?? 'plan';
}

async function main(): Promise<void> {
  const file = process.argv[2] ?? 'Pulumi.example.yaml';
  const outDir = process.argv[3] ?? join('var', 'plan');
  const flat = stackFileConfig(readFileSync(file, 'utf8'), file);
  const cloud = new MockCloud({
    subscriptionId: flat[`${CONFIG_NAMESPACE}:subscriptionId`] ?? '00000000-0000-0000-0000-000000000000',
    tenantId: flat[`${CONFIG_NAMESPACE}:tenantId`] ?? '00000000-0000-0000-0000-000000000000',
  });
  await installMockCloud(cloud, CONFIG_NAMESPACE, stackNameOf(file));
  pulumi.runtime.setAllConfig(
    flat,
    SECRET_KEYS.map((k) => `${CONFIG_NAMESPACE}:${k}`),
  );
  // Imported only now: the program must see the mocks and the config.
  const { loadTenantConfig } = await import('./config.ts');
  const { deployTenant } = await import('./customer-tenant.ts');
  const { config, hvePassword } = loadTenantConfig();
  const out = deployTenant({
    config,
    ...(hvePassword === undefined ? {} : { hvePassword }),
    now: new Date(),
  });

  const [scripts, bundles, mockTable, linkStatus, notes, expiry, providers] = await Promise.all([
    outputValue(out.exchangeScripts),
    outputValue(out.bundles),
    outputValue(out.acsVerificationTable),
    outputValue(out.acsLinkStatus),
    outputValue(out.dnsNotes),
    outputValue(out.credentialExpiry),
    outputValue(out.resourceProviders),
  ]);
  const table = `${PLACEHOLDER_NOTE}\n${mockTable}`;
  await settle(pulumi.runtime);

  rmSync(outDir, { recursive: true, force: true });
  writeOutputFiles(outDir, outputFiles({ exchangeScripts: scripts, bundles, acsVerificationTable: table }));
  const sites = Object.keys(bundles);
  const tree = resourceTree(cloud.resources);
  writeFileSync(join(outDir, 'resources.txt'), `${tree}\n`);

  const custom = cloud.resources.filter((r) => r.custom).length;
  console.log(`relaykit plan for stack "${config.stack}" (${config.customerName}) — mocks, no cloud calls\n`);
  console.log(tree);
  console.log(
    `\n${cloud.resources.length} registrations (${custom} resources, ${cloud.resources.length - custom} components)`,
  );
  console.log(`\nresource providers registered first: ${providers.join(', ')}`);
  for (const [credential, slots] of Object.entries(expiry)) {
    for (const s of slots) {
      const until = s.retiresAfter === undefined ? '' : `, removed after ${s.retiresAfter}`;
      console.log(`credential ${credential} ${s.id} (${s.state}): expires ${s.expires}${until}`);
    }
  }
  console.log(`\nACS domain link: ${linkStatus}`);
  console.log(`ACS verification records:\n${table}`);
  for (const n of notes) console.log(`DNS note: ${n}`);
  console.log(`\nwrote ${outDir}/exchange/{${Object.keys(scripts).join(',')}}`);
  console.log(
    `wrote ${outDir}/bundles/{${sites.map((s) => `${s}.json`).join(',')}} and ${outDir}/bundle.json (${sites[0]})`,
  );
  await pulumi.runtime.disconnect();
}

if (import.meta.main) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
